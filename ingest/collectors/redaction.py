"""Secrets never leave the process: :func:`redact` cleans every message that is stored
or logged, and a logging filter cleans what third-party clients log (tweepy logs request
headers at DEBUG).

Collectors :func:`register_secret` each credential they hold (settings secrets at start,
session tokens when they get them); :func:`redact` removes those, in plain and
URL-encoded form, and anything shaped like a credential.
"""

from __future__ import annotations

import logging
import re
import traceback
import urllib.parse
from collections.abc import Iterable
from typing import Any

import orjson

from ingest.model import Reject

_SECRETS: set[str] = set()
_REDACTED = "[REDACTED]"
_PATTERNS = (
    # Authorization headers and bearer tokens, however they got into a message.
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+|basic\s+)?[^\s'\",}]+"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=%-]{6,}"),
    # key=value and "key": "value" for credential-looking keys.
    re.compile(
        r"(?i)((?:access_?token|refresh_?token|access_?jwt|refresh_?jwt|client_?secret|"
        r"app_?password|password|api_?key)['\"]?\s*[:=]\s*['\"]?)[^\s&'\",}]+"
    ),
    # JSON Web Tokens (Bluesky sessions).
    re.compile(r"()eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"),
)


def register_secret(value: str | None) -> None:
    """Remember a secret (token, password) so :func:`redact` removes it everywhere."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: Any, secrets: Iterable[str | None] = ()) -> str:
    """``text`` as a string with every known secret and credential-looking value removed.

    Removes the registered secrets (and their URL-encoded forms), ``secrets``, and anything
    that looks like an Authorization header, a bearer token, a JWT or a ``token=...`` /
    ``"password": ...`` pair. Used for every error message stored or logged.
    """
    text = str(text)
    known = _SECRETS | {s for s in secrets if s and len(s) >= 4}
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
        quoted = urllib.parse.quote(secret, safe="")
        if quoted != secret:
            text = text.replace(quoted, _REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{_REDACTED}", text)
    return text


def scrub_reject(reject: Reject) -> Reject:
    """A reject whose payload text carries a secret gets the redacted text instead."""
    if not _SECRETS:
        return reject
    text = reject.payload if isinstance(reject.payload, str) else _json_text(reject.payload)
    cleaned = redact(text)
    if cleaned == text:
        return reject
    return Reject(reject.format, redact(reject.reason), cleaned)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


class _RedactingFilter(logging.Filter):
    """Rewrites log records of third-party clients (tweepy logs headers at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:  # tracebacks carry exception messages: format them redacted
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


_FILTER = _RedactingFilter()
# Filters apply to records of the logger they are attached to, not of its children: name
# the loggers that may print request headers or bodies (tweepy.client logs headers at DEBUG).
for _name in ("hypewatch.collect", "tweepy.client", "tweepy.auth", "prawcore", "httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if _FILTER not in _logger.filters:
        _logger.addFilter(_FILTER)


def secret_value(secret: Any) -> str | None:
    """The plain value of a ``SecretStr`` (or ``None``)."""
    return secret.get_secret_value() if secret is not None else None
