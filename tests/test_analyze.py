"""The analyze stage on a small demo warehouse, with the shipped encoder and heads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.tasks import MODELS_DIR
from hypewatch.analyze import analyze
from hypewatch.campaigns import find_campaign
from hypewatch.pipeline import build_demo
from hypewatch.settings import PROJECT_ROOT, Settings
from warehouse.db import connect

pytestmark = pytest.mark.slow

TASK_HEAD_IDS = {
    task: json.loads((MODELS_DIR / task / "card.json").read_text()).get("version", "1")
    for task in ("sentiment", "copyright")
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = Path.home() / ".cache" / "hypewatch"  # shared with the CLI: export once
    return Settings(cache_dir=cache, analyze_chunk=128)


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    campaign = find_campaign("gpt4o-image-launch", PROJECT_ROOT / "campaigns")
    build_demo(con, campaign, size=300, seed=3)
    yield con
    con.close()


def count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_analyze_embeds_and_labels_every_post_once(con, settings: Settings) -> None:
    with_text = count(con, "SELECT count(*) FROM posts WHERE length(trim(text)) > 0")
    report = analyze(con, settings)
    assert report.posts == with_text > 250
    assert count(con, "SELECT count(*) FROM embeddings") == with_text
    assert count(con, "SELECT count(*) FROM labels WHERE task = 'sentiment'") == with_text
    assert count(con, "SELECT count(*) FROM labels WHERE task = 'copyright'") == with_text
    norms = con.execute(
        "SELECT min(n), max(n) FROM "
        "(SELECT sqrt(array_inner_product(embedding, embedding)) AS n FROM embeddings)"
    ).fetchone()
    assert norms[0] == pytest.approx(1.0, abs=1e-3) and norms[1] == pytest.approx(1.0, abs=1e-3)
    probs = con.execute(
        "SELECT min(list_sum(map_values(probs))), max(list_sum(map_values(probs))) FROM labels"
    ).fetchone()
    assert probs[0] == pytest.approx(1.0, abs=1e-4) and probs[1] == pytest.approx(1.0, abs=1e-4)
    labelled = count(con, "SELECT count(*) FROM post_labels WHERE sentiment IS NOT NULL")
    assert labelled == with_text
    assert count(con, "SELECT count(*) FROM analysis_runs WHERE status = 'ok'") == 1

    again = analyze(con, settings)
    assert (again.posts, again.encoded, again.labels_stored) == (0, 0, 0)


def test_a_new_head_relabels_from_stored_embeddings(
    con, settings: Settings, tmp_path: Path
) -> None:
    analyze(con, settings)
    head = tmp_path / "sentiment-v2"
    shutil.copytree(MODELS_DIR / "sentiment", head)
    card = (head / "card.json").read_text().replace('"version": "', '"version": "retrained-')
    (head / "card.json").write_text(card)
    report = analyze(con, settings.model_copy(update={"sentiment_model": str(head)}))
    assert report.posts == report.labels_stored > 0
    assert report.embeddings_stored == 0
    # old labels stay queryable; post_labels shows the newest model
    assert count(con, "SELECT count(DISTINCT model_id) FROM labels WHERE task = 'sentiment'") == 2
    current = con.execute("SELECT model_id FROM current_models WHERE task = 'sentiment'").fetchone()
    assert current[0] == report.model_ids["sentiment"]


def test_settings_select_hub_style_backends_per_task(
    con, settings: Settings, tmp_path: Path
) -> None:
    """hf: and zeroshot: models chosen in settings, offline, with tiny models built here."""
    from tests.test_encoder import make_tiny_bert

    sentiment = make_tiny_bert(
        tmp_path / "tiny-sentiment",
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
    )
    nli = make_tiny_bert(
        tmp_path / "tiny-nli",
        num_labels=3,
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
    )
    chosen = settings.model_copy(
        update={"sentiment_model": f"hf:{sentiment}", "copyright_model": f"zeroshot:{nli}"}
    )
    report = analyze(con, chosen)
    assert report.model_ids["sentiment"].startswith("hf:tiny-sentiment@")
    assert report.model_ids["copyright"].startswith("zeroshot:tiny-nli@")
    labels = dict(
        con.execute("SELECT task, list(DISTINCT label) FROM labels GROUP BY 1").fetchall()
    )
    assert set(labels["sentiment"]) <= {"negative", "neutral", "positive"}
    assert set(labels["copyright"]) <= {"concern", "none"}


def test_a_checkpoint_with_other_labels_is_refused(settings: Settings, tmp_path: Path) -> None:
    from analysis.tasks import load_classifier
    from tests.test_encoder import make_tiny_bert

    odd = make_tiny_bert(tmp_path / "odd", num_labels=2, id2label={0: "spam", 1: "ham"})
    with pytest.raises(ValueError, match="not the sentiment labels"):
        load_classifier("sentiment", f"hf:{odd}", device="cpu")


def test_eval_command_prints_one_json_object_with_a_baseline(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hypewatch.cli import app

    rows = [
        ("Miyazaki never agreed to have his life's work fed into this", "concern"),
        ("a style is not property, nobody owns watercolor", "concern"),
        ("who pays the animators when the Ghibli look sells ads?", "concern"),
        ("made my cat into a Ghibli character, I'm crying it's so cute", "none"),
        ("image gen is stuck again, 5 minutes per picture", "none"),
        ("this song stole my heart", "none"),
    ]
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    result = CliRunner().invoke(app, ["eval", "copyright", str(data), "--baseline", "keywords"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 6 and set(report["per_class"]) == {"concern", "none"}
    assert f"+copyright-head/v{TASK_HEAD_IDS['copyright']}@" in report["model_id"]
    assert report["baseline"]["model_id"] == "baseline:keywords"
    for key in ("accuracy", "macro_recall", "macro_f1", "posts_per_s"):
        assert report[key] >= 0 and (key == "posts_per_s" or report[key] <= 1)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "label": "positive"}) + "\n")
    result = CliRunner().invoke(app, ["eval", "copyright", str(bad)])
    assert result.exit_code == 1 and "not copyright labels" in result.stderr
