"""Heads (numpy inference, persistence, text features) and training, with a fake encoder."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from analysis.encoder import EncodedBatch
from analysis.heads import Head, build_features, softmax, surface_features

LABELS = ["negative", "neutral", "positive"]


@dataclass
class _Info:
    name: str = "fake"
    weights_sha256: str = "f" * 64


class FakeEncoder:
    """Deterministic stand-in for analysis.encoder.Encoder: the sentiment words of a text
    move its vectors, everything else is hashed noise. No transformer involved."""

    dim = 16
    max_seq_length = 128
    variant = "fake-fp32"
    info = _Info()
    weights_sha256 = info.weights_sha256
    model_id = "fake@ffffffffffff/fake-fp32/len128"

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> FakeEncoder:
        return self

    def _vec(self, text: str, layer: int) -> np.ndarray:
        seed = int(hashlib.sha256(f"{layer}:{text}".encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).normal(0, 0.3, self.dim)
        low = text.lower()
        v[0] += 2.0 * sum(w in low for w in ("love", "great", "good"))
        v[1] += 2.0 * sum(w in low for w in ("hate", "awful", "bad"))
        return v.astype(np.float32)

    def encode(self, texts: list[str], batch_size: int | None = None) -> EncodedBatch:
        self.calls += 1
        lm = np.stack([[self._vec(t, i) for i in range(3)] for t in texts]).astype(np.float32)
        lm = lm.reshape(len(texts), 3, self.dim)
        emb = lm[:, -1] / np.linalg.norm(lm[:, -1], axis=1, keepdims=True)
        return EncodedBatch(emb, lm, lm[:, -1] + 1, lm[:, -1] - 1, self.model_id)


def toy_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    pos = ["I love it", "great launch", "so good", "love this :)"]
    neg = ["I hate it", "awful launch", "so bad", "hate this :("]
    neu = ["it launched", "the launch is today", "new model out", "see the thread"]
    rows = []
    for i in range(n):
        k = int(rng.integers(3))
        text = [neg, neu, pos][k][int(rng.integers(4))] + f" #{i}"
        rows.append({"text": text, "label": LABELS[k]})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_head(d: int = 4, hidden: int = 0) -> Head:
    rng = np.random.default_rng(0)
    dims = [d, hidden, 3] if hidden else [d, 3]
    ws = [rng.normal(size=(a, b)).astype(np.float32) for a, b in itertools.pairwise(dims)]
    bs = [rng.normal(size=b).astype(np.float32) for b in dims[1:]]
    return Head(
        "sentiment", LABELS, ["embedding"], np.zeros(d, np.float32), np.ones(d, np.float32), ws, bs
    )


def test_softmax_rows_sum_to_one() -> None:
    p = softmax(np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)


@pytest.mark.parametrize("hidden", [0, 5])
def test_head_roundtrip_and_numpy_inference(tmp_path: Path, hidden: int) -> None:
    head = make_head(hidden=hidden)
    x = np.random.default_rng(1).normal(size=(7, 4)).astype(np.float32)
    labels, probs = head.predict_proba(x)
    head.save(tmp_path / "h", {"version": "3"})
    loaded = Head.load(tmp_path / "h")
    labels2, probs2 = loaded.predict_proba(x)
    assert labels == labels2
    np.testing.assert_allclose(probs, probs2, atol=1e-6)
    assert probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert loaded.model_id.startswith("sentiment-head/v3@")
    assert Head.load(tmp_path / "h" / "head.npz").model_id == loaded.model_id
    # manual numpy reference
    h = x
    for i, (w, b) in enumerate(zip(head.weights, head.biases, strict=True)):
        h = h @ w + b
        if i < len(head.weights) - 1:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(probs, softmax(h), atol=1e-5)


def test_temperature_keeps_argmax(tmp_path: Path) -> None:
    head = make_head()
    x = np.random.default_rng(2).normal(size=(20, 4)).astype(np.float32)
    l1, p1 = head.predict_proba(x)
    head.temperature = 3.0
    l2, p2 = head.predict_proba(x)
    assert l1 == l2
    assert p2.max(axis=1).mean() < p1.max(axis=1).mean()


def test_newer_format_is_refused(tmp_path: Path) -> None:
    make_head().save(tmp_path / "h")
    card = json.loads((tmp_path / "h" / "card.json").read_text())
    card["format"] = 99
    (tmp_path / "h" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="newer"):
        Head.load(tmp_path / "h")


def test_surface_features_see_emoticons_and_emoji() -> None:
    f = surface_features(["love it :) 😍😍", "ugh :( 😭", "plain text", "SO GOOD!!! sooooo"])
    assert f.shape == (4, 9)
    assert f[0, 0] > 0 and f[0, 2] > 0 and f[0, 4] > 0
    assert f[1, 1] > 0 and f[1, 3] > 0
    assert (f[2] == 0).all()
    assert f[3, 5] > 0 and f[3, 7] > 0 and f[3, 8] > 0


def test_build_features_order_and_errors() -> None:
    enc = FakeEncoder()
    texts = ["good", "bad :("]
    batch = enc.encode(texts)
    x = build_features(["embedding", "mean_l0", "surface"], batch, texts)
    assert x.shape == (2, 16 + 16 + 9)
    np.testing.assert_allclose(x[:, :16], batch.embeddings)
    with pytest.raises(ValueError):
        build_features(["surface"], batch, None)
    with pytest.raises(ValueError):
        build_features(["embedding"], None, texts)


def test_vader_features() -> None:
    pytest.importorskip("vaderSentiment")
    f = build_features(["vader"], None, ["I love this, great!", "I hate this, awful."])
    assert f.shape == (2, 4)
    assert f[0, 0] > 0.5 > -0.5 > f[1, 0]


@pytest.mark.slow
def test_train_head_writes_a_reproducible_head(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from analysis.training import Recipe, train_head

    train = write_jsonl(tmp_path / "train.jsonl", toy_rows(300))
    dev_rows = toy_rows(60, seed=1)
    dev_rows.append({"text": "I love it #5", "label": "positive"})  # duplicates a train row
    dev = write_jsonl(tmp_path / "dev.jsonl", dev_rows)
    enc = FakeEncoder()
    recipe = Recipe(inputs=["mean_all", "max", "surface"], C=0.1)
    kw = {"encoder": enc, "recipe": recipe, "cache_dir": tmp_path / "cache", "seed": 0}
    res = train_head("sentiment", train, dev, out_dir=tmp_path / "m1", **kw)
    assert res.dev_metrics is not None and res.dev_metrics["macro_recall"] > 0.9
    assert res.card["training_data"]["n_dropped_dev_overlap"] >= 1
    for name in ("head.npz", "card.json", "MODEL_CARD.md"):
        assert (tmp_path / "m1" / name).exists()
    card = json.loads((tmp_path / "m1" / "card.json").read_text())
    assert card["encoder"]["weights_sha256"] == "f" * 64
    assert card["labels"] == LABELS
    assert card["inputs"][:3] == ["mean_l0", "mean_l1", "mean_l2"]
    md = (tmp_path / "m1" / "MODEL_CARD.md").read_text()
    assert "macro recall" in md and "f" * 64 in md
    # same seed + same data -> identical weights; features came from the cache
    calls = enc.calls
    res2 = train_head("sentiment", train, dev, out_dir=tmp_path / "m2", **kw)
    assert enc.calls == calls
    a = np.load(tmp_path / "m1" / "head.npz")
    b = np.load(tmp_path / "m2" / "head.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    head = Head.load(tmp_path / "m1")
    texts = ["I love it", "I hate it"]
    labels, _probs = head.predict(enc.encode(texts), texts)
    assert labels == ["positive", "negative"]
    assert res2.head.temperature == head.temperature


@pytest.mark.slow
def test_train_mlp_head(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from analysis.training import Recipe, train_head

    train = write_jsonl(tmp_path / "train.jsonl", toy_rows(200))
    res = train_head(
        "sentiment",
        train,
        out_dir=tmp_path / "mlp",
        encoder=FakeEncoder(),
        recipe=Recipe(inputs=["embedding"], hidden=(8,), epochs=20, lr=1e-2, batch_size=32),
        cache_dir=tmp_path / "cache",
        extra_eval={"train": train},
    )
    head = Head.load(tmp_path / "mlp")
    assert len(head.weights) == 2 and head.weights[0].shape == (16, 8)
    assert res.dev_metrics is None
    assert res.extra_metrics["train"]["macro_recall"] > 0.6


def test_merged_mlps_give_the_mean_of_their_logits() -> None:
    from analysis.training import merge_mlps

    rng = np.random.default_rng(0)
    nets = [
        (
            [rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=(5, 3))],
            [rng.normal(size=4), rng.normal(size=5), rng.normal(size=3)],
        )
        for _ in range(3)
    ]
    x = rng.normal(size=(7, 6)).astype(np.float32)
    zero, one = np.zeros(6, np.float32), np.ones(6, np.float32)

    def logits(ws: list, bs: list) -> np.ndarray:
        return Head("t", ["a", "b", "c"], ["embedding"], zero, one, ws, bs).logits(x)

    ws, bs = merge_mlps(nets)
    assert ws[0].shape == (6, 12) and ws[1].shape == (12, 15) and ws[2].shape == (15, 3)
    expect = np.mean([logits(w, b) for w, b in nets], axis=0)
    np.testing.assert_allclose(logits(ws, bs), expect, rtol=1e-4, atol=1e-4)


def test_a_threshold_in_the_card_decides_the_binary_label() -> None:
    head = Head(
        "copyright", ["concern", "none"], ["embedding"], np.zeros(2, np.float32),
        np.ones(2, np.float32), [np.eye(2, dtype=np.float32)], [np.zeros(2, np.float32)],
    )  # fmt: skip
    probs = np.array([[0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
    assert head.decide(probs) == ["concern", "concern", "none"]
    head.card["threshold"] = {"label": "concern", "value": 0.7}
    assert head.decide(probs) == ["none", "concern", "none"]


def test_fit_threshold_maximizes_f1() -> None:
    from analysis.training import fit_threshold

    prob = np.array([0.95, 0.9, 0.85, 0.6, 0.55, 0.3, 0.2, 0.1])
    positive = np.array([True, True, True, False, False, True, False, False])
    t, f1 = fit_threshold(prob, positive, smooth=0.0)
    assert 0.6 < t <= 0.85 and f1 == pytest.approx(2 * 3 / (3 + 4))
    # smoothing prefers a broad plateau to a lone peak
    rng = np.random.default_rng(0)
    pos = rng.random(400) < 0.2
    p = np.clip(np.where(pos, 0.7, 0.3) + rng.normal(0, 0.15, 400), 0, 1)
    t2, _ = fit_threshold(p, pos)
    assert 0.35 <= t2 <= 0.65


@pytest.mark.slow
def test_train_head_on_several_files_with_languages_and_a_threshold(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from analysis.training import Recipe, _row_weights, train_head

    def binary(rows: list[dict]) -> list[dict]:
        """A binary task: "positive" vs the rest."""
        return [{**r, "label": "positive" if r["label"] == "positive" else "other"} for r in rows]

    en = write_jsonl(tmp_path / "en.jsonl", binary(toy_rows(200)))
    fr = write_jsonl(tmp_path / "fr.jsonl", [{**r, "lang": "fr"} for r in binary(toy_rows(40, 2))])
    dev = write_jsonl(
        tmp_path / "dev.jsonl",
        [{**r, "lang": "en"} for r in binary(toy_rows(30, seed=3))]
        + [{**r, "lang": "fr"} for r in binary(toy_rows(30, seed=4))],
    )
    mix = write_jsonl(tmp_path / "mix.jsonl", binary(toy_rows(80, seed=5)))
    recipe = Recipe(inputs=["embedding"], hidden=(8,), epochs=20, lr=1e-2, batch_size=32,
                    language_weight=0.5, threshold_label="positive", ensemble=2)  # fmt: skip
    res = train_head(
        "sentiment",
        [en, fr],
        dev,
        out_dir=tmp_path / "m",
        encoder=FakeEncoder(),
        recipe=recipe,
        cache_dir=tmp_path / "cache",
        threshold_dev=mix,
        labels=["other", "positive"],
    )
    card = res.card
    langs = card["training_data"]["languages"]  # (less the rows that duplicate dev rows)
    assert (
        set(langs) == {"fr", "unknown"} and sum(langs.values()) == card["training_data"]["n_used"]
    )
    assert 0.05 <= card["threshold"]["value"] <= 0.95 and card["threshold"]["label"] == "positive"
    assert res.dev_metrics is not None and set(res.dev_metrics["by_lang"]) == {"en", "fr"}
    head = Head.load(tmp_path / "m")
    assert head.threshold == ("positive", card["threshold"]["value"])
    assert head.weights[0].shape == (16, 16)  # two merged MLPs of 8
    assert "≥" in (tmp_path / "m" / "MODEL_CARD.md").read_text()
    # the 40 fr rows weigh half as much as the 200 others together
    w = _row_weights(["unknown"] * 200 + ["fr"] * 40, recipe)
    assert w[-1] * 40 == pytest.approx(0.5 * 200) and w[0] == 1.0


def test_a_head_trained_on_another_encoder_is_refused() -> None:
    from analysis.tasks import builtin_head_dir, load_classifier

    head = load_classifier("sentiment", "builtin", encoder_name="multilingual-e5-small")
    assert head.head.encoder_name == "multilingual-e5-small"
    minilm = load_classifier("sentiment", "builtin", encoder_name="all-MiniLM-L6-v2")
    assert builtin_head_dir("sentiment", "all-MiniLM-L6-v2").parent.name == "minilm"
    assert minilm.head.encoder_name == "all-MiniLM-L6-v2"
    folder = str(builtin_head_dir("copyright", "all-MiniLM-L6-v2"))
    with pytest.raises(ValueError, match="trained on the all-MiniLM-L6-v2 encoder, not x"):
        load_classifier("copyright", folder, encoder_name="x")
