"""The one collector interface and the one retry policy.

A :class:`Collector` turns a campaign into :class:`Request` s (one per query, hashtag or
subreddit, each with a stable ``query`` key) and fetches one request as
:class:`Page` s of native JSON, each with the cursor to store with it.
:mod:`ingest.collectors.driver` runs collectors and stores their pages.

Errors: collectors map their library's exceptions onto four kinds (see
:meth:`Collector.classify`). :class:`RetryPolicy` retries :class:`Transient` errors (5xx,
timeouts) with exponential backoff and jitter and waits out :class:`RateLimited` ones
until the reset time, up to ``collect_max_wait_s``; then the run ends ``partial`` and the
next query continues. :class:`SourceStopped` (bad credentials, access tier, monthly cap)
ends the whole source at once. Every message stored or logged goes through
:func:`~ingest.collectors.redaction.redact`.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import orjson
import tenacity

from ingest.collectors.redaction import redact, register_secret, secret_value
from ingest.model import Reject

if TYPE_CHECKING:
    from hypewatch.campaigns import Campaign
    from hypewatch.settings import Settings

log = logging.getLogger("hypewatch.collect")
T = TypeVar("T")

MAX_REJECT_TEXT = 65_536
"""Longest raw text kept for a malformed page (the rest is cut)."""


# --------------------------------------------------------------------------- errors


class CollectorError(Exception):
    """One request failed; the run ends ``failed`` and the next query continues."""


class Transient(CollectorError):
    """5xx, timeout, dropped connection: retried with exponential backoff and jitter."""


class RateLimited(CollectorError):
    """429: retried once the limit resets (``reset_at``, epoch seconds, when known)."""

    def __init__(self, message: str, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class SourceStopped(CollectorError):
    """Credentials, access tier or monthly cap: the whole source stops, no retry."""


class MalformedPage(CollectorError):
    """A response that is not the JSON it should be; ``text`` is what came back."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class Incomplete(CollectorError):
    """Raised by a collector after its last page: the run is ``partial`` (message says why)."""


