"""Metrics, rule baselines and end-to-end head evaluation (fake encoder, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.evaluation import (
    classification_metrics,
    evaluate_baseline,
    evaluate_head,
    format_metrics,
    keyword_hits,
    keywords_predict,
    load_jsonl,
    vader_predict,
)


def test_metrics_by_hand() -> None:
    gold = ["pos", "pos", "neg", "neg", "neu", "neu"]
    pred = ["pos", "neg", "neg", "neg", "pos", "neu"]
    m = classification_metrics(gold, pred, ["neg", "neu", "pos"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["neg"]["recall"] == 1.0
    assert m["per_class"]["neg"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["neu"]["recall"] == 0.5
    assert m["per_class"]["pos"]["recall"] == 0.5
    assert m["macro_recall"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    f1_neg = 2 * (2 / 3) * 1 / (2 / 3 + 1)
    assert m["per_class"]["neg"]["f1"] == pytest.approx(f1_neg)
    assert m["confusion"] == [[2, 0, 0], [0, 1, 1], [1, 0, 1]]
    assert m["per_class"]["neg"]["support"] == 2
    assert "macro_recall" in format_metrics(m)


def test_metrics_with_absent_class_and_errors() -> None:
    m = classification_metrics(["a", "a"], ["a", "a"], ["a", "b"])
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_recall"] == 0.5
    with pytest.raises(ValueError):
        classification_metrics(["a"], [])


def test_vader_rule() -> None:
    pytest.importorskip("vaderSentiment")
    assert vader_predict(["I love this, it is great!", "This is awful.", "The launch is at 9"]) == [
        "positive",
        "negative",
        "neutral",
    ]


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("AI art is theft from artists", True),
        ("they trained on our work without consent", True),
        ("Getty's lawsuit against Stability", True),
        ("that's plagiarism", True),
        ("the IP owners were not asked", True),
        ("Miyazaki called it an insult to life", True),
        ("c'est du vol, ils ont volé les droits d'auteur", True),
        ("los artistas no dieron su consentimiento", True),
        ("Urheberrecht gilt auch für KI", True),
        ("direitos autorais importam", True),
        ("è un furto agli artisti", True),
        ("著作権の問題だ", True),
        ("ジブリ風の画像", True),
        ("my ip address changed", False),
        ("un vol Paris-Tokyo", False),
        ("the new image model is so fast", False),
    ],
)
def test_keyword_rule(text: str, hit: bool) -> None:
    assert keyword_hits(text) is hit


def test_keywords_predict_labels() -> None:
    assert keywords_predict(["copyright!", "nice pic"]) == ["concern", "none"]
    assert keywords_predict(["copyright!"], positive="yes", negative="no") == ["yes"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + "\n")
    return path


def test_evaluate_baselines_on_files(tmp_path: Path) -> None:
    cr = _write(
        tmp_path / "cr.jsonl",
        [
            {"text": "AI art is theft", "label": "concern"},
            {"text": "nobody asked the animators", "label": "concern"},
            {"text": "this song stole my heart", "label": "none"},
            {"text": "so fast today", "label": "none"},
        ],
    )
    assert len(load_jsonl(cr)) == 4
    m = evaluate_baseline("keywords", cr)
    assert m["per_class"]["concern"]["recall"] == 0.5
    assert m["per_class"]["concern"]["precision"] == 0.5
    assert m["model_id"] == "baseline:keywords"
    assert m["posts_per_s"] > 0
    pytest.importorskip("vaderSentiment")
    st = _write(
        tmp_path / "st.jsonl",
        [
            {"text": "I love it", "label": "positive"},
            {"text": "I hate it", "label": "negative"},
        ],
    )
    assert evaluate_baseline("vader", st)["accuracy"] == 1.0


@pytest.mark.slow
def test_evaluate_head_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from test_heads import FakeEncoder, toy_rows, write_jsonl

    from analysis.training import Recipe, train_head

    train = write_jsonl(tmp_path / "train.jsonl", toy_rows(200))
    dev = write_jsonl(tmp_path / "dev.jsonl", toy_rows(50, seed=3))
    enc = FakeEncoder()
    train_head(
        "sentiment",
        train,
        dev,
        out_dir=tmp_path / "head",
        encoder=enc,  # type: ignore[arg-type]
        recipe=Recipe(inputs=["embedding", "surface"], C=0.1),
        cache_dir=tmp_path / "cache",
    )
    m = evaluate_head(tmp_path / "head", dev, encoder=enc)
    assert m["macro_recall"] > 0.9
    assert m["encoder_matches_training"] is True
    assert m["model_id"].startswith(enc.model_id + "+sentiment-head/v1@")
    assert np.isfinite(m["posts_per_s"])
