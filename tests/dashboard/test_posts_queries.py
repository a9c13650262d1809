"""The Posts page's queries return exactly what a plain query of the base tables returns.

Each case is checked against a reference written straight on ``posts``, the ``*_live``
views and ``embeddings`` (no aggregate, no shortcut), so the fast paths of
:mod:`dashboard.queries` can change without changing a row or the order of rows.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from dashboard import queries
from dashboard.queries import SORTS, Filters, PostFilters
from tests.dashboard import CAMPAIGN, warehouse
from warehouse.read import reading

WIDE = Filters(CAMPAIGN, date(2025, 3, 20), date(2025, 4, 4))
NARROW = Filters(
    CAMPAIGN, date(2025, 3, 25), date(2025, 3, 28), platforms=("x", "bluesky"), langs=("en", "ja")
)
EVERYWHERE = Filters(None, date(2025, 3, 1), date(2025, 4, 30))


def escape_like(text: str) -> str:
    """Match ``text`` literally inside ``ILIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def reference_posts(con: duckdb.DuckDBPyConnection, f: Filters, pf: PostFilters) -> list[str]:
    """The ids ``queries.posts`` must return, in order, from the base tables."""
    cond, params = queries.where(f)
    extra = []
    if pf.sentiment:
        extra.append("f.sentiment = $sentiment")
        params["sentiment"] = pf.sentiment
    if pf.copyright:
        extra.append("f.copyright = $copyright")
        params["copyright"] = pf.copyright
    if pf.entity:
        extra.append("f.post_id IN (SELECT post_id FROM post_entities_live WHERE entity = $e)")
        params["e"] = pf.entity
    if pf.search.strip():
        extra.append("p.text ILIKE $pattern ESCAPE '\\'")
        params["pattern"] = "%" + escape_like(pf.search.strip()) + "%"
    params["limit"] = pf.limit
    rows = con.execute(
        f"""
        SELECT f.post_id FROM post_facts_live f JOIN posts p USING (post_id)
        WHERE {" AND ".join([cond, *extra])}
        ORDER BY {SORTS[pf.sort]}, f.post_id LIMIT $limit
        """,
        params,
    ).fetchall()
    return [r[0] for r in rows]


CASES = [
    PostFilters(),
    PostFilters(search="ghibli"),
    PostFilters(search="GHIBLI", sort="newest"),
    PostFilters(search="ジブリ"),
    PostFilters(search="50%"),
    PostFilters(search="a_b"),
    PostFilters(search="  style  ", sentiment="negative"),
    PostFilters(search="zzzz-no-such-text"),
    PostFilters(sentiment="negative", copyright="concern", sort="concern"),
    PostFilters(entity="Midjourney"),
    PostFilters(entity="Midjourney", search="ghibli", sort="oldest"),
    PostFilters(entity="Midjourney", sentiment="positive", sort="most positive"),
    PostFilters(copyright="none", sort="most negative", limit=50),
    PostFilters(sort="newest", limit=1000),
]


@pytest.mark.parametrize("f", [WIDE, NARROW, EVERYWHERE], ids=["wide", "narrow", "all"])
@pytest.mark.parametrize("pf", CASES, ids=[repr(c) for c in CASES])
def test_posts_match_the_reference(f: Filters, pf: PostFilters) -> None:
    with reading(warehouse()) as con:
        got = queries.posts(con, f, pf)
        want = reference_posts(con, f, pf)
    assert got["post_id"].tolist() == want
    assert list(got.columns) == queries.POST_COLUMNS
    if pf.search.strip():
        needle = pf.search.strip().lower()
        assert all(needle in text.lower() for text in got["text"])


def test_search_matches_something() -> None:
    """The search cases above are not all empty (a reference that matches nothing pins
    nothing)."""
    with reading(warehouse()) as con:
        assert len(queries.posts(con, WIDE, PostFilters(search="ghibli"))) > 20
        assert len(queries.posts(con, WIDE, PostFilters(entity="Midjourney"))) > 20


def reference_similar(
    con: duckdb.DuckDBPyConnection, post_id: str, f: Filters | None, limit: int
) -> list[str]:
    """Hamming distance of the sign bits over the filtered posts, the best
    :data:`queries.SIMILAR_CANDIDATES` re-ranked by exact cosine: from the base tables."""
    cond, params = queries.where(f) if f is not None else ("TRUE", {})
    rows = con.execute(
        f"""
        WITH q AS (SELECT embedding FROM embeddings WHERE post_id = $p),
        bits AS (
            SELECT e.post_id, e.embedding,
                   list_sum([((z[1] > 0) <> (z[2] > 0))::INTEGER
                             FOR z IN list_zip(e.embedding::FLOAT[], q.embedding::FLOAT[])])
                       AS hamming,
                   array_cosine_similarity(e.embedding, q.embedding) AS similarity
            FROM embeddings e CROSS JOIN q
            WHERE e.post_id <> $p
              AND e.post_id IN (SELECT f.post_id FROM post_facts_live f WHERE {cond})
        ),
        candidates AS (
            SELECT * FROM bits ORDER BY hamming, post_id LIMIT $n
        )
        SELECT post_id FROM candidates ORDER BY similarity DESC, post_id LIMIT $limit
        """,
        {**params, "p": post_id, "n": queries.SIMILAR_CANDIDATES, "limit": limit},
    ).fetchall()
    return [r[0] for r in rows]


EMPTY = Filters(CAMPAIGN, date(2030, 1, 1), date(2030, 1, 2))


@pytest.mark.parametrize(
    "f", [WIDE, NARROW, EMPTY, None], ids=["wide", "narrow", "empty", "unscoped"]
)
def test_similar_posts_match_the_reference(f: Filters | None) -> None:
    with reading(warehouse()) as con:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT post_id FROM post_facts WHERE platform = 'x' "
                "ORDER BY engagement DESC, post_id LIMIT 3"
            ).fetchall()
        ]
        for post_id in ids:
            got = queries.similar_posts(con, post_id, f, limit=10)
            assert got["post_id"].tolist() == reference_similar(con, post_id, f, 10)
            assert got["similarity"].is_monotonic_decreasing
