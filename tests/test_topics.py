"""Topics: tokenization, naming, assignment, persistence and views; BERTopic fits (slow)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analysis.topics import (
    OUTLIER,
    FitResult,
    StoredEmbeddingKeyBERT,
    TopicSettings,
    analyze,
    assign,
    assign_run,
    current_run,
    evaluate_run,
    fit_topics,
    purity,
    run_topics,
    store_run,
    topic_name,
)
from ingest.model import ParseResult, Post
from warehouse.db import connect
from warehouse.writes import store_batch

DIM = 384
MODEL = "fake-encoder@test"
T0 = datetime(2025, 3, 25, tzinfo=UTC)
STORIES = {
    "ghibli": "ghibli portrait of my cat mom sent watercolor version",
    "capacity": "rate limit gpus melting queue stuck error again",
    "copyright": "artists consent copyright miyazaki theft style training",
    "rivals": "midjourney gemini flash comparison prompt winner benchmark",
}


def corpus(n_per_story: int = 120, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts made of each story's words, embeddings = story centroid + noise (unit length)."""
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((len(STORIES), DIM))
    texts, vectors, truth = [], [], []
    for s, (story, words) in enumerate(STORIES.items()):
        vocab = words.split()
        for _ in range(n_per_story):
            picked = rng.choice(vocab, size=5, replace=False)
            texts.append(" ".join(picked) + f" #{story}")
            vectors.append(centroids[s] + 0.9 * rng.standard_normal(DIM))
            truth.append(story)
    emb = np.asarray(vectors, dtype=np.float32)
    return texts, emb / np.linalg.norm(emb, axis=1, keepdims=True), truth


def warehouse(
    texts: list[str], emb: np.ndarray, truth: list[str] | None = None, start: int = 0
) -> duckdb.DuckDBPyConnection:
    con = connect(":memory:")
    add_posts(con, texts, emb, truth, start)
    return con


def add_posts(
    con: duckdb.DuckDBPyConnection,
    texts: list[str],
    emb: np.ndarray,
    truth: list[str] | None = None,
    start: int = 0,
) -> list[str]:
    posts = [
        Post(
            post_id=f"x:{start + i}",
            platform="x",
            native_id=str(start + i),
            created_at=T0 + timedelta(minutes=37 * i),
            text=text,
            author_id=f"x:u{i}",
        )
        for i, text in enumerate(texts)
    ]
    store_batch(con, ParseResult(posts=posts), campaign="c")
    ids = [p.post_id for p in posts]
    table = pa.table(
        {
            "post_id": ids,
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(emb.ravel(), pa.float32()), DIM
            ),
        }
    )
    con.execute("SELECT 1").fetchall()
    con.register("_emb", table)
    con.execute(f"INSERT INTO embeddings SELECT post_id, '{MODEL}', embedding, now() FROM _emb")
    con.unregister("_emb")
    if truth:
        con.executemany(
            "INSERT INTO simulated_truth VALUES (?, ?, 'neutral', 'none', false)",
            list(zip(ids, truth, strict=True)),
        )
    con.execute("DELETE FROM post_facts")
    con.execute("INSERT INTO post_facts SELECT * FROM post_facts_live")
    return ids


def oracle_fit(texts: list[str], emb: np.ndarray, truth: list[str]) -> FitResult:
    """A FitResult whose topics are the true stories (no BERTopic needed)."""
    stories = list(STORIES)
    labels = np.array([stories.index(t) for t in truth])
    centroids = {}
    for t in range(len(stories)):
        c = emb[labels == t].mean(axis=0)
        centroids[t] = (c / np.linalg.norm(c)).astype(np.float32)
    return FitResult(
        labels=labels,
        reassigned=np.zeros(len(labels), dtype=bool),
        keywords={t: STORIES[s].split()[:3] for t, s in enumerate(stories)},
        names={t: s for t, s in enumerate(stories)},
        centroids=centroids,
        representatives={t: list(np.flatnonzero(labels == t)[:3]) for t in range(len(stories))},
    )


# ----------------------------------------------------------------------- tokenization


