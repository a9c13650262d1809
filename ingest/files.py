"""Reading payload files: JSON Lines, one JSON document, or CSV.

Each yielded item is one payload for a parser, or a :class:`Reject` for a line that is not
valid JSON (the rest of the file is still read).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ingest.model import Reject


class InputFileError(Exception):
    """The input file cannot be read at all (missing, a directory, not text)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a JSON Lines file, not decoded yet: a parse worker decodes it."""

    text: bytes
    number: int
    file: str


def _check(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"{path} does not exist")
    if not path.is_file():
        raise InputFileError(f"{path} is not a file")


def _is_one_document(path: Path) -> bool:
    """Whether a JSON file is one document (its first line is not a complete JSON value,
    e.g. a pretty-printed API response) rather than JSON Lines."""
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return bool(first.strip())
    return False


def iter_json_payloads(path: Path, fmt: str) -> Iterator[Any | Reject]:
    """Payloads of a JSON Lines file, or of a file holding one JSON document.

    A file whose first line is not a complete JSON value is read as one document (a
    pretty-printed API response); otherwise each non-empty line is one payload.
    """
    _check(path)
    whole_document = _is_one_document(path)
    with path.open("rb") as fh:
        if whole_document:
            data = fh.read()
            try:
                yield orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                yield Reject(
                    fmt, f"{path.name}: invalid JSON: {exc}", data[:10_000].decode(errors="replace")
                )
            return
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                text = line[:10_000].decode(errors="replace").rstrip("\n")
                yield Reject(fmt, f"{path.name} line {number}: invalid JSON: {exc}", text)


def iter_json_lines(path: Path, fmt: str) -> Iterator[Any | Reject | Line]:
    """As :func:`iter_json_payloads`, but each line comes undecoded, as a :class:`Line`.

    For imports parsed in worker processes: the line goes to a worker as it is (decoding
    it here only to encode it again would cost twice; for ``jsonl`` the worker spreads a
    line holding an array into rows, as :func:`iter_payloads` does). A file that is one
    JSON document is yielded decoded, as :func:`iter_payloads` yields it.
    """
    _check(path)
    if _is_one_document(path):
        items = iter_json_payloads(path, fmt)
        yield from _flatten_arrays(items) if fmt == "jsonl" else items
        return
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield Line(line, number, path.name)


def iter_csv_rows(path: Path, fmt: str = "csv") -> Iterator[dict[str, str] | Reject]:
    """Rows of a CSV file with a header line, as dicts keyed by column name."""
    _check(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path} is not UTF-8 text (byte {exc.start}): re-save it as UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return
    for row in reader:
        if None in row:  # more cells than header columns
            extra = row.pop(None)
            yield Reject(
                fmt,
                f"{path.name} line {reader.line_num}: {len(extra)} cells beyond the header",
                row,
            )
            continue
        yield row


def iter_payloads(path: Path, fmt: str) -> Iterator[Any | Reject]:
    """The payloads of ``path`` for format ``fmt`` (CSV rows for ``csv``, JSON otherwise)."""
    if fmt == "csv":
        return iter_csv_rows(path, fmt)
    if fmt == "jsonl":
        return _flatten_arrays(iter_json_payloads(path, fmt))
    return iter_json_payloads(path, fmt)


def _flatten_arrays(items: Iterator[Any | Reject]) -> Iterator[Any | Reject]:
    """Generic rows may come as one JSON array of objects: one payload per element."""
    for item in items:
        if isinstance(item, list):
            yield from item
        else:
            yield item
