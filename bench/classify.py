"""Benchmark: baseline fp32 sentence-transformers encode vs the project path.

For N tweet-length posts (default 5,000 from the sentiment train file), measures posts/s of

* ``st-fp32``: ``SentenceTransformer(path).encode(texts, batch_size=32)`` (the baseline);
* every project backend (``torch``, ``onnx``, ``onnx-int8`` on CPU; ``torch`` fp16/bf16 on
  CUDA when present), encode only and end to end (encode + features + sentiment head);

then the sentiment macro-recall of the shipped head on the validation file, with features
from each backend (the fp32 backends give the baseline's exact embeddings). Backends run in
alternating rounds and the best round is kept, because the CPU may be shared.

    python bench/classify.py [--n 5000] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.encoder import Encoder
from analysis.evaluation import classification_metrics, texts_labels
from analysis.heads import Head

DATA = Path("/work/shared/data/sentiment")
HEAD = Path(__file__).resolve().parents[1] / "analysis" / "models" / "sentiment"


def tweet_sample(path: Path, n: int, seed: int = 0) -> list[str]:
    texts, _ = texts_labels(path)
    texts = [t for t in texts if len(t) <= 280]
    random.Random(seed).shuffle(texts)
    return (texts * (n // max(len(texts), 1) + 1))[:n]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=Path, default=DATA / "train.jsonl")
    ap.add_argument("--val", type=Path, default=DATA / "validation.jsonl")
    ap.add_argument("--head", type=Path, default=HEAD)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    texts = tweet_sample(args.posts, args.n)
    val_texts, val_gold = texts_labels(args.val)
    head = Head.load(args.head)

    configs: list[tuple[str, dict]] = [
        ("st-fp32 (baseline)", {"backend": "sentence-transformers", "device": "cpu"}),
        ("torch-fp32", {"backend": "torch", "device": "cpu"}),
        ("onnx-fp32", {"backend": "onnx", "device": "cpu"}),
        ("onnx-int8", {"backend": "onnx-int8", "device": "cpu"}),
    ]
    if torch.cuda.is_available():
        configs += [
            ("cuda st-fp32", {"backend": "sentence-transformers", "device": "cuda"}),
            ("cuda torch-fp16", {"backend": "torch", "device": "cuda"}),
            ("cuda torch-bf16", {"backend": "torch", "device": "cuda", "cuda_dtype": "bfloat16"}),
        ]
    encoders = {}
    for name, kw in configs:
        enc = Encoder(cache_dir=args.cache_dir, num_threads=args.threads, **kw)
        enc.load()  # export / load outside the timings
        enc.encode(texts[:64])  # warm-up
        encoders[name] = enc

    best_enc: dict[str, float] = {}
    best_e2e: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, enc in encoders.items():
            baseline = enc.backend == "sentence-transformers"
            bs = 32 if baseline and enc.device == "cpu" else args.batch_size
            start = time.perf_counter()
            out = enc.encode(texts, bs)
            t_enc = time.perf_counter() - start
            best_enc[name] = max(best_enc.get(name, 0.0), len(texts) / t_enc)
            if not baseline:
                head.predict(out, texts)
                t_e2e = time.perf_counter() - start
                best_e2e[name] = max(best_e2e.get(name, 0.0), len(texts) / t_e2e)

    ref_emb = encoders["st-fp32 (baseline)"].encode(val_texts, 32).embeddings
    base = best_enc["st-fp32 (baseline)"]
    print(f"\n{len(texts)} posts, {args.threads} threads, best of {args.rounds} rounds")
    print(f"head: {head.model_id}  inputs: {len(head.inputs)} views/groups")
    print(
        f"{'path':22s} {'encode posts/s':>14s} {'x base':>7s} {'e2e posts/s':>12s} "
        f"{'val macroR':>10s} {'cos vs fp32':>11s}"
    )
    for name, enc in encoders.items():
        e2e, mr, cos = "-", "-", "-"
        if name in best_e2e:
            out = enc.encode(val_texts)
            pred, _ = head.predict(out, val_texts)
            mr = f"{classification_metrics(val_gold, pred, head.labels)['macro_recall']:.4f}"
            cos = f"{float(np.mean(np.sum(out.embeddings * ref_emb, axis=1))):.4f}"
            e2e = f"{best_e2e[name]:.0f}"
        print(
            f"{name:22s} {best_enc[name]:14.0f} {best_enc[name] / base:7.2f} {e2e:>12s} "
            f"{mr:>10s} {cos:>11s}"
        )


if __name__ == "__main__":
    main()