def test_analyzer_drops_stop_words_links_mentions_and_numbers_in_six_languages() -> None:
    terms = analyze(
        "@bob The new image model is great! https://t.co/x 2025 #StudioGhibli "
        "le style de l'artiste, el estilo de los artistas, der Stil und die Kunst, "
        "o estilo dos artistas, lo stile degli artisti"
    )
    assert {"image", "model", "image model", "studioghibli", "style", "artiste", "estilo"} <= set(
        terms
    )
    for gone in ("the", "is", "bob", "2025", "le", "de", "el", "der", "und", "dos", "degli", "l"):
        assert gone not in terms
    assert "new image" in terms and "great studioghibli" not in terms  # no bigram across "!"


def test_analyzer_splits_japanese_by_script() -> None:
    terms = analyze("うちの猫をジブリ風に変換した。宮崎駿の画風、著作権は？")
    assert {"ジブリ", "変換", "宮崎駿", "画風", "著作権"} <= set(terms)
    assert not any(t in terms for t in ("うちの", "した", "の", "は"))


def test_topic_names_skip_overlapping_terms() -> None:
    assert topic_name(["free users", "free tier", "tier", "capacity", "users"]) == (
        "free users / tier / capacity"
    )
    assert topic_name([]) == "(no keywords)"


def test_assign_takes_the_nearest_centroid_or_the_outlier_topic() -> None:
    centroids = np.eye(3, DIM, dtype=np.float32)
    emb = np.zeros((3, DIM), dtype=np.float32)
    emb[0, 1], emb[1, 2], emb[2, 3] = 1, 1, 1
    emb[1, 0] = 0.2
    topics, sims = assign(emb, np.array([5, 6, 7]), centroids, threshold=0.3)
    assert topics.tolist() == [6, 7, OUTLIER]
    assert sims[0] == pytest.approx(1.0)


def test_purity() -> None:
    assert purity(np.array([0, 0, 1, 1]), np.array(["a", "b", "b", "b"])) == 0.75


def test_keybert_on_stored_embeddings_prefers_central_frequent_terms() -> None:
    texts, emb, truth = corpus(40)
    stories = list(STORIES)
    docs = pd.DataFrame(
        {"Document": texts, "ID": range(len(texts)), "Topic": [stories.index(t) for t in truth]}
    )
    # Candidates as c-TF-IDF would give them: the story's words plus an off-topic one.
    candidates = {
        t: [(w, 1.0) for w in STORIES[s].split()] + [("midjourney", 0.1)]
        for t, s in enumerate(stories)
    }
    ranked = StoredEmbeddingKeyBERT(emb, top_n_words=5).extract_topics(None, docs, None, candidates)
    for t, s in enumerate(stories):
        words = [w for w, _ in ranked[t]]
        # the story's words, or its hashtag (every post of the topic has it): never the
        # off-topic candidate
        assert len(words) == 5 and set(words) <= {*STORIES[s].split(), s}


# ---------------------------------------------------------------- persistence and views


def test_stored_run_assigns_new_posts_by_centroid_without_refit() -> None:
    texts, emb, truth = corpus(30)
    con = warehouse(texts, emb, truth)
    settings = TopicSettings(assign_batch=7)
    post_ids = [f"x:{i}" for i in range(len(texts))]
    run = store_run(con, None, MODEL, settings, post_ids, emb, oracle_fit(texts, emb, truth))
    assert current_run(con, None) == (run, MODEL)
    assert assign_run(con, run, settings) == 0

    new_texts, new_emb, new_truth = corpus(5, seed=0)
    add_posts(con, new_texts, new_emb, new_truth, start=1000)
    assert assign_run(con, run, settings) == len(new_texts)
    assert assign_run(con, run, settings) == 0  # incremental: nothing left
    rows = con.execute(
        "SELECT t.name, count(*) FROM post_topics pt JOIN topics t USING (run_id, topic_id) "
        "JOIN simulated_truth s USING (post_id) WHERE pt.method = 'centroid' "
        "AND t.name = s.storyline GROUP BY 1"
    ).fetchall()
    assert sum(n for _, n in rows) == len(new_texts)
    quality = evaluate_run(con, run)
    assert quality["ari"] == pytest.approx(1.0) and quality["purity"] == 1.0


