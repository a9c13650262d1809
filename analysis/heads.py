"""Small task heads on top of the shared encoder pass (numpy-only inference).

A head lives in a folder with ``head.npz`` (weights) and ``card.json`` (labels, the feature
views it consumes, the encoder it was trained with, metrics). It is a standardization
followed by an MLP (zero hidden layers = multinomial logistic regression) and a softmax with
an optional temperature.

Feature inputs named in the card:

* encoder views (see :meth:`analysis.encoder.EncodedBatch.view`): ``embedding``,
  ``mean_l<i>``, ``mean_last<k>``, ``max``, ``cls``;
* text groups computed here from the raw text: ``vader`` (compound/pos/neg/neu, needs
  ``vaderSentiment``) and ``surface`` (emoticons, emoji, ``!``/``?``, capitals, elongation).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

HEAD_FORMAT = 1
TEXT_GROUPS = ("vader", "surface")

_POS_EMOTICON = re.compile(r"(?:[:;=8][\-o\*']?[\)\]dDpP3>}]|<3|\^_?\^|\(:|xD|XD)")
_NEG_EMOTICON = re.compile(r"(?:[:;=8][\-o\*']?[\(\[/\\|{@]|:'\(|D:|\):|</3|-_-)")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_POS_EMOJI = re.compile(
    "[\U0001f600-\U0001f60d\U0001f60e\U0001f617-\U0001f61d\U0001f642\U0001f917\U0001f929\U0001f970\U0001f973\u2764\u2665\U0001f495-\U0001f49f\U0001f44d\U0001f44f\U0001f525\U0001f389\U0001f64c\u263a\U0001f60a\U0001f923]"
)
_NEG_EMOJI = re.compile(
    "[\U0001f612-\U0001f616\U0001f61e-\U0001f62d\U0001f630-\U0001f635\U0001f641\U0001f644\U0001f620\U0001f621\U0001f92c\U0001f494\U0001f44e\u2639\U0001f922\U0001f92e]"
)
_ELONGATED = re.compile(r"(\w)\1{2,}")
_WORD = re.compile(r"[A-Za-z]{2,}")


class HasViews(Protocol):
    def view(self, name: str) -> np.ndarray: ...


@lru_cache(maxsize=1)
def _vader() -> Any:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("this head needs vaderSentiment (pip install 'hypewatch[ml]')") from exc
    return SentimentIntensityAnalyzer()


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """(n, 4) VADER compound, pos, neg, neu."""
    sia = _vader()
    rows = []
    for t in texts:
        s = sia.polarity_scores(str(t))
        rows.append((s["compound"], s["pos"], s["neg"], s["neu"]))
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 4)


def surface_features(texts: Sequence[str]) -> np.ndarray:
    """(n, 9) cheap surface cues: log1p counts of emoticons/emoji/punctuation/elongated
    words, and the share of all-caps words."""
    rows = []
    for raw in texts:
        t = str(raw)
        words = _WORD.findall(t)
        caps = sum(w.isupper() for w in words) / max(len(words), 1)
        counts = (
            len(_POS_EMOTICON.findall(t)),
            len(_NEG_EMOTICON.findall(t)),
            len(_POS_EMOJI.findall(t)),
            len(_NEG_EMOJI.findall(t)),
            len(_EMOJI.findall(t)),
            t.count("!"),
            t.count("?"),
            len(_ELONGATED.findall(t)),
        )
        rows.append([math.log1p(c) for c in counts] + [caps])
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 9)


TEXT_FEATURE_FNS = {"vader": vader_scores, "surface": surface_features}


def build_features(
    inputs: Sequence[str], encoded: HasViews | None, texts: Sequence[str] | None
) -> np.ndarray:
    """Concatenate the named inputs (encoder views and text groups) into one matrix."""
    parts = []
    for name in inputs:
        if name in TEXT_FEATURE_FNS:
            if texts is None:
                raise ValueError(f"feature group {name!r} needs the raw texts")
            parts.append(TEXT_FEATURE_FNS[name](texts))
        else:
            if encoded is None:
                raise ValueError(f"feature {name!r} needs an encoded batch")
            parts.append(np.asarray(encoded.view(name), dtype=np.float32))
    return np.concatenate(parts, axis=1).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Head:
    """Numpy MLP/logistic head. ``weights``/``biases`` per layer, ReLU between layers."""

    task: str
    labels: list[str]
    inputs: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    temperature: float = 1.0
    card: dict[str, Any] = field(default_factory=dict)

    # -- persistence ------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Head:
        """Load from a head folder (``head.npz`` + ``card.json``) or the ``.npz`` itself."""
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        npz_path = folder / "head.npz" if path.is_dir() else path
        card = json.loads((folder / "card.json").read_text())
        if int(card.get("format", 1)) > HEAD_FORMAT:
            raise ValueError(f"head format {card['format']} is newer than this code")
        with np.load(npz_path) as z:
            n = int(z["n_layers"])
            weights = [z[f"W{i}"].astype(np.float32) for i in range(n)]
            biases = [z[f"b{i}"].astype(np.float32) for i in range(n)]
            mean, scale = z["mean"].astype(np.float32), z["scale"].astype(np.float32)
        card["_sha256"] = hashlib.sha256(npz_path.read_bytes()).hexdigest()
        return cls(
            task=card["task"],
            labels=list(card["labels"]),
            inputs=list(card["inputs"]),
            mean=mean,
            scale=scale,
            weights=weights,
            biases=biases,
            temperature=float(card.get("temperature", 1.0)),
            card=card,
        )

    def save(self, folder: str | Path, card: dict[str, Any] | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "n_layers": np.asarray(len(self.weights)),
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
        }
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"W{i}"] = w.astype(np.float32)
            arrays[f"b{i}"] = b.astype(np.float32)
        np.savez_compressed(folder / "head.npz", **arrays)
        full = {k: v for k, v in {**self.card, **(card or {})}.items() if not k.startswith("_")}
        full.update(
            format=HEAD_FORMAT,
            task=self.task,
            labels=self.labels,
            inputs=self.inputs,
            temperature=self.temperature,
            hidden_layers=[int(w.shape[1]) for w in self.weights[:-1]],
        )
        (folder / "card.json").write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
        self.card = {
            **full,
            "_sha256": hashlib.sha256((folder / "head.npz").read_bytes()).hexdigest(),
        }
        return folder

    # -- identity ---------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.card.get("version", "0"))

    @property
    def model_id(self) -> str:
        sha = self.card.get("_sha256", "unsaved")[:12]
        rule = f"/t{self.threshold[1]:.2f}" if self.threshold else ""  # the decision is part
        return f"{self.task}-head/v{self.version}@{sha}{rule}"

    @property
    def encoder_sha256(self) -> str | None:
        return self.card.get("encoder", {}).get("weights_sha256")

    @property
    def encoder_name(self) -> str | None:
        """The name of the encoder whose outputs this head was trained on."""
        return self.card.get("encoder", {}).get("name")

    # -- inference --------------------------------------------------------------------
    def features(self, encoded: HasViews | None, texts: Sequence[str] | None) -> np.ndarray:
        """Build this head's input matrix from an encoded batch and the raw texts."""
        return build_features(self.inputs, encoded, texts)

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b
            if i < len(self.weights) - 1:
                x = np.maximum(x, 0.0)
        return x

    @property
    def threshold(self) -> tuple[str, float] | None:
        """``(label, t)`` when the card sets a decision threshold: a row gets ``label``
        when its probability is at least ``t`` (else its most likely other label)."""
        th = self.card.get("threshold")
        return (str(th["label"]), float(th["value"])) if th else None

    def decide(self, probs: np.ndarray) -> list[str]:
        """Labels from probabilities: argmax, or the card's threshold rule."""
        if self.threshold is None:
            return [self.labels[i] for i in probs.argmax(axis=1)]
        label, t = self.threshold
        k = self.labels.index(label)
        others = probs.copy()
        others[:, k] = -1.0
        fallback = others.argmax(axis=1)
        return [
            label if p >= t else self.labels[j] for p, j in zip(probs[:, k], fallback, strict=True)
        ]

    def predict_proba(self, features: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Return (predicted label per row, (n, n_labels) probabilities in ``self.labels``
        order)."""
        probs = softmax(self.logits(features) / self.temperature)
        return self.decide(probs), probs

    def predict(
        self, encoded: HasViews | None, texts: Sequence[str] | None
    ) -> tuple[list[str], np.ndarray]:
        """Convenience: features + predict_proba."""
        return self.predict_proba(self.features(encoded, texts))
