"""Generic rows from JSONL or CSV files, read through a column mapping.

A row is a dict (one JSON object of a JSONL file, one ``csv.DictReader`` row). The
``mapping`` goes from a model field (see :data:`FIELDS`) to the row's column; a field
not in the mapping is read from the column of the same name, so a file with columns
``id,text,created_at`` needs no mapping. A mapping value starting with ``=`` is a
constant instead of a column: ``{"platform": "=bluesky"}``.

``id``, ``text`` and ``created_at`` are required; ``created_at`` is ISO 8601 or epoch
seconds. Counts may be numbers or numeric strings; an empty cell is ``None``.
``platform`` defaults to ``"file"``. ``author``, ``reply_to`` and ``conversation`` are
native ids of the same platform. The raw payload is the row re-keyed by field name
(constants resolved), so it re-parses without the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ingest.model import PLATFORMS, Author, ParseResult, Post, post_id
from ingest.parsers._common import Collector, to_id, to_int, to_str, to_time, type_name

FIELDS = (
    "id", "text", "created_at", "author", "platform", "lang", "url",
    "likes", "reposts", "replies", "quotes", "views", "reply_to", "conversation",
)  # fmt: skip
_COUNTS = ("likes", "reposts", "replies", "quotes", "views")


def parse_jsonl(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one JSONL row (a dict); never raises."""
    return _parse_row("jsonl", payload, mapping)


def parse_csv(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one CSV row (a dict of strings); never raises."""
    return _parse_row("csv", payload, mapping)


def mapping_problem(mapping: Any) -> str | None:
    """Why ``mapping`` is unusable (to check it once, before reading a file), or None."""
    if mapping is None:
        return None
    if not isinstance(mapping, Mapping):
        return f"mapping is {type_name(mapping)}, not an object"
    unknown = [str(f) for f in mapping if f not in FIELDS]
    if unknown:
        return f"mapping names unknown field(s) {', '.join(unknown)} (fields: {', '.join(FIELDS)})"
    bad = [f for f, column in mapping.items() if not (isinstance(column, str) and column)]
    if bad:
        return f"mapping of {', '.join(bad)} is not a column name"
    return None


def _parse_row(fmt: str, row: Any, mapping: Mapping[str, str] | None) -> ParseResult:
    out = Collector(fmt)
    problem = mapping_problem(mapping)
    if problem:
        out.reject(problem, row)
        return out.result
    if not isinstance(row, dict):
        out.reject(f"row is {type_name(row)}, not an object", row)
        return out.result

    values = {
        field: _read(row, mapping.get(field, field) if mapping else field) for field in FIELDS
    }
    native_id = to_id(values["id"])
    if native_id is None:
        out.reject("row has no id", row)
        return out.result
    text = values["text"]
    if not isinstance(text, str):
        what = "no text" if text is None else f"text that is {type_name(text)}, not a string"
        out.reject(f"row {native_id} has {what}", row)
        return out.result
    created_at = _time(values["created_at"])
    if created_at is None:
        out.reject(f"row {native_id} has no readable created_at", row)
        return out.result
    platform = to_str(values["platform"]) or "file"
    if platform not in PLATFORMS:
        out.reject(f"row {native_id} has unknown platform {platform!r}", row)
        return out.result

    author = to_id(values["author"])
    reply_to, conversation = to_id(values["reply_to"]), to_id(values["conversation"])
    post = Post(
        post_id=post_id(platform, native_id),
        platform=platform,
        native_id=native_id,
        created_at=created_at,
        text=text,
        author_id=post_id(platform, author) if author else None,
        lang=to_str(values["lang"]),
        url=to_str(values["url"]),
        reply_to_id=post_id(platform, reply_to) if reply_to else None,
        conversation_id=post_id(platform, conversation) if conversation else None,
        **{count: to_int(values[count]) for count in _COUNTS},
    )
    if author:
        out.author(Author(author_id=post.author_id, platform=platform, native_id=author))
    values["platform"] = platform
    out.post(post, {field: value for field, value in values.items() if value is not None})
    return out.result


def _read(row: dict, column: str) -> Any:
    """The row's value for ``column`` (or the constant ``=value``); "" reads as None."""
    value = column[1:] if column.startswith("=") else row.get(column)
    return None if value == "" else value


def _time(value: Any) -> datetime | None:
    """ISO 8601 or epoch seconds, also as a numeric string ("1700000000")."""
    created_at = to_time(value)
    if created_at is None and isinstance(value, str):
        try:
            created_at = to_time(float(value))
        except ValueError:
            return None
    return created_at
