"""The one place for settings: environment variables (``HYPEWATCH_*``) or a ``.env`` file.

Secrets (API tokens, passwords) are ``SecretStr``: they print as ``**********`` and are
never written to logs, errors or the warehouse.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    # analysis
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    batch_size: int = 64

    # dashboard
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8501
    dashboard_password: SecretStr | None = None

    # collector credentials (see docs/collectors.md)
    x_bearer_token: SecretStr | None = None
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None
    mastodon_access_token: SecretStr | None = None
    reddit_client_id: str | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_user_agent: str = "hypewatch/0.1 (trend monitor)"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
