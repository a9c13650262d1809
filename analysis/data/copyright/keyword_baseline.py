#!/usr/bin/env python3
"""Naive keyword baseline for the copyright-concern label (stdlib only).

Predicts ``concern`` when a post contains any "obvious" copyright/IP trigger word
(copyright, steal/stole/theft, lawsuit/sue, consent, artist(s), trained,
plagiarism, IP, license, Miyazaki, and their translations in the dataset's
languages).  It exists to show how much the hard cases fool a keyword rule.

Usage:  python keyword_baseline.py [FILE.jsonl ...]
        (defaults to train.jsonl, dev.jsonl and hard_test.jsonl next to this file)
"""
import json
import os
import re
import sys

KEYWORD_PATTERNS = [
    # English
    r"\bcopyright", r"\bsteal", r"\bstole", r"\btheft", r"\blawsuit", r"\bsu(?:e|es|ed|ing)\b",
    r"\bconsent", r"\bartists?\b", r"\btrained\b", r"\bplagiari", r"\bip\b", r"\blicen[cs]",
    r"miyazaki",
    # French
    r"droits? d['’]auteur", r"\bvol\b", r"\bvol(?:er|é|ée|és|ées|e|ent|ait)\b", r"\bplagiat",
    r"\bprocès\b", r"\bpoursuiv", r"\bconsentement", r"\bartistes?\b", r"\bentraîn[ée]", r"\blicence",
    r"propriété intellectuelle",
    # Spanish
    r"derechos? de autor", r"\brob(?:o|ar|ó|ado|ada|aron|an|a|amos)\b", r"\bplagio", r"\bdemand(?:a|ar|ó|aron|an)\b",
    r"\bconsentimiento", r"\bartistas?\b", r"\bentrenad[oa]s?\b", r"\blicencia", r"propiedad intelectual",
    # German
    r"urheberrecht", r"diebstahl", r"\b(?:ge)?stohlen", r"\bstehlen", r"\bklau", r"\bklage", r"verklag",
    r"einwilligung", r"zustimmung", r"künstler", r"\btrainiert", r"\bplagiat", r"\blizenz",
    r"geistiges? eigentum",
    # Portuguese
    r"direitos? autora(?:l|is)", r"\broub", r"\bfurt", r"\bplági", r"\bprocess(?:o|ar|ou|ando|am)\b",
    r"\bconsentimento", r"\btreinad[oa]s?\b", r"\blicença", r"propriedade intelectual",
    # Italian
    r"diritt[oi] d['’]autore", r"\bfurt[oi]\b", r"\brub(?:are|ato|ata|ano|a|o)\b", r"\bcausa\b", r"\bdenunc",
    r"\bconsenso", r"\bartist[aie]\b", r"\baddestrat", r"\blicenz", r"proprietà intellettuale",
    # Dutch
    r"auteursrecht", r"diefstal", r"\bstelen\b", r"\bsteel\b", r"\bsteelt\b", r"gestolen", r"rechtszaak",
    r"aanklag", r"toestemming", r"kunstenaar", r"getraind", r"plagiaat", r"licentie",
    # Japanese (no word boundaries)
    r"著作権", r"盗", r"パクリ", r"パクる", r"訴", r"同意", r"アーティスト", r"絵師", r"学習", r"ライセンス",
    r"宮崎", r"剽窃", r"無断",
    # Korean
    r"저작권", r"도용", r"표절", r"훔", r"소송", r"고소", r"동의", r"작가", r"아티스트", r"학습", r"라이선스",
    r"미야자키",
]
KEYWORD_RE = re.compile("|".join(KEYWORD_PATTERNS), re.IGNORECASE)


def predict(text):
    return "concern" if KEYWORD_RE.search(text) else "none"


def score(rows):
    tp = fp = fn = tn = 0
    for r in rows:
        p = predict(r["text"]) == "concern"
        g = r["label"] == "concern"
        tp += p and g
        fp += p and not g
        fn += (not p) and g
        tn += (not p) and (not g)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    acc = (tp + tn) / len(rows) if rows else 0.0
    return dict(n=len(rows), tp=tp, fp=fp, fn=fn, tn=tn, precision=prec, recall=rec, f1=f1, accuracy=acc)


def load(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    paths = argv or [os.path.join(here, f) for f in ("train.jsonl", "dev.jsonl", "hard_test.jsonl")]
    for path in paths:
        s = score(load(path))
        print(f"{os.path.basename(path)}: n={s['n']} tp={s['tp']} fp={s['fp']} fn={s['fn']} tn={s['tn']} "
              f"precision={s['precision']:.3f} recall={s['recall']:.3f} F1(concern)={s['f1']:.3f} "
              f"accuracy={s['accuracy']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
