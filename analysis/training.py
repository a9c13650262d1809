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
    language_weight: float = 0.0  # 0: off; else each language weighs >= this share of the top
    threshold_label: str | None = None  # binary tasks: fit this label's decision threshold
    ensemble: int = 1  # MLPs: fit this many seeds, merged into one wider MLP (mean logits)


# chosen on the dev sets (UMSAB + TweetEval validation; copyright dev and dev_realmix),
# see the model cards
RECIPES: dict[str, Recipe] = {
    "sentiment": Recipe(hidden=(256,), epochs=10, language_weight=0.2, ensemble=3),
    "copyright": Recipe(
        inputs=["mean_all", "max", "cls"], hidden=(128,), epochs=30, threshold_label="concern"
    ),
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
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    recipe: Recipe,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Standardize ``x`` and fit the recipe's network; returns (mean, scale, Ws, bs).
    ``sample_weight`` multiplies each row's loss (the class balance is computed on it).
    With ``recipe.ensemble = k > 1`` (MLPs only), k networks are fitted with seeds
    ``seed .. seed + k - 1`` and merged into one wider MLP whose logits are their mean."""
    if recipe.ensemble > 1 and recipe.hidden:
        single = Recipe(**{**recipe.__dict__, "ensemble": 1})
        fits = [
            fit_weights(x, y, n_classes, single, seed + i, sample_weight)
            for i in range(recipe.ensemble)
        ]
        return fits[0][0], fits[0][1], *merge_mlps([(f[2], f[3]) for f in fits])
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0).astype(np.float32)
    scale = (x.std(axis=0) + 1e-6).astype(np.float32)
    xt = torch.from_numpy(((x - mean) / scale).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    counts = np.bincount(y, weights=sw, minlength=n_classes).astype(np.float64)
    if recipe.class_weight == "balanced":
        cw = sw.sum() / (n_classes * np.maximum(counts, 1e-9))
    else:
        cw = np.ones(n_classes)
    # one weight per row: its class weight times its sample weight
    row_w = torch.tensor(cw[y] * sw, dtype=torch.float32)

    if not recipe.hidden:
        net: torch.nn.Module = torch.nn.Linear(x.shape[1], n_classes)
        torch.nn.init.zeros_(net.weight)
        torch.nn.init.zeros_(net.bias)
        loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
        # scikit-learn's objective: sum_i w_i loss_i + ||W||^2 / (2C), scaled by 1/sum(w)
        wsum = float(row_w.sum())
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
            loss = ((loss_fn(net(xt), yt) * row_w).sum() + reg) / wsum
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
        loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
        for _ in range(recipe.epochs):
            net.train()
            order = torch.from_numpy(rng.permutation(len(y)))
            for s in range(0, len(order), recipe.batch_size):
                b = order[s : s + recipe.batch_size]
                opt2.zero_grad()
                rw = row_w[b]
                ((loss_fn(net(xt[b]), yt[b]) * rw).sum() / rw.sum()).backward()
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


def merge_mlps(
    nets: list[tuple[list[np.ndarray], list[np.ndarray]]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """MLPs of one shape on the same inputs -> one MLP computing the mean of their logits:
    first layers side by side, inner layers block-diagonal, last layers stacked / k."""
    k = len(nets)
    depth = len(nets[0][0])
    ws, bs = [], []
    for i in range(depth):
        layer_w = [w[i] for w, _ in nets]
        layer_b = [b[i] for _, b in nets]
        if i == 0:
            w = np.concatenate(layer_w, axis=1)
        elif i < depth - 1:
            w = np.zeros((sum(a.shape[0] for a in layer_w), sum(a.shape[1] for a in layer_w)))
            r = c = 0
            for a in layer_w:
                w[r : r + a.shape[0], c : c + a.shape[1]] = a
                r, c = r + a.shape[0], c + a.shape[1]
        else:
            w = np.concatenate(layer_w, axis=0) / k
        b = np.mean(layer_b, axis=0) if i == depth - 1 else np.concatenate(layer_b)
        ws.append(w.astype(np.float32))
        bs.append(b.astype(np.float32))
    return ws, bs


def fit_threshold(
    prob: np.ndarray, positive: np.ndarray, smooth: float = 0.05
) -> tuple[float, float]:
    """The probability threshold (0.05..0.95) maximizing F1 of the positive class, on the
    F1 curve averaged over +-``smooth`` (a small calibration set has lone peaks); ties go
    to the higher threshold (fewer false alarms). Returns (threshold, F1 there)."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)

    def f1_at(t: float) -> float:
        pred = prob >= t
        return 2 * float((pred & positive).sum()) / max(float(pred.sum() + positive.sum()), 1.0)

    f1 = np.array([f1_at(t) for t in grid])
    w = round(smooth / 0.01)
    smoothed = np.array([f1[max(0, i - w) : i + w + 1].mean() for i in range(len(f1))])
    best = len(grid) - 1 - int(np.argmax(smoothed[::-1]))
    return float(grid[best]), float(f1[best])


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


Paths = str | Path | Sequence[str | Path]


def _as_paths(paths: Paths | None) -> list[Path]:
    if paths is None:
        return []
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _load_rows(paths: list[Path]) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of several files, and the row count of each file."""
    rows, sizes = [], []
    for path in paths:
        part = load_jsonl(path)
        rows.extend(part)
        sizes.append(len(part))
    return rows, sizes


def _encode_files(
    encoder: Encoder, rows: list[dict[str, Any]], sizes: list[int], cache_dir: Any
) -> EncodedBatch:
    """Encode each file's texts (cached per file), then stack them in row order."""
    parts, start = [], 0
    for n in sizes:
        parts.append(
            encode_cached(encoder, [str(r["text"]) for r in rows[start : start + n]], cache_dir)
        )
        start += n
    if len(parts) == 1:
        return parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return EncodedBatch(
        cat("embeddings"), cat("layer_means"), cat("max_pool"), cat("cls"), encoder.model_id
    )


def _row_weights(langs: Sequence[str], recipe: Recipe) -> np.ndarray | None:
    """``language_weight``: every language but the largest gets its rows' weight scaled so
    that it counts at least that share of the largest one (None: no weighting)."""
    if not recipe.language_weight:
        return None
    counts = _counts(langs)
    top = max(counts.values())
    w = {k: max(1.0, recipe.language_weight * top / n) for k, n in counts.items()}
    return np.array([w[g] for g in langs], dtype=np.float64)


def train_head(
    task: str,
    data_path: Paths,
    dev_path: Paths | None = None,
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
    threshold_dev: str | Path | None = None,
) -> TrainResult:
    """Train and save the ``task`` head; returns the head and its metrics.

    ``data_path``/``dev_path`` are one JSON-lines file of ``{"text", "label"}`` (an
    optional ``"lang"`` gives per-language dev metrics and language weighting) or a list of
    them, used together; ``extra_eval`` names more labelled sets to report in the card;
    ``notes`` (markdown) goes into the model card. With ``recipe.threshold_label``, the
    decision threshold of that label is the one maximizing its F1 on ``threshold_dev`` (a
    labelled file with the mix expected in use), stored in the card."""
    recipe = recipe or RECIPES.get(task, Recipe())
    encoder = encoder or Encoder()
    data_paths, dev_paths = _as_paths(data_path), _as_paths(dev_path)
    rows, sizes = _load_rows(data_paths)
    texts = [str(r["text"]) for r in rows]
    gold = [str(r["label"]) for r in rows]
    langs = [str(r.get("lang") or "unknown") for r in rows]
    labels = list(labels or sorted(set(gold)))
    dev, dev_sizes = _load_rows(dev_paths)
    dev_texts = [str(r["text"]) for r in dev]
    keep = np.ones(len(rows), dtype=bool)
    if dev and drop_dev_overlap:
        keep = ~dev_overlap(texts, dev_texts)
    n_dropped = int((~keep).sum())
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    gold = [g for g, k in zip(gold, keep, strict=True) if k]
    langs = [g for g, k in zip(langs, keep, strict=True) if k]
    y = np.array([labels.index(g) for g in gold])

    encoded = _encode_files(encoder, rows, sizes, cache_dir).subset(np.flatnonzero(keep))
    assert encoded.layer_means is not None
    inputs = _expand_inputs(recipe.inputs, encoded.layer_means.shape[1])
    x = build_features(inputs, encoded, texts)
    mean, scale, ws, bs = fit_weights(
        x, y, len(labels), recipe, seed, sample_weight=_row_weights(langs, recipe)
    )
    head = Head(task, labels, inputs, mean, scale, ws, bs)

    def file_logits(rows: list[dict[str, Any]]) -> np.ndarray:
        texts = [str(r["text"]) for r in rows]
        return head.logits(head.features(encode_cached(encoder, texts, cache_dir), texts))

    def evaluate(logits: np.ndarray, gold: list[str]) -> tuple[dict[str, Any], list[str]]:
        pred = head.decide(softmax(logits / head.temperature))
        return classification_metrics(gold, pred, labels), pred

    dev_metrics = None
    if dev:
        dev_gold = [str(r["label"]) for r in dev]
        dev_enc = _encode_files(encoder, dev, dev_sizes, cache_dir)
        dev_logits = head.logits(head.features(dev_enc, dev_texts))
        y_dev = np.array([labels.index(g) for g in dev_gold])
        if recipe.calibrate:
            head.temperature = fit_temperature(dev_logits, y_dev)
    threshold_rows = load_jsonl(threshold_dev) if threshold_dev else []
    if recipe.threshold_label and threshold_rows:
        tlogits = file_logits(threshold_rows)
        tgold = [str(r["label"]) == recipe.threshold_label for r in threshold_rows]
        k = labels.index(recipe.threshold_label)
        value, f1 = fit_threshold(softmax(tlogits / head.temperature)[:, k], np.array(tgold))
        head.card["threshold"] = {
            "label": recipe.threshold_label,
            "value": value,
            "fitted_on": str(threshold_dev),
            "f1_there": round(f1, 4),
        }
    if dev:
        dev_metrics, dev_pred = evaluate(dev_logits, dev_gold)
        dev_metrics["ece"] = expected_calibration_error(
            softmax(dev_logits / head.temperature), y_dev
        )
        dev_langs = [str(r.get("lang") or "") for r in dev]
        if len(set(dev_langs) - {""}) > 1:
            dev_metrics["by_lang"] = {
                lang: _slim(
                    classification_metrics(
                        [g for g, d in zip(dev_gold, dev_langs, strict=True) if d == lang],
                        [p for p, d in zip(dev_pred, dev_langs, strict=True) if d == lang],
                        labels,
                    )
                )
                for lang in sorted(set(dev_langs) - {""})
            }
    extra_metrics = {}
    for name, path in (extra_eval or {}).items():
        erows = load_jsonl(path)
        extra_metrics[name], _ = evaluate(file_logits(erows), [str(r["label"]) for r in erows])

    card = {
        "version": version,
        "notes": notes,
        "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": seed,
        "recipe": {k: v for k, v in recipe.__dict__.items()},
        "training_data": {
            "path": ", ".join(str(p) for p in data_paths),
            "sha256": ", ".join(_file_sha256(p) or "" for p in data_paths),
            "n_used": len(texts),
            "n_dropped_dev_overlap": n_dropped,
            "class_counts": {lab: int((y == i).sum()) for i, lab in enumerate(labels)},
            "languages": _counts(langs),
            "sources": _counts(r.get("source") for r in rows if "source" in r),
        },
        "dev_data": {
            "path": ", ".join(str(p) for p in dev_paths),
            "sha256": ", ".join(_file_sha256(p) or "" for p in dev_paths),
        }
        if dev_paths
        else None,
        "encoder": {
            "model_id": encoder.model_id,
            "name": encoder.info.name,
            "weights_sha256": encoder.weights_sha256,
            "backend": encoder.variant,
            "max_seq_length": encoder.max_seq_length,
            "prefix": getattr(encoder.info, "prefix", ""),
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
    keep = ("n", "accuracy", "macro_recall", "macro_f1", "per_class", "confusion", "ece", "by_lang")
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
    if card.get("threshold"):
        th = card["threshold"]
        lines.append(
            f"- Decision: `{th['label']}` when its probability is ≥ {th['value']:.2f} "
            f"(the best of the F1 curve averaged over ±0.05 on `{th['fitted_on']}`, "
            f"F1 {th['f1_there']:.3f} there)"
        )
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
        if m.get("by_lang"):
            lines += [
                "",
                "| language | n | accuracy | macro recall | macro F1 |",
                "|---|---|---|---|---|",
            ]
            for lang, lm in m["by_lang"].items():
                lines.append(
                    f"| {lang} | {lm['n']} | {lm['accuracy']:.3f} | {lm['macro_recall']:.3f} | "
                    f"{lm['macro_f1']:.3f} |"
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
