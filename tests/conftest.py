"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_API = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "api"


@pytest.fixture(scope="session")
def shared_api() -> Path:
    """Recorded real API payloads in ../shared/fixtures/api; skips the test when absent."""
    if not SHARED_API.is_dir():
        pytest.skip(f"shared API fixtures not found at {SHARED_API}")
    return SHARED_API