def test_topic_views_bin_shares_and_dominant_sentiment() -> None:
    texts, emb, truth = corpus(12)
    con = warehouse(texts, emb, truth)
    con.execute(
        "INSERT INTO labels SELECT post_id, 'sentiment', "
        "CASE WHEN storyline = 'capacity' THEN 'negative' ELSE 'positive' END, 0.9, NULL, 't', "
        "now() FROM simulated_truth"
    )
    con.execute("DELETE FROM post_facts")
    con.execute("INSERT INTO post_facts SELECT * FROM post_facts_live")
    post_ids = [f"x:{i}" for i in range(len(texts))]
    run = store_run(con, None, MODEL, TopicSettings(), post_ids, emb, oracle_fit(texts, emb, truth))
    for view, bin_ in (("topic_hourly", "hour_utc"), ("topic_daily", "day_utc")):
        sums = con.execute(
            f"SELECT {bin_}, sum(share) FROM {view} WHERE run_id = ? GROUP BY 1", [run]
        ).fetchall()
        assert sums and all(s == pytest.approx(1.0) for _, s in sums)
    dominant = dict(
        con.execute(
            "SELECT name, any_value(dominant_sentiment) FROM topic_daily GROUP BY 1"
        ).fetchall()
    )
    assert dominant == {
        "capacity": "negative",
        "ghibli": "positive",
        "copyright": "positive",
        "rivals": "positive",
    }
    overview = con.execute("SELECT sum(posts), sum(share) FROM topic_overview").fetchall()
    assert overview[0][0] == len(texts) and overview[0][1] == pytest.approx(1.0)


