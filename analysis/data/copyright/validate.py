#!/usr/bin/env python3
"""Validate the hypewatch copyright-concern dataset (stdlib only, standalone).

Checks, for train.jsonl, dev.jsonl, hard_test.jsonl, train_offtopic.jsonl and
dev_realmix.jsonl in this directory:

* every line parses as a JSON object with exactly the keys
  text, label, lang, platform, hard — and only allowed values;
* texts are non-empty, stripped, and unique within and across all five files
  after lowercasing and collapsing whitespace, and also after dropping
  punctuation and emoji;
* per-file size, label-balance, hard-share and per-language rules:
  - train.jsonl, dev.jsonl, hard_test.jsonl: en, fr, es, de, ja, pt, it each
    >= 5% of the file, en 38-55%, both labels and (except hard_test) both hard
    and easy posts in each of those languages, posts from x, reddit, bluesky
    and mastodon;
  - train_offtopic.jsonl (extra negatives for training): every post `none`,
    the same language minimums (but en 25-55%), and both hard and easy posts
    per language;
  - dev_realmix.jsonl (calibration set with a realistic mix): 8-16% `concern`,
    the same language minimums, and both labels per language;
* hard_test.jsonl defeats the naive keyword rule: concern-class F1 < 0.65
  (computed with keyword_baseline.py next to this file).

Exits 0 when everything holds, 1 otherwise (problems are printed to stderr).

Usage:
    python validate.py            # validate
    python validate.py --stats    # validate and print markdown count tables
    python validate.py --dir PATH # validate files in another directory
"""
import collections
import importlib.util
import json
import os
import re
import sys

KEYS = {"text", "label", "lang", "platform", "hard"}
LABELS = {"concern", "none"}
PLATFORMS = {"x", "reddit", "bluesky", "mastodon", "hn"}
PLATFORM_ORDER = ("x", "reddit", "bluesky", "mastodon", "hn")
LANGS = {"en", "fr", "es", "de", "ja", "pt", "it", "ko", "nl"}
REQUIRED_LANGS = ("en", "fr", "es", "de", "ja", "pt", "it")
MIN_LANG_SHARE = 0.05
EN_SHARE = (0.38, 0.55)
# Per-file exceptions to EN_SHARE. train_offtopic.jsonl also holds 240 mostly
# non-English posts that only enjoy or share style images (added because such
# posts outside English were misread as `concern`), so its English share is lower.
EN_SHARE_BY_FILE = {"train_offtopic.jsonl": (0.25, 0.55)}

# file -> (min lines, max lines, concern share range, min hard share)
SPEC = {
    "train.jsonl": (1200, None, (0.35, 0.45), 0.35),
    "dev.jsonl": (250, 250, (0.35, 0.45), 0.35),
    "hard_test.jsonl": (200, 200, (0.40, 0.50), 0.70),
    # Extra negatives: generic AI-industry posts and copyright-thread replies.
    "train_offtopic.jsonl": (400, None, (0.0, 0.0), 0.05),
    # Realistic prevalence for threshold calibration (about 12% concern).
    "dev_realmix.jsonl": (280, 320, (0.08, 0.16), 0.05),
}
# Which of the per-language / per-platform rules apply to each file.
RULES = {
    "train.jsonl": dict(both_labels=True, hard_mix=True, all_platforms=True),
    "dev.jsonl": dict(both_labels=True, hard_mix=True, all_platforms=True),
    "hard_test.jsonl": dict(both_labels=True, hard_mix=False, all_platforms=True),
    "train_offtopic.jsonl": dict(both_labels=False, hard_mix=True, all_platforms=False),
    "dev_realmix.jsonl": dict(both_labels=True, hard_mix=False, all_platforms=False),
}
# Platforms every original file must contain ("hn" is allowed but not required).
CORE_PLATFORMS = ("x", "reddit", "bluesky", "mastodon")
HARD_TEST_MAX_KEYWORD_F1 = 0.65


def norm(text):
    return re.sub(r"\s+", " ", text.strip().lower())


