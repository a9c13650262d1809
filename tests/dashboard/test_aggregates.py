"""refresh_aggregates keeps post_facts / post_entities equal to the views they materialize."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest

from dashboard import queries
from dashboard.queries import Filters
from tests.dashboard import CAMPAIGN, add_fake_embeddings, add_fake_labels, copy_of, warehouse
from warehouse.aggregates import refresh_aggregates, signatures
from warehouse.read import reading
from warehouse.writes import mark_write


def differences(con: duckdb.DuckDBPyConnection, table: str, view: str) -> int:
    return con.execute(
        f"SELECT count(*) FROM ((FROM {table} EXCEPT ALL FROM {view}) "
        f"UNION ALL (FROM {view} EXCEPT ALL FROM {table}))"
    ).fetchall()[0][0]


def assert_in_sync(con: duckdb.DuckDBPyConnection) -> None:
    assert differences(con, "post_facts", "post_facts_live") == 0
    assert differences(con, "post_entities", "post_entities_live") == 0
    assert differences(con, "topic_facts", "topic_facts_live") == 0
    unsigned = con.execute(
        "SELECT count(*) FROM embeddings ANTI JOIN post_signatures USING (post_id, model_id)"
    ).fetchall()[0][0]
    assert unsigned == 0


@pytest.fixture
def con(tmp_path: Path):
    path = copy_of(warehouse(labels=False, embeddings=False, refresh=False), tmp_path)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


def add_posts(con: duckdb.DuckDBPyConnection, suffix: str, n: int) -> None:
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _src AS
        SELECT * FROM posts WHERE NOT contains(post_id, '~') ORDER BY post_id LIMIT {n};
        INSERT INTO posts SELECT * REPLACE (post_id || '~{suffix}' AS post_id) FROM _src;
        INSERT INTO post_metrics SELECT post_id || '~{suffix}', now()::TIMESTAMP, 1, 2, 3, 4, 5
        FROM _src;
        """
    )
    mark_write(con, "ingest", n)


def test_incremental_refreshes_match_a_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    first = refresh_aggregates(con)
    assert first.mode == "full" and first.facts == 3000
    assert_in_sync(con)

    again = refresh_aggregates(con)
    assert (again.mode, again.facts, again.mentions, again.signatures) == ("incremental", 0, 0, 0)

    add_fake_labels(con)  # a first model becomes current: every post's labels change
    assert refresh_aggregates(con).mode == "relabel"
    assert_in_sync(con)

    add_posts(con, "a", 40)  # an ingest batch: new posts with engagement
    report = refresh_aggregates(con)
    assert report.mode == "incremental" and report.facts == 40
    assert_in_sync(con)

    con.execute(  # engagement of existing posts changes
        "INSERT INTO post_metrics SELECT post_id, now()::TIMESTAMP, 1000, 0, 0, 0, NULL "
        "FROM posts WHERE lower(text) LIKE '%ghibli%' LIMIT 25"
    )
    report = refresh_aggregates(con)
    assert report.facts == 25 and report.mentions > 0
    assert_in_sync(con)

    con.execute(  # a label of a newer run of the same model for one post
        "INSERT INTO labels SELECT post_id || '~a', task, label, score, probs, model_id, "
        "created_at FROM labels WHERE post_id IN (SELECT post_id FROM posts LIMIT 1) "
        "ON CONFLICT DO NOTHING"
    )
    refresh_aggregates(con)
    assert_in_sync(con)

    con.execute(  # the campaign gains an alias: every post is matched again
        "UPDATE entities SET aliases = list_append(aliases, 'image gen') "
        "WHERE entity = 'GPT-4o image'"
    )
    before = con.execute("SELECT count(*) FROM post_entities").fetchall()[0][0]
    refresh_aggregates(con)
    assert con.execute("SELECT count(*) FROM post_entities").fetchall()[0][0] >= before
    assert_in_sync(con)

    add_fake_embeddings(con)
    assert (
        refresh_aggregates(con).signatures
        == con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
    )
    assert_in_sync(con)

    con.execute(  # a second model labels a few posts and becomes current
        "INSERT INTO labels SELECT post_id, task, label, score, probs, 'model-2', "
        "now()::TIMESTAMP + INTERVAL 1 MINUTE FROM labels LIMIT 10"
    )
    assert refresh_aggregates(con).mode == "relabel"
    assert_in_sync(con)
    assert con.execute("SELECT count(sentiment) FROM post_facts").fetchall()[0][0] <= 10

    assert refresh_aggregates(con, full=True).mode == "full"
    assert_in_sync(con)


