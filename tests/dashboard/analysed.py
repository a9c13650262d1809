"""A test warehouse after the topics and trends stages, with alerts: built once per session.

It starts from the labelled test warehouse of :mod:`tests.dashboard` (FAKE labels and
embeddings derived from the simulator's truth), then runs the REAL stages on it:
``analysis.topics.run_topics`` (PCA instead of UMAP, so the fit takes seconds; BERTopic,
HDBSCAN and the c-TF-IDF names are the real ones) and ``analysis.trends.run_trends``
(duplicate flags, spikes). Alerts are inserted as rows of the ``alerts`` table (migration
0006), one per stored spike and one concern-share day, as the alerts step would store them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from analysis.topics import TopicSettings, run_topics
from analysis.trends import run_trends
from tests.dashboard import CAMPAIGN, _root, warehouse
from warehouse.db import connect

FAST_TOPICS = TopicSettings(
    reduction="pca", min_cluster_size=20, min_samples=5, nr_topics=12, representation="ctfidf"
)
CONCERN_ALERT_DAY = "2025-03-27"

_built: list[Path] = []


def analysed_warehouse() -> Path:
    """Labelled test warehouse + topics + trends + alerts (read-only use: do not write)."""
    if not _built:
        path = _root / "analysed.duckdb"
        shutil.copy(warehouse(), path)
        con = connect(path)
        try:
            run_topics(con, CAMPAIGN, settings=FAST_TOPICS)
            run_trends(con, CAMPAIGN)
            con.execute(
                """
                INSERT INTO alerts (alert_id, campaign, rule, bucket_start, grain, value,
                                    threshold, posts, message, fired_at)
                SELECT 'test-spike-' || spike_id, campaign, 'spike_score', peak_hour, 'hour',
                       peak_score, threshold, peak_posts,
                       'Volume spike: ' || peak_posts || ' posts in the hour (score '
                           || round(peak_score, 1) || ' ≥ ' || threshold || ')',
                       now()::TIMESTAMP
                FROM spikes WHERE series = 'all'
                """
            )
            con.execute(
                """
                INSERT INTO alerts (alert_id, campaign, rule, bucket_start, grain, value,
                                    threshold, posts, message, fired_at)
                VALUES ('test-concern', ?, 'concern_share', ?::TIMESTAMP, 'day', 0.42, 0.3,
                        500, 'Copyright concern in 42% of labelled posts (threshold 30%)',
                        now()::TIMESTAMP)
                """,
                [CAMPAIGN, CONCERN_ALERT_DAY],
            )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _built.append(path)
    return _built[0]
