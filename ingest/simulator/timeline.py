"""Arrival-time dynamics: when each storyline is talked about, and in which time zones.

Volume is an hourly intensity per (storyline, language): the storyline's event profile
(the launch spike, the Ghibli wave, ...) times the language's daily cycle in its local
time zones (Tokyo evening for ``ja``, São Paulo evening for ``pt``, ...). Posts are drawn
from that intensity cell by cell, then given a uniform second inside the hour.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from .storylines import LANGS, PLATFORM_LANGS, SPECS

T0 = datetime(2025, 3, 20, tzinfo=UTC)  # event hours below count from here


def _h(month: int, day: int, hour: float = 0.0) -> float:
    return (datetime(2025, month, day, tzinfo=UTC) - T0).total_seconds() / 3600 + hour


LAUNCH = _h(3, 25, 17)  # livestream; rolls out to Plus/Pro/Team
GHIBLI_PEAK = _h(3, 27, 4)
MELTING = _h(3, 27, 0)  # "our GPUs are melting", temporary rate limits
MIYAZAKI = _h(3, 27, 12)  # the 2016 "insult to life itself" clip resurfaces
SIGNUPS = _h(3, 31, 15)  # a million sign-ups in an hour; free tier roll-out
MJ_V7 = _h(4, 3, 2)  # Midjourney V7 alpha
EU_DST = _h(3, 30, 1)  # Europe moves to summer time

# Relative activity by local hour of day (people sleep; evenings are busiest).
DIURNAL = np.array([
    0.55, 0.38, 0.25, 0.17, 0.13, 0.13, 0.20, 0.35, 0.50, 0.60, 0.65, 0.70,
    0.78, 0.75, 0.72, 0.72, 0.75, 0.80, 0.88, 0.95, 1.00, 1.00, 0.92, 0.75,
])  # fmt: skip

# Time zones of each language's speakers: (UTC offset in hours, weight); "eu" follows DST.
TIMEZONES: dict[str, list[tuple[float | str, float]]] = {
    "en": [(-4, 0.35), (-7, 0.20), (-5, 0.08), ("uk", 0.17), (5.5, 0.12), (10, 0.08)],
    "ja": [(9, 1.0)],
    "ko": [(9, 1.0)],
    "fr": [("eu", 0.85), (-4, 0.10), (0, 0.05)],
    "de": [("eu", 1.0)],
    "it": [("eu", 1.0)],
    "es": [("eu", 0.35), (-6, 0.30), (-3, 0.20), (-5, 0.15)],
    "pt": [(-3, 0.85), ("uk", 0.15)],
}


def _decay(t: np.ndarray, at: float, tau: float) -> np.ndarray:
    """exp(-(t-at)/tau) after ``at``, 0 before."""
    dt = t - at
    return np.where(dt >= 0, np.exp(-np.clip(dt, 0, None) / tau), 0.0)


def _after(t: np.ndarray, at: float) -> np.ndarray:
    return (t >= at).astype(float)


def storyline_profiles(t: np.ndarray) -> dict[str, np.ndarray]:
    """Expected posts per hour (relative units) of each storyline at hours ``t`` since T0."""
    before = 1.0 - _after(t, LAUNCH)
    days_after = np.clip(t - LAUNCH, 0, None) / 24
    p = {
        "rumours": before * (0.8 + t / 90) + 0.4 * _decay(t, LAUNCH, 10),
        "launch_hype": 70 * _decay(t, LAUNCH, 7)
        + 13 * _decay(t, LAUNCH, 60)
        + 1.2 * _after(t, LAUNCH),
        "ghibli_wave": _after(t, LAUNCH + 2)
        * (38 * np.exp(-0.5 * ((t - GHIBLI_PEAK) / 20) ** 2) + 5 * _decay(t, GHIBLI_PEAK, 120)),
        "capacity_melting": 0.3 * _after(t, LAUNCH + 6) * (1 - _after(t, MELTING))
        + 16 * _decay(t, MELTING + 12, 30)
        + 3.5 * _decay(t, MELTING, 150)
        + 7 * _decay(t, SIGNUPS, 18),
        "signups_free_tier": 0.5 * _after(t, LAUNCH + 20)
        + 28 * _decay(t, SIGNUPS, 14)
        + 5 * _decay(t, SIGNUPS, 60),
        "competitor_race": 1.3 + 9 * _decay(t, LAUNCH, 40) + 2.5 * _decay(t, _h(3, 26, 12), 20),
        "midjourney_v7": 0.25 * _after(t, _h(3, 30))
        + 26 * _decay(t, MJ_V7 + 2, 14) * (1 - np.exp(-np.clip(t - MJ_V7, 0, None) / 2)),
    }
    others = sum(p.values())
    # The debate grows with the wave it reacts to, and its share of it grows day by day
    # (sharply once the 2016 Miyazaki clip resurfaces).
    debate = 0.02 + 0.045 * days_after + 0.1 * (1 - _decay(t, MIYAZAKI, 12)) * _after(t, MIYAZAKI)
    p["copyright_debate"] = 0.06 + _after(t, LAUNCH) * debate * others
    p["memes_offtopic"] = 0.5 + 0.12 * (others + p["copyright_debate"])
    return p


def _offsets(lang: str, t: np.ndarray) -> list[tuple[np.ndarray, float]]:
    out = []
    for tz, w in TIMEZONES[lang]:
        if tz == "eu":
            off = np.where(t >= EU_DST, 2.0, 1.0)
        elif tz == "uk":
            off = np.where(t >= EU_DST, 1.0, 0.0)
        else:
            off = np.full_like(t, float(tz))
        out.append((off, w))
    return out


def diurnal(lang: str, t: np.ndarray) -> np.ndarray:
    """Relative activity of ``lang`` speakers at UTC hours ``t`` (mean about 1)."""
    total = np.zeros_like(t)
    for off, w in _offsets(lang, t):
        local = np.mod(np.floor(t + off).astype(int), 24)
        total += w * DIURNAL[local]
    return total / (DIURNAL.mean() * sum(w for _, w in TIMEZONES[lang]))


def hour_grid(start: datetime, end: datetime) -> np.ndarray:
    """Start of each hour of [start, end) as seconds since T0 (the last one may be partial)."""
    span = (end - start).total_seconds()
    if span <= 0:
        raise ValueError("end must be after start")
    first = (start - T0).total_seconds()
    return first + 3600.0 * np.arange(int(np.ceil(span / 3600)))


def cell_weights(platform: str, storylines: list[str], hours: np.ndarray) -> np.ndarray:
    """Weights over (storyline, language, hour) cells for one platform's non-spam posts."""
    t = hours / 3600 + 0.5  # hour midpoints, in hours since T0
    prof = storyline_profiles(t)
    di = {lang: diurnal(lang, t) for lang in LANGS}
    w = np.zeros((len(storylines), len(LANGS), len(t)))
    shares = PLATFORM_LANGS[platform]
    for i, s in enumerate(storylines):
        spec = SPECS[s]
        ps = spec.platforms.get(platform, 1.0)
        for j, lang in enumerate(LANGS):
            share = shares.get(lang, 0.0)
            if share:
                w[i, j] = prof[s] * di[lang] * ps * share * spec.langs.get(lang, 1.0)
    return w
