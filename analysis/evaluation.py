"""Metrics for classifiers and the two rule baselines (VADER, copyright keywords).

Data files are JSON lines with at least ``{"text": ..., "label": ...}``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# -- data -------------------------------------------------------------------------------


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping blank lines."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def texts_labels(path: str | Path) -> tuple[list[str], list[str]]:
    rows = load_jsonl(path)
    return [str(r["text"]) for r in rows], [str(r["label"]) for r in rows]


# -- metrics ----------------------------------------------------------------------------


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Accuracy, macro recall/F1 and per-class precision/recall/F1/support.

    Macro averages run over ``labels`` (default: every label seen in ``y_true``)."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    if labels is None:
        labels = sorted(set(y_true))
    yt, yp = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    per_class: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = int(np.sum((yt == lab) & (yp == lab)))
        n_true, n_pred = int(np.sum(yt == lab)), int(np.sum(yp == lab))
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_true if n_true else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_class[lab] = {"precision": p, "recall": r, "f1": f1, "support": n_true}
    confusion = [[int(np.sum((yt == a) & (yp == b))) for b in labels] for a in labels]
    return {
        "n": len(yt),
        "accuracy": float(np.mean(yt == yp)) if len(yt) else 0.0,
        "macro_recall": float(np.mean([per_class[c]["recall"] for c in labels])),
        "macro_f1": float(np.mean([per_class[c]["f1"] for c in labels])),
        "per_class": per_class,
        "labels": list(labels),
        "confusion": confusion,
    }


# -- baselines --------------------------------------------------------------------------


def vader_predict(texts: Sequence[str]) -> list[str]:
    """VADER rule: compound >= 0.05 positive, <= -0.05 negative, else neutral."""
    from analysis.heads import vader_scores

    compound = vader_scores(texts)[:, 0]
    return ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compound]


COPYRIGHT_KEYWORDS = [
    # en
    r"copyright\w*",
    r"steal\w*",
    r"stole",
    r"stolen",
    r"theft",
    r"thie(?:f|ves)",
    r"lawsuits?",
    r"sue",
    r"sued",
    r"suing",
    r"consent",
    r"artists?",
    r"trained on",
    r"plagiari\w+",
    r"IP",
    r"licen[sc]\w*",
    r"miyazaki",
    # fr
    r"droits? d'auteur",
    r"vol(?:er|é|ée|és|ent)",
    r"plagiat",
    r"procès",
    r"consentement",
    r"artistes?",
    r"entraîné sur",
    r"licence",
    # es
    r"derechos? de autor",
    r"robo",
    r"rob(?:ar|ado|ada|an)",
    r"demanda",
    r"consentimiento",
    r"artistas?",
    r"entrenad[oa] con",
    r"plagio",
    r"licencia",
    # de
    r"urheberrecht\w*",
    r"diebstahl",
    r"gestohlen",
    r"klage",
    r"verklag\w*",
    r"zustimmung",
    r"einwilligung",
    r"künstler(?:in|innen)?",
    r"trainiert (?:auf|mit)",
    r"plagiat",
    r"lizenz\w*",
    # pt
    r"direitos? autora(?:l|is)",
    r"roub(?:o|ar|ado|ada)",
    r"process(?:ar|ad[oa])",
    r"consentimento",
    r"treinad[oa] com",
    r"plágio",
    r"licença",
    # it
    r"diritto d'autore",
    r"furto",
    r"rubat[oa]",
    r"causa legale",
    r"consenso",
    r"artisti",
    r"addestrat[oa] su",
    r"licenza",
    # ja
    r"著作権",
    r"盗用",
    r"盗作",
    r"盗ん",
    r"パクリ",
    r"訴訟",
    r"訴え",
    r"同意",
    r"無断",
    r"絵師",
    r"アーティスト",
    r"クリエイター",
    r"無断学習",
    r"学習させ",
    r"剽窃",
    r"ライセンス",
    r"宮崎駿",
    r"ジブリ",
]
_KW_CASED = {"IP"}  # "ip" lower-case is too ambiguous
_CJK = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
_KW_RE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(k for k in COPYRIGHT_KEYWORDS if k not in _KW_CASED and not _CJK.search(k))
    + r")(?!\w)",
    re.IGNORECASE,
)
_KW_CJK_RE = re.compile("|".join(k for k in COPYRIGHT_KEYWORDS if _CJK.search(k)))
_KW_CASED_RE = re.compile(r"\b(?:" + "|".join(_KW_CASED) + r")\b")


def keyword_hits(text: str) -> bool:
    """True when the copyright keyword rule fires."""
    return bool(_KW_RE.search(text) or _KW_CJK_RE.search(text) or _KW_CASED_RE.search(text))


def keywords_predict(
    texts: Sequence[str], positive: str = "concern", negative: str = "none"
) -> list[str]:
    """Copyright keyword baseline: ``positive`` when any keyword occurs."""
    return [positive if keyword_hits(str(t)) else negative for t in texts]


BASELINES: dict[str, Callable[[Sequence[str]], list[str]]] = {
    "vader": vader_predict,
    "keywords": keywords_predict,
}


# -- end to end -------------------------------------------------------------------------


def evaluate_predictor(
    predict: Callable[[Sequence[str]], list[str]],
    data_path: str | Path,
    model_id: str,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run ``predict`` on every text of ``data_path``; metrics + throughput."""
    texts, gold = texts_labels(data_path)
    start = time.perf_counter()
    pred = predict(texts)
    seconds = time.perf_counter() - start
    out = classification_metrics(gold, pred, labels)
    out.update(
        model_id=model_id,
        data=str(data_path),
        seconds=seconds,
        posts_per_s=len(texts) / seconds if seconds > 0 else float("inf"),
    )
    return out


