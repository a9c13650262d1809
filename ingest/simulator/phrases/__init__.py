"""Phrase banks, one module per language; see :mod:`ingest.simulator.text` for the shape."""

from __future__ import annotations

from typing import Any

from . import de, en, es, fr, it, ja, ko, pt

BANKS: dict[str, dict[str, Any]] = {
    "en": en.BANK,
    "fr": fr.BANK,
    "es": es.BANK,
    "pt": pt.BANK,
    "de": de.BANK,
    "ja": ja.BANK,
    "it": it.BANK,
    "ko": ko.BANK,
}
