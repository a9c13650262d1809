"""Language identification: speed, per-language accuracy, and the threshold's tuning.

    python bench/language.py [--tune] [--repeat 3] [--size 20000]

Data: the UMSAB tweets in ``../shared/data/sentiment-multilingual`` (``lang`` field; the
Hindi tweets are romanized and reported apart, as no detector reads them as ``hi``) and a
simulated launch week (seed 7, not the demo's 42) whose posts carry the language the
simulator wrote them in, Reddit and Hacker News included.

Prints the detector's speed (posts/s over the simulated week's texts, best and median of
``--repeat``, with the load average) and, at the shipped threshold, per language: posts,
correct, ``und`` and wrong. ``--tune`` adds, for each candidate threshold, the share of
detections presented as fact that are wrong, the share left ``und``, and how often a
correct platform tag would be overridden (simulated posts, whose tags are all right); the
threshold chosen is the lowest at which at most :data:`MAX_WRONG` of the UMSAB training
tweets' detections are wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from analysis.language import THRESHOLD, UNDETERMINED, LanguageDetector, speed  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentiment-multilingual"
CANDIDATES = (0.0, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8)
MAX_WRONG = 0.01


def umsab(split: str) -> list[dict]:
    path = SHARED / f"{split}.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def simulated(size: int, seed: int = 7) -> list[dict]:
    """The simulated week's posts as parsed (text, platform tag) with their true language."""
    from hypewatch.campaigns import find_campaign
    from hypewatch.pipeline import build_demo
    from hypewatch.settings import get_settings
    from ingest.simulator import simulate
    from warehouse.db import connect

    campaign = find_campaign("gpt4o-image-launch", get_settings().campaigns_dir)
    con = connect(":memory:")
    build_demo(con, campaign, size=size, seed=seed, pool=False)
    truth = simulate(size=size, seed=seed, start=campaign.start, end=campaign.end).truth
    lang = {t["post_id"]: t["lang"] for t in truth}
    rows = con.execute("SELECT post_id, platform, lang, text FROM posts").fetchall()
    con.close()
    return [
        {"text": text, "lang": lang[pid], "platform": platform, "tag": tag}
        for pid, platform, tag, text in rows
    ]


def raw(detector: LanguageDetector, rows: list[dict]) -> list[tuple[str, float]]:
    return [(d.lang, d.confidence) for d in map(detector.raw, (r["text"] for r in rows))]


def at(pred: list[tuple[str, float]], t: float) -> list[str]:
    return [lang if p >= t else UNDETERMINED for lang, p in pred]


def curve_row(rows: list[dict], langs: list[str]) -> tuple[float, float]:
    """(wrong share of the detections presented as fact, und share)."""
    emitted = [(r, lang) for r, lang in zip(rows, langs, strict=True) if lang != UNDETERMINED]
    wrong = sum(lang != r["lang"] for r, lang in emitted)
    return wrong / max(1, len(emitted)), 1 - len(emitted) / max(1, len(rows))


def false_overrides(rows: list[dict], langs: list[str]) -> float:
    """Share of tagged posts whose (correct) tag a confident detection would override."""
    tagged = [(r, lang) for r, lang in zip(rows, langs, strict=True) if r["tag"]]
    bad = sum(lang not in (UNDETERMINED, r["tag"]) for r, lang in tagged)
    return bad / max(1, len(tagged))


def per_language(name: str, rows: list[dict], langs: list[str]) -> None:
    counts: dict[str, Counter] = {}
    for r, lang in zip(rows, langs, strict=True):
        c = counts.setdefault(r["lang"], Counter())
        c["n"] += 1
        c["correct" if lang == r["lang"] else "und" if lang == UNDETERMINED else "wrong"] += 1
    print(f"\n{name}: per language at threshold {THRESHOLD:g}")
    print(f"{'lang':>5} {'posts':>6} {'correct':>8} {'und':>6} {'wrong':>6}")
    for lang, c in sorted(counts.items()):
        n = c["n"]
        print(
            f"{lang:>5} {n:>6} {c['correct'] / n:>8.3f} {c['und'] / n:>6.3f} {c['wrong'] / n:>6.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune", action="store_true", help="print the threshold table")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=20_000, help="simulated posts")
    args = parser.parse_args()

    detector = LanguageDetector()
    sim = simulated(args.size)
    texts = [r["text"] for r in sim]
    speed(texts[:1000], detector)  # warm-up
    runs = [speed(texts, detector) for _ in range(args.repeat)]
    wall, cpu = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    print(f"detector: {detector.detector_id}")
    chars = statistics.mean(map(len, texts))
    print(
        f"speed: {wall[-1]:,.0f} posts/s best, {statistics.median(wall):,.0f} median of "
        f"{args.repeat} ({len(texts):,} simulated posts, mean {chars:.0f} characters; "
        f"{statistics.median(cpu):,.0f} posts per CPU-second); "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    sets = {"simulated": sim}
    train, validation = umsab("train"), umsab("validation")
    if train:
        sets["umsab-train"] = [r for r in train if r["lang"] != "hi"]
        sets["umsab-valid"] = [r for r in validation if r["lang"] != "hi"]
        sets["umsab-hi"] = [r for r in train + validation if r["lang"] == "hi"]
    else:
        print(f"(no UMSAB data at {SHARED}: simulated posts only)")
    preds = {name: raw(detector, rows) for name, rows in sets.items()}

    if args.tune:
        names = [n for n in sets if n != "umsab-hi"]
        print("\nthreshold: wrong share of detections presented as fact / und share")
        print(f"{'t':>5} " + " ".join(f"{n:>20}" for n in names) + f" {'sim tag overridden':>19}")
        chosen = None
        for t in CANDIDATES:
            cells = []
            for n in names:
                wrong, und = curve_row(sets[n], at(preds[n], t))
                cells.append(f"{wrong:>9.4f} / {und:>7.4f}")
                if n == "umsab-train" and chosen is None and wrong <= MAX_WRONG:
                    chosen = t
            over = false_overrides(sim, at(preds["simulated"], t))
            print(f"{t:>5.2f} " + " ".join(f"{c:>20}" for c in cells) + f" {over:>19.4f}")
        if chosen is not None:
            print(f"lowest threshold with <= {MAX_WRONG:.0%} wrong on umsab-train: {chosen:g}")
        for name, longest in (("", None), (" under 40 characters", 40)):
            cjk = [
                (r, p)
                for r, p in zip(sim, preds["simulated"], strict=True)
                if r["lang"] in ("ja", "ko") and (longest is None or len(r["text"]) < longest)
            ]
            wrong, und = curve_row([r for r, _ in cjk], at([p for _, p in cjk], THRESHOLD))
            print(
                f"simulated ja/ko{name} at {THRESHOLD:g}: {len(cjk)} posts, wrong {wrong:.4f} "
                f"of the detected, und {und:.4f}"
            )

    for name, rows in sets.items():
        per_language(name, rows, at(preds[name], THRESHOLD))
    if "umsab-hi" in sets:
        found = Counter(at(preds["umsab-hi"], THRESHOLD)).most_common(5)
        print(f"umsab-hi (romanized Hindi) read as: {found}")


if __name__ == "__main__":
    main()
