"""Re-parse stored raw payloads with the current parsers (after a parser fix).

Each post's LATEST raw payload (``raw_payloads``, newest ``collected_at``) goes through
the parser of its format again and is stored with ``store_batch``: a post whose fields
changed is updated in place, an unchanged one is left alone, nothing is duplicated. One
collection run per format (``source = 'reparse:FORMAT'``) records the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb
import orjson

from hypewatch.parse_pool import gc_paused
from ingest.model import ParseResult, Reject
from ingest.parsers import FORMATS, get_format
from warehouse.writes import WriteCounts, finish_run, start_run, store_batch

BATCH = 5_000
"""Payloads parsed per transaction."""

_LATEST = """
    SELECT r.post_id, r.payload, p.campaign
    FROM raw_payloads r JOIN posts p USING (post_id)
    WHERE r.format = ? AND r.post_id > ?
    QUALIFY row_number() OVER (
        PARTITION BY r.post_id ORDER BY r.collected_at DESC, r.payload_md5
    ) = 1
    ORDER BY r.post_id
    LIMIT ?
"""


def _only(result: ParseResult, post_id: str) -> ParseResult:
    """The part of ``result`` about ``post_id``: a payload may also carry other posts
    (a reply's parent, a quoted tweet) whose own latest payload is newer."""
    posts = [p for p in result.posts if p.post_id == post_id]
    authors = {p.author_id for p in posts}
    return ParseResult(
        posts=posts,
        authors=[a for a in result.authors if a.author_id in authors],
        raw=[r for r in result.raw if r.post_id == post_id],
        rejects=result.rejects,
    )


def stored_formats(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The payload formats present in ``raw_payloads``."""
    query = "SELECT DISTINCT format FROM raw_payloads ORDER BY 1"
    return [r[0] for r in con.execute(query).fetchall()]


def reparse(
    con: duckdb.DuckDBPyConnection,
    formats: Sequence[str] | None = None,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> WriteCounts:
    """Re-parse the latest raw payload of every post (of ``formats``, default all)."""
    for fmt in formats or ():
        get_format(fmt)  # unknown format: fail before touching anything
    chosen = list(formats) if formats else [f for f in stored_formats(con) if f in FORMATS]
    totals = WriteCounts()
    with gc_paused():  # a bulk load, like an import (see hypewatch.parse_pool.gc_paused)
        for fmt in chosen:
            totals.add(_reparse_format(con, fmt, batch, progress))
    return totals


def _reparse_format(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    batch: int,
    progress: Callable[[int], None] | None,
) -> WriteCounts:
    parse = get_format(fmt).parse
    run_id = start_run(con, f"reparse:{fmt}", query="latest raw payload of each post")
    totals = WriteCounts()
    after = ""
    try:
        while True:
            rows = con.execute(_LATEST, [fmt, after, batch]).fetchall()
            if not rows:
                break
            after = rows[-1][0]
            by_campaign: dict[str | None, ParseResult] = {}
            for post_id, payload, campaign in rows:
                result = by_campaign.setdefault(campaign, ParseResult())
                try:
                    parsed = parse(orjson.loads(payload))
                except orjson.JSONDecodeError as exc:
                    reason = f"{fmt}: stored payload unreadable: {exc}"
                    result.rejects.append(Reject(fmt, reason, payload))
                    continue
                result.extend(_only(parsed, post_id))
            for campaign, result in by_campaign.items():
                totals.add(store_batch(con, result, campaign=campaign, run_id=run_id))
            if progress:
                progress(len(rows))
    except BaseException as exc:
        finish_run(con, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finish_run(con, run_id, "ok")
    return totals
