"""docs/schema.md documents every table, view and column of a fresh warehouse, and no more."""

from __future__ import annotations

from warehouse.db import connect
from warehouse.schema_docs import schema_docs


def live_schema() -> dict[str, tuple[str, dict[str, str]]]:
    con = connect(":memory:")
    relations = {}
    for name, kind in con.execute(
        "SELECT table_name, table_type FROM information_schema.tables"
    ).fetchall():
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        relations[name] = ("view" if kind == "VIEW" else "table", dict(columns))
    return relations


def test_every_relation_is_documented_and_nothing_else() -> None:
    live, documented = live_schema(), schema_docs()
    assert sorted(documented) == sorted(live)


def test_columns_and_types_match_the_document() -> None:
    live, documented = live_schema(), schema_docs()
    for name, (kind, columns) in live.items():
        doc = documented[name]
        assert doc.kind == kind, name
        assert {c: t for c, (t, _) in doc.columns.items()} == columns, name
        assert doc.description, f"{name} has no description"
        missing = [c for c, (_, text) in doc.columns.items() if not text]
        assert not missing, f"{name}: columns without a description: {missing}"
