"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED_API = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "api"


@pytest.fixture(scope="session")
def shared_api() -> Path:
    """Recorded real API payloads in ../shared/fixtures/api; skips the test when absent."""
    if not SHARED_API.is_dir():
        pytest.skip(f"shared API fixtures not found at {SHARED_API}")
    return SHARED_API


@pytest.fixture(scope="session")
def labelled_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-post demo warehouse labelled with its ground truth, built once per session.

    Tests that write to it take a copy (:func:`labelled_demo_copy`).
    """
    from hypewatch.pipeline import build_demo
    from tests.test_alerts import label_with_truth, launch
    from warehouse.db import connect

    db = tmp_path_factory.mktemp("labelled_demo") / "w.duckdb"
    con = connect(db)
    build_demo(con, launch(), size=3000, seed=42)
    label_with_truth(con)
    con.close()
    return db


@pytest.fixture
def labelled_demo_copy(labelled_demo: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`labelled_demo`, at ``tmp_path / "w.duckdb"``."""
    path = tmp_path / "w.duckdb"
    shutil.copy(labelled_demo, path)
    return path
