"""The documented schema (``docs/schema.md``), parsed: one source for tests and the dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"

_HEADING = re.compile(r"^### `(?P<name>\w+)` \((?P<kind>table|view)\)$")
_ROW = re.compile(r"^\| `(?P<column>\w+)` \| (?P<type>[^|]+?) \| (?P<doc>.*) \|$")


@dataclass
class RelationDoc:
    name: str
    kind: str  # "table" or "view"
    description: str = ""
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (type, doc)


def schema_docs(path: Path = SCHEMA_DOC) -> dict[str, RelationDoc]:
    """Tables and views documented in ``docs/schema.md``, in document order."""
    relations: dict[str, RelationDoc] = {}
    current: RelationDoc | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if heading := _HEADING.match(line):
            current = RelationDoc(heading["name"], heading["kind"])
            relations[current.name] = current
        elif current is not None and (row := _ROW.match(line)):
            current.columns[row["column"]] = (row["type"].strip(), row["doc"].strip())
        elif current is not None and not current.columns and line and not line.startswith("|"):
            current.description = f"{current.description} {line}".strip()
    return relations
