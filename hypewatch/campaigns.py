"""Campaign files: a campaign is a TOML file (``campaigns/NAME.toml``), nothing more.

A campaign names its time window, the queries per platform, the entities it tracks (with
aliases, for share of voice), dated events (for timeline annotations) and alert thresholds
(``[alerts]``, see docs/metrics.md#alerts). See
``campaigns/gpt4o-image-launch.toml`` for a complete example.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class CampaignError(Exception):
    """A campaign file is missing or invalid (the message names the file and the field)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Queries(_Strict):
    x: list[str] = Field(default_factory=list, description="X API v2 search queries")
    bluesky: list[str] = Field(default_factory=list, description="Bluesky search terms")
    mastodon_hashtags: list[str] = Field(default_factory=list)
    mastodon_instances: list[str] = Field(default_factory=list)
    reddit_subreddits: list[str] = Field(default_factory=list)
    reddit: list[str] = Field(default_factory=list, description="Reddit search queries")
    hn: list[str] = Field(default_factory=list, description="Hacker News Algolia queries")
    keywords: list[str] = Field(default_factory=list, description="keywords for stream filters")


class Entity(_Strict):
    name: str
    kind: str = "product"
    aliases: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _name_is_an_alias(self) -> Entity:
        if self.name not in self.aliases:
            self.aliases.insert(0, self.name)
        return self


class Event(_Strict):
    at: datetime
    title: str
    kind: str = "event"
    description: str = ""
    url: str = ""

    @field_validator("at", mode="before")
    @classmethod
    def _date_or_datetime(cls, value: object) -> object:
        if hasattr(value, "year") and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Alerts(_Strict):
    """The ``[alerts]`` table: a rule fires when a bucket crosses its threshold (docs/metrics.md).

    A rule left out is off. The webhook URL is a secret and lives in the settings
    (``HYPEWATCH_ALERT_WEBHOOK_URL``), never in a campaign file.
    """

    spike_score: float | None = Field(default=None, gt=0)
    """Robust spike score of an hour of all posts (also the spike threshold of the trends)."""
    negative_share: float | None = Field(default=None, gt=0, le=1)
    """Share of a UTC day's sentiment-labelled posts that are negative."""
    concern_share: float | None = Field(default=None, gt=0, le=1)
    """Share of a UTC day's copyright-labelled posts labelled ``concern``."""
    min_posts: int = Field(default=50, ge=1)
    """Posts a bucket needs before any rule may fire on it (labelled posts for the shares)."""

    def rules(self) -> dict[str, float]:
        """The rules that are on, with their thresholds."""
        names = ("spike_score", "negative_share", "concern_share")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class Campaign(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    description: str = ""
    start: datetime
    end: datetime
    queries: Queries = Field(default_factory=Queries)
    entities: list[Entity] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    alerts: Alerts = Field(default_factory=Alerts)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _window(self) -> Campaign:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


def load_campaign(path: Path) -> Campaign:
    """Read and validate one campaign file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CampaignError(f"campaign file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{path} is not valid TOML: {exc}") from None
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise CampaignError(f"{path}: {problems}") from None


def find_campaign(name_or_path: str, campaigns_dir: Path) -> Campaign:
    """A campaign by name (``campaigns_dir/NAME.toml``) or by file path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = campaigns_dir / f"{name_or_path}.toml"
    if not path.exists():
        known = sorted(p.stem for p in campaigns_dir.glob("*.toml"))
        raise CampaignError(f"no campaign {name_or_path!r} (known: {', '.join(known) or 'none'})")
    return load_campaign(path)
