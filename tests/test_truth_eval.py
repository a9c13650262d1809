"""``hypewatch eval-demo``: labels and topics scored against the simulator's truth."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from analysis.truth_eval import label_quality, topic_quality
from hypewatch.cli import app


def test_truth_labels_score_perfectly(labelled_demo_copy: Path) -> None:
    con = duckdb.connect(str(labelled_demo_copy), read_only=True)
    rows = {r["lang"]: r for r in label_quality(con)}
    con.close()
    total = rows.pop("all")
    assert total["posts"] == sum(r["posts"] for r in rows.values()) > 2000
    assert {"en", "ja", "(none)"} <= set(rows)
    for r in (*rows.values(), total):
        assert r["sentiment_accuracy"] == 1.0
        assert r["predicted_positive"] == r["true_positive"]
        assert r["copyright_precision"] in (1.0, None)


def test_wrong_labels_show_per_language(labelled_demo_copy: Path) -> None:
    con = duckdb.connect(str(labelled_demo_copy))
    # a new "model" that calls every Japanese post positive and concern
    con.execute(
        "INSERT INTO labels SELECT post_id, task, CASE WHEN p.lang = 'ja' THEN "
        "CASE task WHEN 'sentiment' THEN 'positive' ELSE 'concern' END ELSE label END, "
        "score, probs, 'broken', TIMESTAMP '2025-04-06' FROM labels JOIN posts p USING (post_id)"
    )
    rows = {r["lang"]: r for r in label_quality(con)}
    con.close()
    ja, en = rows["ja"], rows["en"]
    assert ja["predicted_positive"] == 1.0 > ja["true_positive"]
    assert ja["sentiment_accuracy"] == pytest.approx(ja["true_positive"])
    assert ja["copyright_precision"] < 0.5 and ja["copyright_recall"] == 1.0
    assert en["sentiment_accuracy"] == 1.0


def test_eval_demo_command_prints_the_table_and_json(labelled_demo_copy: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval-demo", "--db", str(labelled_demo_copy)])
    assert result.exit_code == 0, result.output
    assert "sentiment accuracy" in result.output and "No topic run yet" in result.output
    result = runner.invoke(app, ["eval-demo", "--db", str(labelled_demo_copy), "--json"])
    payload = json.loads(result.output)
    assert payload["topics"] is None
    assert payload["labels"][-1]["lang"] == "all"


def test_eval_demo_on_an_unlabelled_warehouse_says_what_to_do(tmp_path: Path) -> None:
    from warehouse.db import connect

    connect(tmp_path / "w.duckdb").close()
    result = CliRunner().invoke(app, ["eval-demo", "--db", str(tmp_path / "w.duckdb")])
    assert result.exit_code == 1
    assert "no labelled simulated posts" in result.output


def test_topic_quality_reports_language_concentration(labelled_demo_copy: Path) -> None:
    con = duckdb.connect(str(labelled_demo_copy))
    assert topic_quality(con) is None
    con.close()