def test_refit_keeps_the_old_run() -> None:
    texts, emb, truth = corpus(10)
    con = warehouse(texts, emb, truth)
    post_ids = [f"x:{i}" for i in range(len(texts))]
    fit = oracle_fit(texts, emb, truth)
    first = store_run(con, None, MODEL, TopicSettings(), post_ids, emb, fit)
    second = store_run(con, None, MODEL, TopicSettings(), post_ids, emb, fit)
    assert current_run(con, None) == (second, MODEL)
    counts = con.execute(
        "SELECT run_id, count(*) FROM post_topics GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [(first, len(texts)), (second, len(texts))]


def test_no_embeddings_is_a_clear_error() -> None:
    con = connect(":memory:")
    with pytest.raises(ValueError, match="hypewatch analyze"):
        run_topics(con)


# ------------------------------------------------------------------- BERTopic (slow)

FAST = TopicSettings(reduction="pca", min_cluster_size=20, nr_topics=0, min_samples=5)


@pytest.mark.slow
def test_fit_finds_the_stories_reproducibly() -> None:
    texts, emb, truth = corpus(120)
    first = fit_topics(texts, emb, FAST)
    second = fit_topics(texts, emb, FAST)
    assert np.array_equal(first.labels, second.labels) and first.names == second.names
    assert len(first.centroids) == len(STORIES)
    assert (first.labels == OUTLIER).mean() <= 0.2
    assert purity(first.labels, np.array(truth)) >= 0.95
    for t, words in first.keywords.items():
        story = truth[int(np.flatnonzero(first.labels == t)[0])]
        assert set(words[:3]) & (set(STORIES[story].split()) | {story})
        assert len(first.representatives[t]) == 3


@pytest.mark.slow
def test_run_topics_end_to_end_with_refit_and_sampling() -> None:
    texts, emb, truth = corpus(120)
    con = warehouse(texts, emb, truth)
    settings = dataclasses.replace(FAST, fit_sample=300, assign_batch=50)
    report = run_topics(con, "c", settings=settings)
    assert report.refit and report.fit_posts == 300 and report.assigned == len(texts) - 300
    assert report.outlier_share <= 0.2 and report.quality["purity"] >= 0.95
    again = run_topics(con, "c", settings=settings)
    assert (again.run_id, again.refit, again.assigned) == (report.run_id, False, 0)
    refit = run_topics(con, "c", refit=True, settings=settings)
    assert refit.run_id != report.run_id
    same = con.execute(
        "SELECT count(*) FROM post_topics a JOIN post_topics b USING (post_id) "
        "WHERE a.run_id = ? AND b.run_id = ? AND a.topic_id = b.topic_id",
        [report.run_id, refit.run_id],
    ).fetchall()[0][0]
    assert same == len(texts)  # stable topic ids across reruns on the same data


@pytest.mark.slow
def test_a_new_encoder_refits_topics_and_languages_are_centred() -> None:
    texts, emb, truth = corpus(60)
    con = warehouse(texts, emb, truth)
    first = run_topics(con, "c", settings=FAST)
    # every post embedded again by another encoder: the next run refits in its space
    con.execute(
        "INSERT INTO embeddings SELECT post_id, 'other-encoder@test', embedding, now() "
        "FROM embeddings WHERE model_id = ?",
        [MODEL],
    )
    second = run_topics(con, "c", settings=FAST)
    assert second.refit and second.run_id != first.run_id
    assert current_run(con, "c") == (second.run_id, "other-encoder@test")
    params = json.loads(
        con.execute("SELECT params FROM topic_runs WHERE run_id = ?", [second.run_id]).fetchone()[0]
    )
    assert params["center_languages"] is True and "language_offsets" in params


def test_language_offsets_remove_a_language_shift() -> None:
    from analysis.topics import center_languages, language_offsets

    rng = np.random.default_rng(0)
    topic = rng.standard_normal((2, DIM))
    shift = 3 * rng.standard_normal(DIM)  # what the language adds to every post
    rows, langs, labels = [], [], []
    for t in range(2):
        for lang in ("en", "ja"):
            for _ in range(30):
                rows.append(
                    topic[t] + (shift if lang == "ja" else 0) + 0.3 * rng.standard_normal(DIM)
                )
                langs.append(lang)
                labels.append(t)
    emb = np.asarray(rows, dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    offsets = language_offsets(emb, langs)
    assert set(offsets) == {"en", "ja"}
    centred = center_languages(emb, langs, offsets)
    labels_arr, langs_arr = np.array(labels), np.array(langs)

    def cos(x: np.ndarray, a: tuple[int, str], b: tuple[int, str]) -> float:
        u = x[(labels_arr == a[0]) & (langs_arr == a[1])].mean(axis=0)
        v = x[(labels_arr == b[0]) & (langs_arr == b[1])].mean(axis=0)
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    # before: a Japanese post is closer to Japanese posts of another story than to the
    # same story in English; after centring, the other way round
    for x, story_wins in ((emb, False), (centred, True)):
        same_story = cos(x, (0, "en"), (0, "ja"))
        same_language = cos(x, (0, "ja"), (1, "ja"))
        assert (same_story > same_language) is story_wins
    # a language with too few posts is left as it is
    assert "ko" not in language_offsets(emb[:25], ["ko"] * 5 + ["en"] * 20)


def test_topics_command_updates_the_current_run(tmp_path) -> None:
    import typer
    from typer.testing import CliRunner

    from hypewatch.cli_topics import topics_command

    texts, emb, truth = corpus(10)
    db = tmp_path / "w.duckdb"
    con = connect(db)
    con.execute("SELECT 1").fetchall()
    add_posts(con, texts, emb, truth)
    fitted = list(range(0, len(texts), 2))  # half of each story
    fit = oracle_fit([texts[i] for i in fitted], emb[fitted], [truth[i] for i in fitted])
    store_run(con, None, MODEL, TopicSettings(), [f"x:{i}" for i in fitted], emb[fitted], fit)
    con.close()
    app = typer.Typer()
    app.command("topics")(topics_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["topics", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"{len(texts) - len(fitted)} more assigned" in result.output
    assert "ghibli" in result.output and "adjusted Rand index 1.000" in result.output
