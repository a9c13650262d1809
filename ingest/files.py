"""Reading payload files: JSON Lines, one JSON document, or CSV.

Each yielded item is one payload for a parser, or a :class:`Reject` for a line (or CSV
row) that cannot be read: the rest of the file is still read, so one broken line never
costs the good ones.

JSON Lines or one document? A file is JSON Lines when its first non-empty line is by
itself complete JSON, or when most of the non-empty lines after it (of the first
:data:`SAMPLE_LINES`) are each a complete JSON object or array starting at the line's
first column: then a first line that is cut, not UTF-8 or holds a NUL byte is one reject
like any other bad line. Otherwise the file is read as one document (a pretty-printed
API response); if it does not parse either, it is still JSON Lines when one of those
lines is a complete object or array, and one reject naming the error position when none
is. A UTF-8 byte order mark at the start of a line is ignored (the first line, or the
first of a file joined to another).

CSV: fields of up to :data:`CSV_FIELD_LIMIT` characters are read; a longer one, a
quoted field that is never closed, a row with bytes that are not UTF-8 or with a NUL
byte is one reject with its line number, and the other rows are stored.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from contextlib import closing
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


BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark some editors write at the start of a file."""

SAMPLE_LINES = 50
"""Non-empty lines looked at to tell JSON Lines from one document (at most ~1 MB of them)."""

_SAMPLE_BYTES = 1_000_000
_RAW_CHARS = 10_000  # of a rejected line or row, kept as the reject's payload

CSV_FIELD_LIMIT = 8 * 1024 * 1024
"""Longest CSV field read, in characters (Python's default is 131,072); a row with a
longer field is a reject. Python's limit is process-wide: reading a CSV raises it to this
(never lowers it)."""

_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape keeps it


def _check(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"{path} does not exist")
    if not path.is_file():
        raise InputFileError(f"{path} is not a file")


def _refuse_utf16(path: Path, head: bytes) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(f"{path} is UTF-16 text: re-save it as UTF-8")


def _is_record(line: bytes) -> bool:
    """Whether a line is by itself a JSON object or array (as a JSON Lines line is).

    It must start at the first column: the inner lines of a pretty-printed document are
    indented, and a bare scalar such as ``"id": "1",`` or ``3`` is no record.
    """
    if line[:1] not in (b"{", b"["):
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _physical_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The numbered non-empty lines of a file, each without a leading byte order mark
    (at the start of the file, or of a file joined to it)."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line[0] == 0xEF and line.startswith(BOM):  # the first test is the cheaper
                line = line[len(BOM) :]
                if not line:  # the BOM of an empty file joined at the end
                    continue
            if not line.isspace():
                yield number, line


def _one_document(path: Path, fmt: str) -> tuple[Any | Reject] | None:
    """The file's one payload when it is one JSON document, or ``None`` for JSON Lines.

    The rule is in the module docstring. The payload is a :class:`Reject` when the file is
    taken as one document that does not parse.
    """
    with path.open("rb") as fh:
        _refuse_utf16(path, fh.read(2))
    with closing(_physical_lines(path)) as lines:
        first = next(lines, None)
        if first is None:
            return None  # no line at all
        try:
            orjson.loads(first[1])
        except orjson.JSONDecodeError:
            pass
        else:
            return None  # the common case: JSON Lines (read no further here)
        sampled = records = size = 0
        for _, line in lines:
            sampled += 1
            records += _is_record(line)
            size += len(line)
            if sampled + 1 >= SAMPLE_LINES or size >= _SAMPLE_BYTES:
                break
    if records * 2 > sampled:
        return None
    data = path.read_bytes().removeprefix(BOM)
    try:
        return (orjson.loads(data),)
    except orjson.JSONDecodeError as exc:
        if records:
            return None  # JSON Lines with bad lines
        text = data[:_RAW_CHARS].decode(errors="replace")
        return (Reject(fmt, f"{path.name}: invalid JSON: {exc}", text),)


def iter_json_payloads(path: Path, fmt: str) -> Iterator[Any | Reject]:
    """Payloads of a JSON Lines file, or of a file holding one JSON document.

    Which of the two a file is: see the module docstring. In JSON Lines each non-empty
    line is one payload, and a line that is not valid JSON (cut, not UTF-8, a NUL byte)
    is a reject naming its line number.
    """
    _check(path)
    document = _one_document(path, fmt)
    if document is not None:
        yield document[0]
        return
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    with path.open("rb") as fh:  # as _physical_lines, inlined: this loop is the hot one
        for number, line in enumerate(fh, start=1):
            if line[0] == 0xEF and line.startswith(BOM):  # the first test is the cheaper
                line = line[len(BOM) :]
                if not line:  # the BOM of an empty file joined at the end
                    continue
            if line.isspace():
                continue
            try:
                yield loads(line)
            except decode_error as exc:
                text = line[:_RAW_CHARS].decode(errors="replace").rstrip("\n")
                yield Reject(fmt, f"{path.name} line {number}: invalid JSON: {exc}", text)


def iter_json_lines(path: Path, fmt: str) -> Iterator[Any | Reject | Line]:
    """As :func:`iter_json_payloads`, but each line comes undecoded, as a :class:`Line`.

    For imports parsed in worker processes: the line goes to a worker as it is (decoding
    it here only to encode it again would cost twice; for ``jsonl`` the worker spreads a
    line holding an array into rows, as :func:`iter_payloads` does). A file that is one
    JSON document is yielded decoded, as :func:`iter_payloads` yields it.
    """
    _check(path)
    document = _one_document(path, fmt)
    if document is not None:
        yield from _flatten_arrays(iter(document)) if fmt == "jsonl" else document
        return
    name = path.name
    with path.open("rb") as fh:  # as _physical_lines, inlined: this loop is the hot one
        for number, line in enumerate(fh, start=1):
            if line[0] == 0xEF and line.startswith(BOM):  # the first test is the cheaper
                line = line[len(BOM) :]
                if not line:  # the BOM of an empty file joined at the end
                    continue
            if not line.isspace():
                yield Line(line, number, name)