def loose(text):
    """Lowercased letters and digits only: catches "lol!" vs "lol" and emoji-only differences."""
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def load(path, problems):
    rows = []
    name = os.path.basename(path)
    if not os.path.exists(path):
        problems.append(f"{name}: missing")
        return rows
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            where = f"{name}:{i}"
            if not line.strip():
                problems.append(f"{where}: blank line")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                problems.append(f"{where}: not a JSON object")
                continue
            if set(obj) != KEYS:
                problems.append(f"{where}: keys {sorted(obj)} != {sorted(KEYS)}")
                continue
            text = obj["text"]
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{where}: empty or non-string text")
                continue
            if text != text.strip():
                problems.append(f"{where}: text has leading/trailing whitespace")
            if obj["label"] not in LABELS:
                problems.append(f"{where}: bad label {obj['label']!r}")
            if obj["lang"] not in LANGS:
                problems.append(f"{where}: bad lang {obj['lang']!r}")
            if obj["platform"] not in PLATFORMS:
                problems.append(f"{where}: bad platform {obj['platform']!r}")
            if not isinstance(obj["hard"], bool):
                problems.append(f"{where}: hard must be true/false, got {obj['hard']!r}")
            obj["_where"] = where
            rows.append(obj)
    return rows


def check_file(name, rows, problems):
    lo, hi, (c_lo, c_hi), min_hard = SPEC[name]
    rules = RULES[name]
    n = len(rows)
    if n < lo or (hi is not None and n > hi):
        problems.append(f"{name}: {n} lines, expected {lo}" + (f"..{hi}" if hi and hi != lo else "+" if hi is None else ""))
    if not n:
        return
    concern = sum(r["label"] == "concern" for r in rows) / n
    if not c_lo <= concern <= c_hi:
        problems.append(f"{name}: concern share {concern:.3f} outside [{c_lo}, {c_hi}]")
    hard = sum(r["hard"] is True for r in rows) / n
    if hard < min_hard:
        problems.append(f"{name}: hard share {hard:.3f} < {min_hard}")
    langs = collections.Counter(r["lang"] for r in rows)
    for lang in REQUIRED_LANGS:
        if langs[lang] / n < MIN_LANG_SHARE:
            problems.append(f"{name}: lang {lang} share {langs[lang] / n:.3f} < {MIN_LANG_SHARE}")
    en = langs["en"] / n
    en_lo, en_hi = EN_SHARE_BY_FILE.get(name, EN_SHARE)
    if not en_lo <= en <= en_hi:
        problems.append(f"{name}: en share {en:.3f} outside {(en_lo, en_hi)}")
    for lang in REQUIRED_LANGS:
        labels = {r["label"] for r in rows if r["lang"] == lang}
        if rules["both_labels"] and not LABELS <= labels:
            problems.append(f"{name}: lang {lang} lacks one of the labels ({sorted(labels)})")
        hards = {r["hard"] for r in rows if r["lang"] == lang}
        if rules["hard_mix"] and hards != {True, False}:
            problems.append(f"{name}: lang {lang} is not a mix of hard and easy")
    if rules["all_platforms"]:
        plats = collections.Counter(r["platform"] for r in rows)
        for p in CORE_PLATFORMS:
            if plats[p] == 0:
                problems.append(f"{name}: no {p} posts")


