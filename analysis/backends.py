"""Optional heavyweight classifiers: any HF sequence-classification checkpoint, and zero-shot
NLI. Both run their own transformer pass (they do not reuse the shared encoder pass), so they
are meant for users who accept the extra cost, e.g.
``HFClassifierBackend("cardiffnlp/twitter-roberta-base-sentiment-latest", allow_download=True)``
or ``ZeroShotNLIBackend("MoritzLaurer/deberta-v3-base-zeroshot-v2.0", labels=[...])``.

Weights are only read locally unless ``allow_download=True``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.encoder import _pick_device, resolve_model, sha256_file
from analysis.heads import softmax


def _load_seq_cls(model: str | os.PathLike[str], allow_download: bool, device: str) -> Any:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_model(model, allow_download=allow_download)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    net = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True)
    return path, tok, net.to(device).eval()


def _cap_length(model: Any, wanted: int) -> int:
    positions = int(getattr(model.config, "max_position_embeddings", wanted) or wanted)
    if getattr(model.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2
    return min(wanted, positions) if positions > 0 else wanted


def _weights_sha(path: Any) -> str:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).exists():
            return sha256_file(path / name)
    return "unknown"


def _normalize_label(label: str) -> str:
    return re.sub(r"\s+", "_", str(label).strip().lower())


class HFClassifierBackend:
    """Any Hugging Face sequence-classification checkpoint (name or local path).

    ``label_map`` renames the checkpoint's ``id2label`` names (lower-cased), e.g.
    ``{"label_0": "negative", "label_1": "neutral", "label_2": "positive"}``."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        device: str = "auto",
        allow_download: bool = False,
        label_map: dict[str, str] | None = None,
        max_length: int = 128,
    ) -> None:
        import torch

        self.torch = torch
        self.device = _pick_device(device)
        self.path, self.tokenizer, self.model = _load_seq_cls(model, allow_download, self.device)
        id2label = self.model.config.id2label
        names = [_normalize_label(id2label[i]) for i in range(len(id2label))]
        label_map = {_normalize_label(k): v for k, v in (label_map or {}).items()}
        self.labels = [label_map.get(n, n) for n in names]
        self.max_length = _cap_length(self.model, max_length)
        self.model_id = f"hf:{self.path.name}@{_weights_sha(self.path)[:12]}"

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> tuple[list[str], np.ndarray]:
        torch = self.torch
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            enc = self.tokenizer(
                [str(texts[i]) for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**enc).logits.float().cpu().numpy()
            out[rows] = softmax(logits)
        return [self.labels[i] for i in out.argmax(axis=1)], out


class ZeroShotNLIBackend:
    """Zero-shot classification with an NLI checkpoint: the entailment score of
    ``hypothesis_template.format(label)`` for each candidate label, softmaxed over labels
    (or, for ``multi_label=True``, entailment vs. contradiction per label)."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        labels: Sequence[str],
        hypothesis_template: str = "This text is {}.",
        device: str = "auto",
        allow_download: bool = False,
        multi_label: bool = False,
        max_length: int = 256,
    ) -> None:
        import torch

        if not labels:
            raise ValueError("zero-shot classification needs candidate labels")
        self.torch = torch
        self.device = _pick_device(device)
        self.path, self.tokenizer, self.model = _load_seq_cls(model, allow_download, self.device)
        self.labels = list(labels)
        self.template = hypothesis_template
        self.multi_label = multi_label
        self.max_length = _cap_length(self.model, max_length)
        names = {_normalize_label(v): int(k) for k, v in self.model.config.id2label.items()}
        entail = [i for n, i in names.items() if n.startswith("entail")]
        if not entail:
            raise ValueError(f"no entailment label in {sorted(names)}")
        self.entail_id = entail[0]
        others = [i for n, i in names.items() if n.startswith(("contradict", "not_entail"))]
        self.contra_id = others[0] if others else None
        self.model_id = f"zeroshot:{self.path.name}@{_weights_sha(self.path)[:12]}"

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 16
    ) -> tuple[list[str], np.ndarray]:
        torch = self.torch
        hyps = [self.template.format(lab) for lab in self.labels]
        pairs = [(str(t), h) for t in texts for h in hyps]
        logits = np.zeros((len(pairs), self.model.config.num_labels), dtype=np.float32)
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            enc = self.tokenizer(
                [p for p, _ in chunk],
                [h for _, h in chunk],
                padding=True,
                truncation="only_first",
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                logits[start : start + len(chunk)] = self.model(**enc).logits.float().cpu().numpy()
        logits = logits.reshape(len(texts), len(self.labels), -1)
        if self.multi_label and self.contra_id is not None:
            pair = logits[:, :, [self.contra_id, self.entail_id]]
            probs = softmax(pair.reshape(-1, 2))[:, 1].reshape(len(texts), len(self.labels))
        else:
            probs = softmax(logits[:, :, self.entail_id])
        return [self.labels[i] for i in probs.argmax(axis=1)], probs.astype(np.float32)
