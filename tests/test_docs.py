"""The README's command table and the docs it links stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from hypewatch.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, object]:
    return typer.main.get_command(app).commands  # type: ignore[attr-defined]


def test_every_cli_command_is_in_the_readme_table_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `hypewatch ([a-z-]+)", README, flags=re.MULTILINE))
    assert documented == set(_commands())


def test_every_option_the_readme_shows_exists() -> None:
    commands = _commands()
    for line in re.findall(r"^\| `hypewatch ([a-z-]+)([^`]*)`", README, flags=re.MULTILINE):
        name, usage = line
        params = commands[name].params  # type: ignore[attr-defined]
        options = {o for p in params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
        for option in re.findall(r"--[a-z][a-z-]*", usage):
            assert option in options, f"README shows `hypewatch {name} {option}`, not an option"


def test_every_linked_doc_exists() -> None:
    for link in re.findall(r"\]\(((?:docs|campaigns)/[^)#]+)\)", README):
        assert (ROOT / link).is_file(), f"README links {link}, which does not exist"