def keyword_f1(directory, rows, problems):
    path = os.path.join(directory, "keyword_baseline.py")
    if not os.path.exists(path):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keyword_baseline.py")
    if not os.path.exists(path):
        problems.append("keyword_baseline.py not found; cannot check hard_test keyword F1")
        return None
    sys.dont_write_bytecode = True
    spec = importlib.util.spec_from_file_location("_hw_keyword_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.score(rows)


def table(rows_by_file, key, values):
    head = "| file | " + " | ".join(str(v) for v in values) + " | total |"
    sep = "|" + "---|" * (len(values) + 2)
    lines = [head, sep]
    for name, rows in rows_by_file.items():
        c = collections.Counter(r[key] for r in rows)
        lines.append(f"| {name} | " + " | ".join(str(c[v]) for v in values) + f" | {len(rows)} |")
    return "\n".join(lines)


def lang_label_table(rows_by_file):
    langs = [l for l in ("en", "fr", "es", "de", "ja", "pt", "it", "ko", "nl")]
    head = "| file | " + " | ".join(langs) + " |"
    lines = [head, "|" + "---|" * (len(langs) + 1)]
    for name, rows in rows_by_file.items():
        cells = []
        for l in langs:
            sub = [r for r in rows if r["lang"] == l]
            c = sum(r["label"] == "concern" for r in sub)
            h = sum(r["hard"] for r in sub)
            cells.append(f"{len(sub)} ({c}c/{h}h)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stats(rows_by_file, kw):
    out = []
    out.append("Counts per label\n\n" + table(rows_by_file, "label", ["concern", "none"]))
    out.append("Counts per hard flag\n\n" + table(rows_by_file, "hard", [True, False]).replace("| True | False |", "| hard=true | hard=false |"))
    out.append("Counts per language\n\n" + table(rows_by_file, "lang", ["en", "fr", "es", "de", "ja", "pt", "it", "ko", "nl"]))
    out.append("Counts per platform\n\n" + table(rows_by_file, "platform", list(PLATFORM_ORDER)))
    out.append("Per language: lines (concern / hard)\n\n" + lang_label_table(rows_by_file))
    cross = ["| file | label | hard=true | hard=false |", "|---|---|---|---|"]
    for name, rows in rows_by_file.items():
        for lab in ("concern", "none"):
            sub = [r for r in rows if r["label"] == lab]
            cross.append(f"| {name} | {lab} | {sum(r['hard'] for r in sub)} | {sum(not r['hard'] for r in sub)} |")
    out.append("Label x hard\n\n" + "\n".join(cross))
    kwl = ["| file | precision | recall | F1 (concern) | accuracy |", "|---|---|---|---|---|"]
    for name, s in kw.items():
        kwl.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['accuracy']:.3f} |")
    out.append("Naive keyword rule (keyword_baseline.py)\n\n" + "\n".join(kwl))
    return "\n\n".join(out)


def main(argv):
    directory = os.path.dirname(os.path.abspath(__file__))
    if "--dir" in argv:
        directory = argv[argv.index("--dir") + 1]
    problems = []
    rows_by_file = {}
    for name in SPEC:
        rows_by_file[name] = load(os.path.join(directory, name), problems)

    seen = {}
    seen_loose = {}
    for name, rows in rows_by_file.items():
        for r in rows:
            key = norm(r["text"])
            if key in seen:
                problems.append(f"{r['_where']}: duplicate of {seen[key]}")
                continue
            seen[key] = r["_where"]
            lkey = loose(r["text"])
            if lkey in seen_loose:
                problems.append(
                    f"{r['_where']}: same words as {seen_loose[lkey]} "
                    "(differs only in punctuation/emoji)"
                )
            else:
                seen_loose[lkey] = r["_where"]

    for name, rows in rows_by_file.items():
        check_file(name, rows, problems)

    kw = {}
    for name, rows in rows_by_file.items():
        if rows:
            s = keyword_f1(directory, rows, problems)
            if s is not None:
                kw[name] = s
    if "hard_test.jsonl" in kw and kw["hard_test.jsonl"]["f1"] >= HARD_TEST_MAX_KEYWORD_F1:
        problems.append(f"hard_test.jsonl: keyword-rule F1 {kw['hard_test.jsonl']['f1']:.3f} >= {HARD_TEST_MAX_KEYWORD_F1}")

    if "--stats" in argv:
        print(stats(rows_by_file, kw))
        print()
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    total = sum(len(r) for r in rows_by_file.values())
    if problems:
        print(f"FAILED: {len(problems)} problem(s) in {total} lines", file=sys.stderr)
        return 1
    f1 = kw.get("hard_test.jsonl", {}).get("f1")
    print(f"OK: {total} lines valid" + (f"; hard_test keyword-rule F1 = {f1:.3f}" if f1 is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