def reset_from_headers(headers: Mapping[str, Any] | None, now: float) -> float | None:
    """The epoch time a rate limit resets, from any of the headers platforms use.

    ``x-rate-limit-reset`` (X, epoch seconds), ``ratelimit-reset`` (Bluesky, epoch
    seconds), ``x-ratelimit-reset`` (Mastodon: an ISO time; Reddit: seconds from now) and
    ``Retry-After`` (seconds or an HTTP date). Numbers below 10^9 are seconds from now.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for key in ("retry-after", "x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"):
        value = lowered.get(key, "").strip()
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return number if number >= 1e9 else now + number
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    return None


# --------------------------------------------------------------------------- retry policy


@dataclass
class RetryPolicy:
    """The one retry policy of all collectors (tenacity underneath).

    - :class:`Transient`: exponential backoff with full jitter (``backoff`` x 2^n, capped at
      ``backoff_max``), ``attempts`` attempts in all;
    - :class:`RateLimited`: wait until the reset time plus one second when it is at most
      ``max_wait`` away (backoff when the platform gave no reset time); a later reset is
      not waited for: the error goes up and the run ends ``partial``;
    - anything else goes up at once.

    ``sleep`` and ``clock`` are injectable so tests never sleep.
    """

    attempts: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    max_wait: float = 900.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> RetryPolicy:
        return cls(
            attempts=max(1, settings.collect_retry_attempts),
            backoff_max=settings.collect_backoff_max_s,
            max_wait=settings.collect_max_wait_s,
            sleep=sleep,
            clock=clock,
        )

    def rate_limit_wait(self, exc: RateLimited) -> float | None:
        """Seconds until ``exc`` resets (plus one), or ``None`` when unknown."""
        if exc.reset_at is None:
            return None
        return max(0.0, exc.reset_at - self.clock()) + 1.0

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, Transient):
            return True
        if isinstance(exc, RateLimited):
            wait = self.rate_limit_wait(exc)
            return wait is None or wait <= self.max_wait
        return False

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            wait = self.rate_limit_wait(exc)
            if wait is not None:
                return min(wait, self.max_wait)
        jitter = tenacity.wait_random_exponential(multiplier=self.backoff, max=self.backoff_max)
        return jitter(state)

    def call(self, fn: Callable[[], T], what: str = "request") -> T:
        """``fn()`` under the policy; the last error goes up when attempts run out."""

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s: %s; retry %d/%d in %.1f s",
                what,
                redact(exc),
                state.attempt_number,
                self.attempts - 1,
                wait,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RateLimited as exc:
            wait = self.rate_limit_wait(exc)
            if wait is not None and wait > self.max_wait:
                reset = datetime.fromtimestamp(exc.reset_at or 0, tz=UTC)
                raise RateLimited(
                    f"{exc}; the limit resets at {reset:%Y-%m-%d %H:%M:%S} UTC, "
                    f"{wait:.0f} s away, more than the {self.max_wait:.0f} s allowed "
                    "(HYPEWATCH_COLLECT_MAX_WAIT_S): run again later to continue",
                    exc.reset_at,
                ) from exc
            raise RateLimited(f"{exc} (gave up after {self.attempts} attempts)") from exc
        except Transient as exc:
            raise Transient(f"{exc} (gave up after {self.attempts} attempts)") from exc


# --------------------------------------------------------------------------- interface


@dataclass(frozen=True)
class Request:
    """One thing to fetch for a campaign: a query, a hashtag on an instance, a subreddit.

    ``query`` is the stable key stored in ``collection_runs.query``: the cursor of the
    next run is looked up by ``(source, query)``. ``describe`` is the human-readable line
    shown by ``--dry-run`` (never a secret).
    """

    source: str
    query: str
    describe: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """One fetched page: native JSON for the ``format`` parser, and where to resume.

    ``next_cursor`` is stored with the page's posts in one transaction; ``None`` keeps
    the stored cursor (a page that must not move it, e.g. a comment thread). ``payload``
    may be ``None`` (a request that stored nothing, e.g. an HN slice that was split).
    ``rejects`` are records the collector itself could not use (a malformed page).
    """

    format: str
    payload: Any = None
    next_cursor: str | None = None
    requests: int = 1
    rejects: list[Reject] = field(default_factory=list)


def encode_cursor(state: Mapping[str, Any]) -> str:
    """A cursor as the small JSON object stored in ``collection_runs.cursor_after``."""
    return orjson.dumps({k: v for k, v in state.items() if v is not None}).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    """The stored cursor as a dict; an unreadable one is ignored (logged) -> ``{}``."""
    if not cursor:
        return {}
    try:
        state = orjson.loads(cursor)
    except orjson.JSONDecodeError:
        log.warning("ignoring unreadable stored cursor %r", cursor[:200])
        return {}
    return state if isinstance(state, dict) else {}


def malformed_page(fmt: str, what: str, exc: MalformedPage) -> Page:
    """A page holding one reject for a response that could not be read."""
    text = redact(exc.text)
    if len(text) > MAX_REJECT_TEXT:
        text = text[:MAX_REJECT_TEXT] + "…[cut]"
    return Page(fmt, None, None, 1, [Reject(fmt, f"{fmt}: malformed page ({what}): {exc}", text)])


class Collector(ABC):
    """One live source. Subclasses set ``name``, ``format`` and implement three methods.

    - :meth:`requests`: what to fetch for a campaign;
    - :meth:`pages`: fetch one request from a stored cursor, page by page, newest cursor
      on each page, every HTTP call through :meth:`call`;
    - :meth:`classify`: map the client library's exceptions onto this module's errors.
    """

    name: ClassVar[str]
    format: ClassVar[str]
    required_env: ClassVar[tuple[str, ...]] = ()
    """Environment variables that must be set, else the source is skipped."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.retry = RetryPolicy.from_settings(settings, sleep=sleep, clock=clock)
        self.max_pages = max(0, settings.collect_max_pages)
        for secret in (
            settings.x_bearer_token,
            settings.bluesky_app_password,
            settings.mastodon_access_token,
            settings.reddit_client_secret,
        ):
            register_secret(secret_value(secret))

    @classmethod
    def missing_credentials(cls, settings: Settings) -> list[str]:
        """The ``required_env`` variables whose setting is empty."""
        missing = []
        for env in cls.required_env:
            value = getattr(settings, env.removeprefix("HYPEWATCH_").lower(), None)
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            if not value:
                missing.append(env)
        return missing

    def notes(self) -> list[str]:
        """One-line remarks for the user (e.g. a part skipped for lack of credentials)."""
        return []

    @abstractmethod
    def requests(self, campaign: Campaign) -> list[Request]:
        """What to fetch for ``campaign``, one request per query/hashtag/subreddit."""

    @abstractmethod
    def pages(
        self, request: Request, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        """Fetch ``request`` from ``cursor`` (or ``since``) up to ``until``, page by page."""

    def classify(self, exc: Exception) -> CollectorError | None:
        """This source's library exception -> one of this module's errors (or ``None``)."""
        return None

    def describe_cursor(self, cursor: str | None) -> str:
        """The stored cursor in words, for ``resume at``."""
        state = decode_cursor(cursor)
        if not state:
            return "start of window"
        return ", ".join(f"{k}={v}" for k, v in state.items())

    def plan(self, campaign: Campaign, since: datetime, until: datetime) -> list[str]:
        """The requests a run would make, in words (for ``--dry-run``; no secrets)."""
        window = f"{since:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC"
        return [f"{r.describe} [{window}]" for r in self.requests(campaign)]

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, one HTTP call, under the retry policy; library errors
        are classified first (:meth:`classify`)."""

        def attempt() -> T:
            try:
                return fn(*args, **kwargs)
            except CollectorError:
                raise
            except Exception as exc:
                mapped = self.classify(exc)
                if mapped is None:
                    raise
                raise mapped from exc

        return self.retry.call(attempt, what)

    def page_limit_reached(self, pages_done: int) -> bool:
        """Whether ``collect_max_pages`` pages were fetched for this request."""
        return bool(self.max_pages) and pages_done >= self.max_pages

    def page_limit_error(self) -> Incomplete:
        return Incomplete(
            f"stopped after {self.max_pages} pages (HYPEWATCH_COLLECT_MAX_PAGES); "
            "the next run continues from here"
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
