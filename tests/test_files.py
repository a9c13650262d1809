"""Reading payload files: JSON Lines, whole JSON documents, CSV, and unreadable lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.files import InputFileError, iter_payloads
from ingest.model import Reject


def test_jsonl_lines_and_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2\n["x"]\n', encoding="utf-8")
    items = list(iter_payloads(path, "hn"))
    assert items[0] == {"a": 1}
    assert isinstance(items[1], Reject) and "line 3" in items[1].reason
    assert items[2] == ["x"]


def test_pretty_printed_document_is_one_payload(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{\n  "hits": [\n    {"objectID": "1"}\n  ]\n}\n')
    assert list(iter_payloads(path, "hn")) == [{"hits": [{"objectID": "1"}]}]


def test_broken_document_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{\n  "hits": [\n')
    (item,) = list(iter_payloads(path, "hn"))
    assert isinstance(item, Reject) and "invalid JSON" in item.reason


def test_generic_jsonl_array_gives_one_payload_per_row(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"id": 1}, {"id": 2}]')
    assert list(iter_payloads(path, "jsonl")) == [{"id": 1}, {"id": 2}]


def test_csv_rows_and_a_row_with_extra_cells(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,text\n1,héllo 🎨\n2,a,b\n", encoding="utf-8")
    items = list(iter_payloads(path, "csv"))
    assert items[0] == {"id": "1", "text": "héllo 🎨"}
    assert isinstance(items[1], Reject) and "beyond the header" in items[1].reason


def test_missing_and_non_utf8_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        list(iter_payloads(tmp_path / "nope.jsonl", "x-v2"))
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("id,text\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputFileError, match="not UTF-8"):
        list(iter_payloads(bad, "csv"))