def add_topics(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """A topic run assigning the posts matching ``where`` (what `hypewatch topics` writes)."""
    run = con.execute(
        "INSERT INTO topic_runs (campaign, embedding_model, created_at, fit_posts, topics, "
        "params) VALUES (?, 'm', now()::TIMESTAMP, 0, 3, '{}') RETURNING run_id",
        [CAMPAIGN],
    ).fetchall()[0][0]
    con.execute(
        f"INSERT INTO post_topics SELECT {run}, post_id, (hash(post_id) % 3)::INTEGER - 1, "
        f"0.5, 'fit', now()::TIMESTAMP FROM posts WHERE {where}"
    )
    mark_write(con, "topics", 1)


def set_flags(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Replace the flags, as `hypewatch trends` does."""
    con.execute("DELETE FROM post_flags")
    con.execute(
        "INSERT INTO post_flags SELECT post_id, campaign, 'near_duplicate', 1, "
        f"now()::TIMESTAMP FROM posts WHERE {where}"
    )
    mark_write(con, "flags", 1)


def test_topic_facts_follow_topics_flags_and_facts(con: duckdb.DuckDBPyConnection) -> None:
    refresh_aggregates(con)
    add_topics(con, "hash(post_id) % 2 = 0")
    assert refresh_aggregates(con).topics > 1000
    assert_in_sync(con)

    set_flags(con, "hash(post_id) % 10 = 0")
    assert refresh_aggregates(con).topics > 0
    assert con.execute("SELECT count(flag) FROM topic_facts").fetchall()[0][0] > 0
    assert_in_sync(con)

    set_flags(con, "hash(post_id) % 10 = 1")  # others flagged, the old flags cleared
    refresh_aggregates(con)
    assert_in_sync(con)

    con.execute(  # engagement of posts with topics changes
        "INSERT INTO post_metrics SELECT post_id, now()::TIMESTAMP, 777, 0, 0, 0, NULL "
        "FROM post_topics LIMIT 30"
    )
    refresh_aggregates(con)
    assert (
        con.execute("SELECT count(*) FROM topic_facts WHERE engagement = 777").fetchall()[0][0]
        == con.execute(
            "SELECT count(*) FROM post_topics WHERE post_id IN "
            "(SELECT post_id FROM post_metrics WHERE likes = 777)"
        ).fetchall()[0][0]
    )
    assert_in_sync(con)

    add_posts(con, "t", 20)  # new posts, then a second run assigning them and others
    refresh_aggregates(con)
    add_topics(con, "contains(post_id, '~t') OR hash(post_id) % 5 = 0")
    refresh_aggregates(con)
    assert_in_sync(con)

    add_fake_labels(con)  # labels of every post: rebuilt
    assert refresh_aggregates(con).mode == "relabel"
    assert_in_sync(con)
    again = refresh_aggregates(con)
    assert (again.facts, again.topics) == (0, 0)

    assert refresh_aggregates(con, full=True).mode == "full"
    assert_in_sync(con)


def test_whole_word_alias_matching(con: duckdb.DuckDBPyConnection) -> None:
    def matches(text: str, alias: str) -> bool:
        return con.execute("SELECT mentions_alias(lower(?), lower(?))", [text, alias]).fetchall()[
            0
        ][0]

    assert matches("I love Reve's images", "Reve")
    assert matches("REVE!", "reve")
    assert not matches("It revealed a lot", "Reve")
    assert not matches("imagenes nuevas", "Imagen")
    assert matches("ジブリ風の画像", "ジブリ")
    assert matches("Trying #midjourney today", "#midjourney")
    assert matches("gpt-4o, gpt4o and GPT-4o image", "gpt-4o image")
    assert matches("first reveal, then Reve", "reve")


def test_signatures_are_sign_bits() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((5, 384)).astype(np.float32)
    words = signatures(vectors)
    assert words.shape == (5, 6) and words.dtype == np.int64
    bits = np.unpackbits(words.view(np.uint8), axis=1)
    assert (bits == (vectors > 0)).all()


def test_similar_posts_agree_with_exact_cosine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = warehouse()
    f = Filters(CAMPAIGN, date(2025, 3, 20), date(2025, 4, 4), platforms=("x",))
    with reading(path) as con:
        post = con.execute("SELECT post_id FROM post_facts ORDER BY post_id LIMIT 1").fetchall()[0][
            0
        ]
        approx = queries.similar_posts(con, post, f, limit=10)
        monkeypatch.setattr(queries, "SIMILAR_CANDIDATES", 100_000)  # every post re-ranked
        exact = queries.similar_posts(con, post, f, limit=10)
        truth = con.execute(
            """
            WITH q AS (SELECT embedding FROM embeddings WHERE post_id = $p)
            SELECT e.post_id FROM embeddings e JOIN posts p ON p.post_id = e.post_id CROSS JOIN q
            WHERE e.post_id <> $p AND p.platform = 'x'
            ORDER BY array_cosine_similarity(e.embedding, q.embedding) DESC, e.post_id LIMIT 10
            """,
            {"p": post},
        ).fetchall()
    assert exact["post_id"].tolist() == [r[0] for r in truth]
    assert set(exact["platform"]) == {"x"}
    assert len(set(approx["post_id"]) & set(exact["post_id"])) >= 5