def evaluate_baseline(name: str, data_path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Metrics of a rule baseline (``vader`` or ``keywords``) on a labelled file.

    For ``keywords`` pass ``positive=``/``negative=`` if the file's labels differ from
    ``concern``/``none``."""
    fn = BASELINES[name]
    labels = None
    if name == "keywords":
        labels = [kwargs.get("positive", "concern"), kwargs.get("negative", "none")]
    return evaluate_predictor(lambda t: fn(t, **kwargs), data_path, f"baseline:{name}", labels)


def evaluate_head(
    head_path: str | Path,
    data_path: str | Path,
    encoder: Any = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Metrics of a shipped head (encoder pass + head) on a labelled file.

    ``encoder`` is an :class:`analysis.encoder.Encoder` (default: a new default one).
    ``posts_per_s`` covers encoding + features + head."""
    from analysis.encoder import Encoder
    from analysis.heads import Head

    head = Head.load(head_path)
    enc = encoder or Encoder()
    enc.load()  # keep model loading / export out of the timing

    def predict(texts: Sequence[str]) -> list[str]:
        batch = enc.encode(texts, batch_size)
        return head.predict(batch, texts)[0]

    out = evaluate_predictor(predict, data_path, f"{enc.model_id}+{head.model_id}", head.labels)
    out["encoder_matches_training"] = head.encoder_sha256 in (None, enc.weights_sha256)
    return out


def format_metrics(m: dict[str, Any]) -> str:
    """A short human-readable summary."""
    lines = [
        f"{m.get('model_id', '?')}  n={m['n']}  acc={m['accuracy']:.4f}  "
        f"macro_recall={m['macro_recall']:.4f}  macro_f1={m['macro_f1']:.4f}"
        + (f"  {m['posts_per_s']:.0f} posts/s" if "posts_per_s" in m else "")
    ]
    for lab, c in m["per_class"].items():
        lines.append(
            f"  {lab:>10s}  P={c['precision']:.3f} R={c['recall']:.3f} F1={c['f1']:.3f} "
            f"n={c['support']}"
        )
    return "\n".join(lines)
