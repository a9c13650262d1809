"""A broken line is one reject with its line number, wherever it is; every good line is stored.

For each JSON format a file whose FIRST line is cut, not UTF-8, a run of NUL bytes or
starts with a byte order mark is imported in-process (``import_file``) and through parse
workers (``iter_json_lines`` + ``ParsePool``), and must store exactly what the good lines
alone store. CSV: over-long fields, bytes that are not UTF-8, NUL bytes and a quote never
closed cost their row only.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from hypewatch.parse_pool import ParsePool
from hypewatch.pipeline import import_file, import_payloads
from ingest.files import (
    BOM,
    CSV_FIELD_LIMIT,
    InputFileError,
    iter_json_lines,
    iter_payloads,
)
from ingest.model import Reject
from warehouse.db import connect

JSON_FORMATS = ("x-v2", "bluesky", "mastodon", "reddit", "hn", "jsonl")


@pytest.fixture(scope="module")
def pages() -> dict[str, list[bytes]]:
    """Four good JSON lines per format: simulated API pages, generic rows for ``jsonl``."""
    from ingest.simulator import simulate

    by_format: dict[str, list[bytes]] = {}
    for fmt, payload in simulate(size=5000, seed=3).payloads:
        by_format.setdefault(fmt, []).append(orjson.dumps(payload))
    by_format["jsonl"] = [
        orjson.dumps({"id": str(i), "text": f"row {i} 🎨", "created_at": 1742990000 + i})
        for i in range(4)
    ]
    assert all(len(by_format[fmt]) >= 4 for fmt in JSON_FORMATS)
    return {fmt: by_format[fmt][:4] for fmt in JSON_FORMATS}


def cut(line: bytes) -> bytes:
    return line[: len(line) // 2]  # a write that stopped half-way


def not_utf8(line: bytes) -> bytes:
    return line.replace(b'":"', b'":"caf\xe9 ', 1)  # a Latin-1 byte inside a string


def nul(line: bytes) -> bytes:
    return b"\x00" * 512  # the zeroed block a crash leaves behind


def bom(line: bytes) -> bytes:
    return BOM + line  # written by an editor: the line itself is good


DEFECTS: dict[str, Callable[[bytes], bytes]] = {
    "cut": cut,
    "not-utf8": not_utf8,
    "nul": nul,
    "bom": bom,
}


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def stored(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    posts = [r[0] for r in con.execute("SELECT post_id FROM posts ORDER BY 1").fetchall()]
    reasons = [r[0] for r in con.execute("SELECT reason FROM rejects ORDER BY 1").fetchall()]
    return posts, reasons


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    with ParsePool(workers=1) as workers:
        yield workers


def import_in_process(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> Any:
    return import_file(con, path, fmt)[1]


def import_with_workers(
    pool: ParsePool,
) -> Callable[[duckdb.DuckDBPyConnection, Path, str], Any]:
    def run(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> Any:
        lines = iter_json_lines(path, fmt)
        return import_payloads(con, fmt, lines, pool=pool, source=f"import:{fmt}")[1]

    return run


def check_bad_first_line(
    tmp_path: Path,
    good: list[bytes],
    fmt: str,
    defect: str,
    importer: Callable[[duckdb.DuckDBPyConnection, Path, str], Any],
) -> None:
    expected_lines = good if defect == "bom" else good[1:]
    lines = [DEFECTS[defect](good[0]), *good[1:]]
    path = write_lines(tmp_path / f"{fmt}.jsonl", lines)
    reference = write_lines(tmp_path / f"{fmt}-good.jsonl", expected_lines)

    con = connect(tmp_path / "w.duckdb")
    counts = importer(con, path, fmt)
    posts, reasons = stored(con)
    con.close()
    ref = connect(tmp_path / "ref.duckdb")
    ref_counts = importer(ref, reference, fmt)
    ref_posts, ref_reasons = stored(ref)
    ref.close()

    assert ref_counts.new > 0 and not ref_reasons
    assert counts.new == ref_counts.new
    assert posts == ref_posts  # every good line stored
    if defect == "bom":
        assert (counts.rejected, reasons) == (0, [])
    else:
        assert counts.rejected == 1
        (reason,) = reasons
        assert reason.startswith(f"{path.name} line 1: invalid JSON"), reason


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_bad_first_line_in_process(
    tmp_path: Path, pages: dict[str, list[bytes]], fmt: str, defect: str
) -> None:
    check_bad_first_line(tmp_path, pages[fmt], fmt, defect, import_in_process)


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_bad_first_line_with_parse_workers(
    tmp_path: Path, pages: dict[str, list[bytes]], pool: ParsePool, fmt: str, defect: str
) -> None:
    check_bad_first_line(tmp_path, pages[fmt], fmt, defect, import_with_workers(pool))


def test_the_issue_case_a_cut_first_line_then_four_good_lines(tmp_path: Path) -> None:
    rows = [{"id": str(i), "text": f"t{i}", "created_at": 1742990000 + i} for i in range(5)]
    lines = [orjson.dumps(r) for r in rows]
    path = write_lines(tmp_path / "rows.jsonl", [lines[0][:-9], *lines[1:]])
    items = list(iter_payloads(path, "jsonl"))
    assert isinstance(items[0], Reject) and items[0].reason.startswith("rows.jsonl line 1: ")
    assert items[0].payload == lines[0][:-9].decode()
    assert items[1:] == rows[1:]


def test_a_bom_before_a_pretty_printed_document(tmp_path: Path) -> None:
    path = tmp_path / "hn.json"
    path.write_bytes(BOM + orjson.dumps({"hits": [{"objectID": "1"}]}, option=orjson.OPT_INDENT_2))
    assert list(iter_payloads(path, "hn")) == [{"hits": [{"objectID": "1"}]}]
    assert list(iter_json_lines(path, "hn")) == [{"hits": [{"objectID": "1"}]}]


def test_a_bom_at_the_start_of_a_file_joined_to_another(tmp_path: Path) -> None:
    path = tmp_path / "joined.jsonl"  # cat a.jsonl b.jsonl, both saved with a BOM
    path.write_bytes(BOM + b'{"a": 1}\n' + BOM + b'{"a": 2}\n')
    assert list(iter_payloads(path, "jsonl")) == [{"a": 1}, {"a": 2}]


def test_one_object_per_line_inside_an_array_is_still_one_document(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"  # no line is JSON by itself, except the last element
    path.write_bytes(b'[\n{"id": 1},\n{"id": 2},\n{"id": 3}\n]\n')
    assert list(iter_payloads(path, "jsonl")) == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_a_cut_pretty_printed_document_is_one_reject_with_the_position(tmp_path: Path) -> None:
    text = orjson.dumps(
        {"hits": [{"objectID": str(i)} for i in range(30)]}, option=orjson.OPT_INDENT_2
    )
    path = tmp_path / "hn.json"
    path.write_bytes(text[: len(text) // 2])
    (item,) = list(iter_payloads(path, "hn"))
    assert isinstance(item, Reject)
    assert item.reason.startswith("hn.json: invalid JSON: ") and "line " in item.reason


def test_a_utf16_json_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes('{"a": 1}\n'.encode("utf-16"))
    with pytest.raises(InputFileError, match="UTF-16"):
        list(iter_payloads(path, "hn"))


# --- CSV ---------------------------------------------------------------------------------

HEADER = b"id,text,created_at\n"


def csv_row(i: int, text: bytes = b"") -> bytes:
    return b"%d,%s,%d\n" % (i, text or b"row %d" % i, 1742990000 + i)


def import_csv(tmp_path: Path, data: bytes) -> tuple[Any, list[str], list[str]]:
    path = tmp_path / "rows.csv"
    path.write_bytes(data)
    con = connect(tmp_path / "w.duckdb")
    _, counts = import_file(con, path, "csv")
    posts, reasons = stored(con)
    con.close()
    return counts, posts, reasons


def test_csv_field_longer_than_pythons_default_limit_is_read(tmp_path: Path) -> None:
    long_text = b"x" * 200_000  # csv's default limit is 131,072 characters
    counts, _, reasons = import_csv(
        tmp_path, HEADER + csv_row(1, long_text) + csv_row(2) + csv_row(3)
    )
    assert (counts.new, counts.rejected, reasons) == (3, 0, [])


def test_csv_field_beyond_the_limit_rejects_its_row_only(tmp_path: Path) -> None:
    huge = b"y" * (CSV_FIELD_LIMIT + 10)
    counts, posts, reasons = import_csv(tmp_path, HEADER + csv_row(1, huge) + csv_row(2))
    assert (counts.new, counts.rejected) == (1, 1)
    assert posts == ["file:2"]
    assert reasons == [f"rows.csv line 2: a field is longer than {CSV_FIELD_LIMIT:,} characters"]
    assert csv.field_size_limit() >= CSV_FIELD_LIMIT


def test_csv_row_with_bytes_not_utf8_is_one_reject(tmp_path: Path) -> None:
    data = HEADER + csv_row(1, b"caf\xe9") + csv_row(2, "héllo 🎨".encode()) + csv_row(3)
    counts, posts, reasons = import_csv(tmp_path, data)
    assert (counts.new, counts.rejected) == (2, 1)
    assert posts == ["file:2", "file:3"]
    assert reasons == ["rows.csv line 2: byte 0xE9 at column 6 is not UTF-8"]


def test_csv_row_with_a_nul_byte_is_one_reject(tmp_path: Path) -> None:
    counts, posts, reasons = import_csv(tmp_path, HEADER + csv_row(1, b"a\x00b") + csv_row(2))
    assert (counts.new, counts.rejected, posts) == (1, 1, ["file:2"])
    assert reasons == ["rows.csv line 2: NUL byte at column 4"]


def test_csv_quote_never_closed_costs_its_row_only(tmp_path: Path) -> None:
    data = HEADER + csv_row(1, b'"never closed') + csv_row(2) + csv_row(3)
    counts, posts, reasons = import_csv(tmp_path, data)
    assert (counts.new, counts.rejected, posts) == (2, 1, ["file:2", "file:3"])
    assert reasons == [
        "rows.csv lines 2-4: a quoted field is not closed before the end of the file"
    ]


def test_csv_with_a_bom_header_and_multiline_field(tmp_path: Path) -> None:
    data = BOM + HEADER + csv_row(1, b'"two\nlines"') + csv_row(2)
    counts, posts, reasons = import_csv(tmp_path, data)
    assert (counts.new, counts.rejected, posts, reasons) == (2, 0, ["file:1", "file:2"], [])


def test_csv_not_utf8_at_all_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,text,created_at\n1,café,1\n2,naïve,2\n".encode("latin-1"))
    with pytest.raises(InputFileError, match=r"not UTF-8 text \(byte 24, line 2\)"):
        list(iter_payloads(path, "csv"))


def test_a_bom_alone_at_the_end_is_no_line(tmp_path: Path) -> None:
    path = tmp_path / "joined.jsonl"  # cat a.jsonl empty.jsonl, the empty one with a BOM
    path.write_bytes(b'{"a": 1}\n' + BOM)
    assert list(iter_payloads(path, "jsonl")) == [{"a": 1}]
    assert [line.text for line in iter_json_lines(path, "jsonl")] == [b'{"a": 1}\n']
