"""How well the current labels and topics match the simulator's truth (the demo warehouse).

Every simulated post has its generated storyline, sentiment and copyright stance in
``simulated_truth``. :func:`label_quality` compares the current labels (``post_labels``)
with it per language, as an analyst would read the Sentiment and Copyright pages;
:func:`topic_quality` scores the current topic run against the storylines and says how
much each large topic is one language. ``hypewatch eval-demo`` prints both.

Languages are grouped by the platform's own tag (``posts.lang``; ``(none)`` for Reddit and
Hacker News, which have none), the simulator's language for every tagged post.
"""

from __future__ import annotations

from typing import Any

import duckdb

LABEL_SQL = """
SELECT
    coalesce(p.lang, '(none)') AS lang,
    count(*) AS posts,
    avg((l.sentiment = t.sentiment)::INTEGER) AS sentiment_accuracy,
    avg((l.sentiment = 'positive')::INTEGER) AS predicted_positive,
    avg((t.sentiment = 'positive')::INTEGER) AS true_positive,
    avg((l.sentiment = 'negative')::INTEGER) AS predicted_negative,
    avg((t.sentiment = 'negative')::INTEGER) AS true_negative,
    count(*) FILTER (WHERE l.copyright = 'concern') AS predicted_concern,
    count(*) FILTER (WHERE t.copyright = 'concern') AS true_concern,
    count(*) FILTER (WHERE l.copyright = 'concern' AND t.copyright = 'concern')
        / nullif(count(*) FILTER (WHERE l.copyright = 'concern'), 0) AS copyright_precision,
    count(*) FILTER (WHERE l.copyright = 'concern' AND t.copyright = 'concern')
        / nullif(count(*) FILTER (WHERE t.copyright = 'concern'), 0) AS copyright_recall
FROM posts p
JOIN simulated_truth t USING (post_id)
JOIN post_labels l USING (post_id)
WHERE l.sentiment IS NOT NULL AND l.copyright IS NOT NULL
  AND ($campaign::VARCHAR IS NULL OR p.campaign = $campaign)
GROUP BY ALL
ORDER BY posts DESC, lang
"""


def label_quality(con: duckdb.DuckDBPyConnection, campaign: str | None = None) -> list[dict]:
    """One row per language (and one ``all`` row): posts, sentiment accuracy, predicted
    and true positive/negative shares, copyright precision and recall."""
    cursor = con.execute(LABEL_SQL, {"campaign": campaign})
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    if rows:
        total = con.execute(
            LABEL_SQL.replace("coalesce(p.lang, '(none)')", "'all'"), {"campaign": campaign}
        ).fetchone()
        rows.append(dict(zip(columns, total, strict=True)))
    return rows


def topic_quality(
    con: duckdb.DuckDBPyConnection, campaign: str | None = None, top: int = 10
) -> dict[str, Any] | None:
    """The current run's adjusted Rand index vs the storylines, and for each of its
    ``top`` largest topics: size, name, dominant platform language and its share."""
    from analysis.topics import current_run, evaluate_run

    run = current_run(con, campaign)
    if run is None:
        return None
    run_id = run[0]
    quality = evaluate_run(con, run_id) or {}
    topics = con.execute(
        """
        WITH per_lang AS (
            SELECT pt.topic_id, coalesce(p.lang, '(none)') AS lang, count(*) AS n
            FROM post_topics pt JOIN posts p USING (post_id)
            WHERE pt.run_id = $run AND pt.topic_id >= 0
            GROUP BY ALL
        )
        SELECT t.topic_id, t.name, sum(n) AS posts, arg_max(lang, n) AS top_lang,
               max(n) / sum(n) AS top_lang_share
        FROM per_lang JOIN topics t ON t.run_id = $run AND t.topic_id = per_lang.topic_id
        GROUP BY ALL ORDER BY posts DESC LIMIT $top
        """,
        {"run": run_id, "top": top},
    ).fetchall()
    keys = ("topic_id", "name", "posts", "top_lang", "top_lang_share")
    return {
        "run_id": run_id,
        **quality,
        "largest": [dict(zip(keys, row, strict=True)) for row in topics],
    }
