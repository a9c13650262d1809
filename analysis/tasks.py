"""The classification tasks and how each one's model is chosen: one registry.

A task's model is named in settings (``HYPEWATCH_SENTIMENT_MODEL``,
``HYPEWATCH_COPYRIGHT_MODEL``):

- ``builtin``: the head shipped for the encoder in use: ``analysis/models/<task>/`` for
  the default multilingual encoder, ``analysis/models/minilm/<task>/`` for ``minilm``
  (trained in this project on that encoder's pass; see each ``MODEL_CARD.md``);
- a folder holding ``head.npz`` + ``card.json`` (a head you trained with ``hypewatch train``);
- ``hf:NAME_OR_PATH``: any Hugging Face sequence-classification checkpoint, e.g.
  ``hf:cardiffnlp/twitter-roberta-base-sentiment-latest``;
- ``zeroshot:NAME_OR_PATH``: zero-shot NLI over the task's labels, e.g.
  ``zeroshot:MoritzLaurer/deberta-v3-base-zeroshot-v2.0``.

Heads read the shared encoder pass (one pass per post); ``hf:`` and ``zeroshot:`` models
run their own transformer on the text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    hypotheses: dict[str, str]  # label -> zero-shot hypothesis
    description: str


TASKS: dict[str, Task] = {
    "sentiment": Task(
        "sentiment",
        ("negative", "neutral", "positive"),
        {
            "negative": "The author of this post feels negative.",
            "neutral": "The author of this post feels neutral.",
            "positive": "The author of this post feels positive.",
        },
        "negative / neutral / positive, with probabilities",
    ),
    "copyright": Task(
        "copyright",
        ("concern", "none"),
        {
            "concern": "This post discusses copyright, artists' consent or pay, or the "
            "appropriation of an artist's style.",
            "none": "This post is not about copyright, artists' rights or style appropriation.",
        },
        "concern: the post raises or argues copyright, consent, pay or style appropriation",
    ),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}") from None


class Classifier(Protocol):
    task: str
    model_id: str
    labels: list[str]
    uses_encoder: bool

    def classify(self, encoded: Any, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """(label per post, (n, len(labels)) probabilities)."""
        ...


class HeadClassifier:
    """A small head over the shared encoder's outputs (and cheap text features)."""

    uses_encoder = True

    def __init__(self, task: str, folder: Path) -> None:
        from analysis.heads import Head

        if not (folder / "head.npz").exists():
            raise ValueError(f"no trained {task} head in {folder} (expected head.npz + card.json)")
        self.head = Head.load(folder)
        if self.head.task != task:
            raise ValueError(f"{folder} holds a {self.head.task!r} head, not {task!r}")
        self.task = task
        self.model_id = self.head.model_id
        self.labels = list(self.head.labels)

    @property
    def needs_encoder_views(self) -> bool:
        """Whether the head needs pooled views beyond the stored sentence embedding."""
        from analysis.heads import TEXT_FEATURE_FNS

        return any(i not in TEXT_FEATURE_FNS and i != "embedding" for i in self.head.inputs)

    def classify(self, encoded: Any, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        return self.head.predict(encoded, texts)


class TextClassifier:
    """A Hugging Face model run on the text (its own forward pass)."""

    uses_encoder = False
    needs_encoder_views = False

    def __init__(self, task: str, backend: Any, labels: Sequence[str] | None = None) -> None:
        self.task = task
        self.backend = backend
        self.model_id = backend.model_id
        # ``labels`` renames the backend's outputs position by position (zero-shot
        # hypotheses -> task labels).
        self.labels = list(labels or backend.labels)

    def classify(self, encoded: Any, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        _, probs = self.backend.predict_proba(list(texts))
        return [self.labels[i] for i in probs.argmax(axis=1)], probs


def builtin_head_dir(task: str, encoder_name: str | None = None) -> Path:
    """The shipped head folder for ``task`` trained on the encoder named ``encoder_name``
    (the card's ``encoder.name``); the default encoder's when none matches."""
    default = MODELS_DIR / task
    if encoder_name is None:
        return default
    for folder in (default, *sorted(p / task for p in MODELS_DIR.iterdir() if p.is_dir())):
        card = folder / "card.json"
        if card.is_file() and json.loads(card.read_text()).get("encoder", {}).get("name") == (
            encoder_name
        ):
            return folder
    return default


def load_classifier(
    task: str,
    spec: str,
    *,
    device: str = "auto",
    allow_download: bool = False,
    encoder_name: str | None = None,
) -> HeadClassifier | TextClassifier:
    """The classifier for ``task`` named by ``spec`` (see the module docstring);
    ``encoder_name`` picks the builtin head trained on that encoder, and refuses, in one
    line, a head trained on another (its input width would not match, or worse, would)."""
    get_task(task)
    if spec in ("", "builtin"):
        return _matching(HeadClassifier(task, builtin_head_dir(task, encoder_name)), encoder_name)
    if spec.startswith("hf:"):
        from analysis.backends import HFClassifierBackend

        backend = HFClassifierBackend(spec[3:], device=device, allow_download=allow_download)
        unknown = set(backend.labels) - set(TASKS[task].labels)
        if unknown:
            raise ValueError(
                f"{spec} predicts {sorted(backend.labels)}, not the {task} labels "
                f"{list(TASKS[task].labels)}"
            )
        return TextClassifier(task, backend)
    if spec.startswith("zeroshot:"):
        from analysis.backends import ZeroShotNLIBackend

        t = TASKS[task]
        backend = ZeroShotNLIBackend(
            spec[9:],
            labels=[t.hypotheses[label] for label in t.labels],
            hypothesis_template="{}",
            device=device,
            allow_download=allow_download,
        )
        return TextClassifier(task, backend, labels=t.labels)
    return _matching(HeadClassifier(task, Path(spec)), encoder_name)


def _matching(classifier: HeadClassifier, encoder_name: str | None) -> HeadClassifier:
    trained_on = classifier.head.encoder_name
    if encoder_name and trained_on and trained_on != encoder_name:
        raise ValueError(
            f"the {classifier.task} head {classifier.model_id} was trained on the {trained_on} "
            f"encoder, not {encoder_name}: train one (`hypewatch train {classifier.task}`) or "
            f"set HYPEWATCH_ENCODER_MODEL to match"
        )
    return classifier
