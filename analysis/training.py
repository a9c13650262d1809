"""Train a task head on the shared encoder pass (seeded, reproducible).

``train_head("sentiment", "train.jsonl", dev_path="validation.jsonl")`` encodes the texts
(features cached on disk keyed by encoder id + data hash), fits a class-balanced multinomial
logistic regression (or a small MLP) with torch, fits a softmax temperature on the dev set,
and writes ``head.npz`` + ``card.json`` + ``MODEL_CARD.md`` to ``analysis/models/<task>/``.

Training rows that duplicate a dev row (after stripping URLs, mentions, escapes and
punctuation, or sharing the first 40 normalized characters) are dropped so dev metrics are
honest; the TweetEval validation split shares ~700 tweets with the SemEval train pool.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.encoder import DEFAULT_CACHE_DIR, EncodedBatch, Encoder
from analysis.evaluation import classification_metrics, load_jsonl
from analysis.heads import TEXT_FEATURE_FNS, Head, build_features, softmax

MODELS_DIR = Path(__file__).resolve().parent / "models"

# encoder views (all from the single pass) + cheap text features
RICH_INPUTS = ["mean_all", "max", "cls", "vader", "surface"]


@dataclass
class Recipe:
    """How a head is fit. ``hidden=()`` is multinomial logistic regression (L2, ``C`` as in
    scikit-learn); otherwise an MLP trained with AdamW for ``epochs``."""

    inputs: list[str] = field(default_factory=lambda: list(RICH_INPUTS))
    hidden: tuple[int, ...] = ()
    C: float = 0.003
    class_weight: str | None = "balanced"
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    input_dropout: float = 0.1
    batch_size: int = 256
    calibrate: bool = True


RECIPES: dict[str, Recipe] = {
    "sentiment": Recipe(),
    "copyright": Recipe(inputs=["mean_all", "max", "cls"], C=0.03),
}

_DEDUP_STRIP = [r"https?://\S+", r"\\u[0-9a-fA-F]{4}", r"@\w+", r"&\w+;"]


def _dedup_key(text: str) -> str:
    for pat in _DEDUP_STRIP:
        text = re.sub(pat, "", text)
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def dev_overlap(train_texts: Sequence[str], dev_texts: Sequence[str]) -> np.ndarray:
    """Boolean mask of training texts that (nearly) duplicate a dev text."""
    keys = [_dedup_key(t) for t in dev_texts]
    full, prefix = set(keys), {k[:40] for k in keys if len(k) >= 20}
    return np.array(
        [(k := _dedup_key(t)) in full or k[:40] in prefix for t in train_texts], dtype=bool
    )


# -- features -----------------------------------------------------------------------------


def _expand_inputs(inputs: Sequence[str], n_layers: int) -> list[str]:
    """``mean_all`` -> ``mean_l0 .. mean_l<L>`` (all hidden states of the pass)."""
    out: list[str] = []
    for name in inputs:
        if name == "mean_all":
            out.extend(f"mean_l{i}" for i in range(n_layers))
        else:
            out.append(name)
    return out


def encode_cached(
    encoder: Encoder, texts: Sequence[str], cache_dir: str | Path | None = None
) -> EncodedBatch:
    """Encode ``texts`` once per (encoder id, texts); cached as ``.npz`` under
    ``cache_dir/features``."""
    h = hashlib.sha256(encoder.model_id.encode())
    for t in texts:
        h.update(t.encode("utf-8", "replace") + b"\x00")
    path = Path(cache_dir or DEFAULT_CACHE_DIR) / "features" / f"{h.hexdigest()[:24]}.npz"
    if path.exists():
        with np.load(path) as z:
            return EncodedBatch(
                embeddings=z["embeddings"],
                layer_means=z["layer_means"].astype(np.float32),
                max_pool=z["max_pool"].astype(np.float32),
                cls=z["cls"].astype(np.float32),
                model_id=encoder.model_id,
            )
    out = encoder.encode(texts)
    if out.layer_means is None:
        raise ValueError("heads are trained on backends with pooled views (torch / onnx*)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(
        tmp,
        embeddings=out.embeddings,
        layer_means=out.layer_means,
        max_pool=out.max_pool,
        cls=out.cls,
    )
    tmp.replace(path)
    return out


# -- fitting ------------------------------------------------------------------------------


def fit_weights(
    x: np.ndarray, y: np.ndarray, n_classes: int, recipe: Recipe, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Standardize ``x`` and fit the recipe's network; returns (mean, scale, Ws, bs)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0).astype(np.float32)
    scale = (x.std(axis=0) + 1e-6).astype(np.float32)
    xt = torch.from_numpy(((x - mean) / scale).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if recipe.class_weight == "balanced":
        cw = len(y) / (n_classes * np.maximum(counts, 1))
    else:
        cw = np.ones(n_classes)
    weight = torch.tensor(cw, dtype=torch.float32)

    if not recipe.hidden:
        net: torch.nn.Module = torch.nn.Linear(x.shape[1], n_classes)
        torch.nn.init.zeros_(net.weight)
        torch.nn.init.zeros_(net.bias)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight, reduction="sum")
        # scikit-learn's objective: sum_i w_i loss_i + ||W||^2 / (2C), scaled by 1/sum(w)
        wsum = float(weight[yt].sum())
        opt = torch.optim.LBFGS(
            net.parameters(),
            lr=1,
            max_iter=500,
            history_size=20,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-6,
            tolerance_change=1e-9,
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            reg = (net.weight**2).sum() / (2 * recipe.C)
            loss = (loss_fn(net(xt), yt) + reg) / wsum
            loss.backward()
            return loss

        opt.step(closure)
        linears = [net]
    else:
        layers: list[torch.nn.Module] = [torch.nn.Dropout(recipe.input_dropout)]
        d = x.shape[1]
        for h in recipe.hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Dropout(recipe.dropout)]
            d = h
        layers.append(torch.nn.Linear(d, n_classes))
        net = torch.nn.Sequential(*layers)
        opt2 = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        steps_per_epoch = (len(y) + recipe.batch_size - 1) // recipe.batch_size
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt2, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch
        )
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        for _ in range(recipe.epochs):
            net.train()
            order = torch.from_numpy(rng.permutation(len(y)))
            for s in range(0, len(order), recipe.batch_size):
                b = order[s : s + recipe.batch_size]
                opt2.zero_grad()
                loss_fn(net(xt[b]), yt[b]).backward()
                opt2.step()
                sched.step()
        linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    ws = [m.weight.detach().numpy().T.copy() for m in linears]
    bs = [m.bias.detach().numpy().copy() for m in linears]
    return mean, scale, ws, bs


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Softmax temperature minimizing dev NLL (argmax, hence the metrics, is unchanged)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 81))
    nll = [-np.log(softmax(logits / t)[np.arange(len(y)), y] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(float((pred[m] == y[m]).mean()) - float(conf[m].mean()))
    return float(ece)


# -- the entry point ----------------------------------------------------------------------


@dataclass
class TrainResult:
    head: Head
    out_dir: Path
    dev_metrics: dict[str, Any] | None
    extra_metrics: dict[str, dict[str, Any]]
    card: dict[str, Any]


def train_head(
    task: str,
    data_path: str | Path,
    dev_path: str | Path | None = None,
    *,
    out_dir: str | Path | None = None,
    encoder: Encoder | None = None,
    recipe: Recipe | None = None,
    labels: Sequence[str] | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    extra_eval: dict[str, str | Path] | None = None,
    drop_dev_overlap: bool = True,
    version: str = "1",
    notes: str | None = None,
) -> TrainResult:
    """Train and save the ``task`` head; returns the head and its metrics.

    ``data_path``/``dev_path``/``extra_eval`` values are JSON-lines files of
    ``{"text", "label"}``; ``extra_eval`` names more labelled sets to report in the card;
    ``notes`` (markdown) goes into the model card."""
    recipe = recipe or RECIPES.get(task, Recipe())
    encoder = encoder or Encoder()
    rows = load_jsonl(data_path)
    texts = [str(r["text"]) for r in rows]
    gold = [str(r["label"]) for r in rows]
    labels = list(labels or sorted(set(gold)))
    dev = load_jsonl(dev_path) if dev_path else []
    dev_texts = [str(r["text"]) for r in dev]
    n_dropped = 0
    if dev and drop_dev_overlap:
        overlap = dev_overlap(texts, dev_texts)
        n_dropped = int(overlap.sum())
        texts = [t for t, o in zip(texts, overlap, strict=True) if not o]
        gold = [g for g, o in zip(gold, overlap, strict=True) if not o]
    y = np.array([labels.index(g) for g in gold])

    encoded = encode_cached(encoder, texts, cache_dir)
    assert encoded.layer_means is not None
    inputs = _expand_inputs(recipe.inputs, encoded.layer_means.shape[1])
    x = build_features(inputs, encoded, texts)
    mean, scale, ws, bs = fit_weights(x, y, len(labels), recipe, seed)
    head = Head(task, labels, inputs, mean, scale, ws, bs)

    def evaluate(path_texts: list[str], path_gold: list[str]) -> tuple[dict[str, Any], Any]:
        enc = encode_cached(encoder, path_texts, cache_dir)
        logits = head.logits(head.features(enc, path_texts))
        pred = [labels[i] for i in logits.argmax(axis=1)]
        return classification_metrics(path_gold, pred, labels), logits

    dev_metrics = None
    if dev:
        dev_gold = [str(r["label"]) for r in dev]
        dev_metrics, dev_logits = evaluate(dev_texts, dev_gold)
        y_dev = np.array([labels.index(g) for g in dev_gold])
        if recipe.calibrate:
            head.temperature = fit_temperature(dev_logits, y_dev)
        dev_metrics["ece"] = expected_calibration_error(
            softmax(dev_logits / head.temperature), y_dev
        )
    extra_metrics = {}
    for name, path in (extra_eval or {}).items():
        erows = load_jsonl(path)
        extra_metrics[name], _ = evaluate(
            [str(r["text"]) for r in erows], [str(r["label"]) for r in erows]
        )

    card = {
        "version": version,
        "notes": notes,
        "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": seed,
        "recipe": {k: v for k, v in recipe.__dict__.items()},
        "training_data": {
            "path": str(data_path),
            "sha256": _file_sha256(data_path),
            "n_used": len(texts),
            "n_dropped_dev_overlap": n_dropped,
            "class_counts": {lab: int((y == i).sum()) for i, lab in enumerate(labels)},
            "sources": _counts(r.get("source") for r in rows if "source" in r),
        },
        "dev_data": {"path": str(dev_path), "sha256": _file_sha256(dev_path)} if dev_path else None,
        "encoder": {
            "model_id": encoder.model_id,
            "name": encoder.info.name,
            "weights_sha256": encoder.weights_sha256,
            "backend": encoder.variant,
            "max_seq_length": encoder.max_seq_length,
        },
        "metrics": {"dev": _slim(dev_metrics), **{k: _slim(v) for k, v in extra_metrics.items()}},
    }
    out = Path(out_dir) if out_dir else MODELS_DIR / task
    head.save(out, card)
    (out / "MODEL_CARD.md").write_text(model_card_markdown(head.card, head.model_id))
    return TrainResult(head, out, dev_metrics, extra_metrics, head.card)


def _counts(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))


def _file_sha256(path: str | Path | None) -> str | None:
    if path is None:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _slim(m: dict[str, Any] | None) -> dict[str, Any] | None:
    if m is None:
        return None
    keep = ("n", "accuracy", "macro_recall", "macro_f1", "per_class", "confusion", "ece")
    return {k: _round(m[k]) for k in keep if k in m}


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    return v


def model_card_markdown(card: dict[str, Any], model_id: str) -> str:
    """Human-readable MODEL_CARD.md from the JSON card."""
    enc, data = card["encoder"], card["training_data"]
    lines = [
        f"# {card['task']} head ({model_id})",
        "",
        f"- Trained: {card['trained_at']} (seed {card['seed']}, format {card['format']})",
        f"- Labels: {', '.join(card['labels'])}",
        f"- Encoder: `{enc['model_id']}` (backend `{enc['backend']}`)",
        f"- Encoder weights sha256: `{enc['weights_sha256']}`",
        f"- Inputs: {_describe_inputs(card['inputs'])}",
        f"- Head: {_describe_head(card)}; softmax temperature {card['temperature']:.3f}",
        f"- Training data: `{data['path']}` (sha256 `{data['sha256'][:16]}…`), "
        f"{data['n_used']} rows used, {data['n_dropped_dev_overlap']} dropped as "
        f"near-duplicates of dev rows; classes {data['class_counts']}",
    ]
    if card.get("dev_data"):
        lines.append(f"- Dev data: `{card['dev_data']['path']}`")
    for name, m in card["metrics"].items():
        if not m:
            continue
        lines += [
            "",
            f"## Metrics: {name} (n={m['n']})",
            "",
            f"accuracy {m['accuracy']:.4f} · macro recall {m['macro_recall']:.4f} · "
            f"macro F1 {m['macro_f1']:.4f}" + (f" · ECE {m['ece']:.4f}" if "ece" in m else ""),
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for lab, c in m["per_class"].items():
            lines.append(
                f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
                f"{c['support']} |"
            )
    if card.get("notes"):
        lines += ["", "## Notes", "", str(card["notes"]).strip()]
    lines += ["", "Generated by `analysis.training.train_head`.", ""]
    return "\n".join(lines)


def _describe_inputs(inputs: Sequence[str]) -> str:
    layers = [i for i in inputs if i.startswith("mean_l")]
    rest = [i for i in inputs if not i.startswith("mean_l")]
    parts = [f"mean pooling of {len(layers)} hidden states"] if layers else []
    names = {
        "embedding": "the standard 384-d embedding",
        "max": "max pooling (last layer)",
        "cls": "CLS vector (last layer)",
    }
    parts += [names.get(i, f"{i} text features" if i in TEXT_FEATURE_FNS else i) for i in rest]
    return ", ".join(parts)


def _describe_head(card: dict[str, Any]) -> str:
    hidden = card.get("hidden_layers") or []
    recipe = card.get("recipe", {})
    if not hidden:
        return f"multinomial logistic regression (L2, C={recipe.get('C')}, class-balanced)"
    return f"MLP {hidden} ReLU (class-balanced, {recipe.get('epochs')} epochs)"
