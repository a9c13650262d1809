"""Check the ja/ko sentiment files: JSON, fields, labels, languages, duplicates, balance.

Run from anywhere:  python analysis/data/sentiment-ja-ko/validate.py
Exits non-zero on any error and prints per-file counts by language and label.
"""
import collections
import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
FILES = ["train.jsonl", "dev.jsonl"]
LABELS = {"negative", "neutral", "positive"}
LANGS = {"ja", "ko"}
KEYS = {"text", "label", "lang", "topic"}
EXPECTED = {"train.jsonl": 400, "dev.jsonl": 80}  # per language
AI_TECH = ("ai-", "phones", "apps", "gadgets")


def norm(text):
    return re.sub(r"\s+", " ", text.lower()).strip()


def main():
    errors = []
    seen = {}  # normalised text -> "file:line"
    for name in FILES:
        rows = []
        for i, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
            where = f"{name}:{i}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: bad JSON ({e})")
                continue
            if set(r) != KEYS:
                errors.append(f"{where}: keys {sorted(r)}")
                continue
            if r["label"] not in LABELS:
                errors.append(f"{where}: label {r['label']!r}")
            if r["lang"] not in LANGS:
                errors.append(f"{where}: lang {r['lang']!r}")
            if not isinstance(r["topic"], str) or not re.fullmatch(r"[a-z][a-z-]*", r["topic"]):
                errors.append(f"{where}: topic {r['topic']!r}")
            if not 5 <= len(r["text"]) <= 140:
                errors.append(f"{where}: length {len(r['text'])}")
            key = norm(r["text"])
            if key in seen:
                errors.append(f"{where}: duplicate of {seen[key]}")
            seen[key] = where
            rows.append(r)
        print(f"== {name}: {len(rows)} rows")
        for lang in sorted(LANGS):
            sub = [r for r in rows if r["lang"] == lang]
            c = collections.Counter(r["label"] for r in sub)
            ai = sum(r["topic"].startswith(AI_TECH) for r in sub)
            print(f"  {lang}: {len(sub)}  " + "  ".join(f"{l}={c[l]}" for l in sorted(LABELS))
                  + f"  ai/tech={ai} ({ai / max(len(sub), 1):.0%})")
            if len(sub) != EXPECTED[name]:
                errors.append(f"{name}: {lang} has {len(sub)} rows, expected {EXPECTED[name]}")
            for l in LABELS:
                share = c[l] / max(len(sub), 1)
                if not 0.28 <= share <= 0.39:
                    errors.append(f"{name}: {lang} {l} share {share:.2f} out of balance")
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