def _csv_text(path: Path) -> tuple[str, bool]:
    """The text of a CSV file, and whether some of its bytes are not UTF-8.

    Those bytes are kept as lone surrogates (``surrogateescape``), for the rows holding
    them to be rejected. A file with more such bytes than UTF-8 characters beyond ASCII is
    not UTF-8 at all (Latin-1, Windows-1252, UTF-16, binary): refused as a whole.
    """
    raw = path.read_bytes()
    _refuse_utf16(path, raw[:2])
    start = len(BOM) if raw.startswith(BOM) else 0
    try:
        return raw[start:].decode("utf-8"), False
    except UnicodeDecodeError as exc:
        first_bad = start + exc.start
    text = raw[start:].decode("utf-8", errors="surrogateescape")
    bad = sum(1 for _ in _NOT_UTF8.finditer(text))
    beyond_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    if bad > beyond_ascii - bad:
        line = raw.count(b"\n", 0, first_bad) + 1
        raise InputFileError(
            f"{path} is not UTF-8 text (byte {first_bad}, line {line}): re-save it as UTF-8"
        )
    return text, True


def _csv_records(lines: Iterator[str]) -> Iterator[tuple[int, int, list[str] | str, list[str]]]:
    """The records of CSV ``lines``: (first and last line number, cells or why the record
    cannot be read, its lines).

    A field longer than :data:`CSV_FIELD_LIMIT`, or a quoted field still open at the end
    of the file, makes its record unreadable; the lines after its first are then read
    again as records of their own (most likely they are rows swallowed by a stray quote).
    """
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    again: deque[str] = deque()  # lines to read again, before the rest
    consumed: list[str] = []  # the lines of the record being read
    at_end = False

    def feed() -> Iterator[str]:  # one per reader: ``again`` is filled before a new one
        nonlocal at_end
        while again:
            line = again.popleft()
            consumed.append(line)
            yield line
        for line in lines:
            consumed.append(line)
            yield line
        at_end = True

    reader = csv.reader(feed())
    number = 1
    while True:
        consumed = []
        cells: list[str] | str
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            cells = str(exc)
            if cells.startswith("field larger than field limit"):
                cells = f"a field is longer than {CSV_FIELD_LIMIT:,} characters"
        else:
            if at_end and consumed:  # the reader read past the last line: a quote is open
                cells = "a quoted field is not closed before the end of the file"
        record = consumed
        last = number + max(len(record), 1) - 1
        yield number, last, cells, record
        if isinstance(cells, str) and len(record) > 1:  # read its other lines again
            again.extendleft(reversed(record[1:]))
            last = number
        if isinstance(cells, str):
            at_end = False
            reader = csv.reader(feed())
        number = last + 1


def _raw(lines: list[str]) -> str:
    text = "".join(lines)[:_RAW_CHARS].rstrip("\r\n")
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def _unreadable(lines: list[str], first: int, check_utf8: bool) -> tuple[int, str] | None:
    """Why a CSV record's lines cannot be stored as text (a byte not UTF-8, a NUL byte):
    (the line number, the reason), or None."""
    for number, line in enumerate(lines, start=first):
        if check_utf8 and (bad := _NOT_UTF8.search(line)):
            byte = ord(bad.group()) - 0xDC00
            return number, f"byte 0x{byte:02X} at column {bad.start() + 1} is not UTF-8"
        if (nul := line.find("\x00")) >= 0:
            return number, f"NUL byte at column {nul + 1}"
    return None


def _lines_span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def iter_csv_rows(path: Path, fmt: str = "csv") -> Iterator[dict[str, str | None] | Reject]:
    """Rows of a CSV file with a header line, as dicts keyed by column name.

    A row that cannot be read (see the module docstring) is a :class:`Reject` naming its
    line; a header that cannot be read is an :class:`InputFileError`.
    """
    _check(path)
    text, has_bad_bytes = _csv_text(path)
    check = has_bad_bytes or "\x00" in text
    header: list[str] | None = None
    for first, last, cells, lines in _csv_records(iter(io.StringIO(text, newline=""))):
        problem = None
        if isinstance(cells, str):
            problem, where = cells, _lines_span(first, last)
            lines = lines[:1]  # its other lines are read again
        elif not cells:  # a blank line
            continue
        elif check and (found := _unreadable(lines, first, has_bad_bytes)):
            number, problem = found
            where = f"line {number}"
        if problem is not None:
            if header is None:
                raise InputFileError(f"{path}: the header ({where}) cannot be read: {problem}")
            yield Reject(fmt, f"{path.name} {where}: {problem}", _raw(lines))
            continue
        if header is None:
            header = cells
            continue
        if len(cells) > len(header):
            extra = len(cells) - len(header)
            yield Reject(
                fmt,
                f"{path.name} {_lines_span(first, last)}: {extra} cells beyond the header",
                dict(zip(header, cells, strict=False)),
            )
            continue
        row: dict[str, str | None] = dict(zip(header, cells, strict=False))
        for column in header[len(cells) :]:  # fewer cells than columns: as csv.DictReader
            row[column] = None
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
