"""Reliability and spread estimated from a caseload's own subscale scores (no item answers).

Reliability here is the share of first-session variance that is not session-to-session noise:
r = 1 − σ²_within / SD²_first, so that the engine's SEM = SD·√(1 − r) equals the typical
within-person noise of this population. The within-person noise comes from successive
differences of each client's checks (insensitive to slow trends), trimmed so that real ruptures
and declines do not pass for noise.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .data import SERIES, EngineSettings, Observation

# For d ~ N(0, 2σ²): the mean of the lowest 90% of d²/(2σ²) (a χ²₁ variable) is
# P(χ²₃ < q) / 0.9 with q = 2.706 the 90th percentile of χ²₁.
TRIM_SHARE = 0.9
TRIMMED_CHI2_MEAN = 0.5607 / 0.9
MIN_CHECKS = 3
RELIABILITY_RANGE = (0.3, 0.97)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Estimated settings and how much data they rest on."""

    reliability: dict[str, float]
    spread: dict[str, float]
    engagement_rate: float  # share of scheduled sessions missed or attended without a check
    participants: int


def _value(obs: Observation, series: str) -> float | None:
    return obs.total if series == "total" else getattr(obs, series)


def _is_censored(a: float, b: float, scale: tuple[float, float]) -> bool:
    low, high = scale
    return (a >= high - 1e-9 and b >= high - 1e-9) or (a <= low + 1e-9 and b <= low + 1e-9)


def compute_calibration(
    series_list: Iterable[Sequence[Observation]],
    minimum: int = 30,
    scale: tuple[float, float] = (0.0, 10.0),
) -> Calibration | None:
    """Estimate per-series reliability and spread from many participants' observations.

    Uses participants with at least 3 answered checks; returns None when fewer than ``minimum``
    qualify or the estimates are degenerate, so that the caller keeps its defaults. Spread is the
    SD of each participant's first answered check; reliability is clipped to [0.3, 0.97]. The
    engagement rate (sessions missed or without a check) is clipped to [0.02, 0.5]. Pending checks
    (Observation.pending) count nowhere.

    Two successive checks both at the same end of ``scale`` (full marks twice) are censored: the
    scale hides how far they really differ, and counting their zero difference as "no noise"
    would make a caseload with many full-mark clients look precise, so that every other client's
    ordinary ups and downs would pass for reliable drops. They are left out of the noise.
    """
    firsts: dict[str, list[float]] = {s: [] for s in SERIES}
    squares: dict[str, list[float]] = {s: [] for s in SERIES}
    used = 0
    sessions = events = 0
    for observations in series_list:
        observations = [o for o in observations if not o.pending]  # no information yet
        sessions += len(observations)
        events += sum(1 for o in observations if not (o.attended and o.is_answered))
        checks = [o for o in observations if o.attended and o.total is not None]
        if len(checks) < MIN_CHECKS:
            continue
        used += 1
        for series in SERIES:
            values = [_value(o, series) for o in checks]
            firsts[series].append(values[0])
            squares[series].extend(
                (b - a) ** 2
                for a, b in zip(values, values[1:], strict=False)
                if not _is_censored(a, b, scale)
            )
    if used < minimum:
        return None
    reliability: dict[str, float] = {}
    spread: dict[str, float] = {}
    for series in SERIES:
        sd_first = statistics.stdev(firsts[series])
        if not squares[series]:
            return None
        ordered = sorted(squares[series])
        kept = ordered[: max(1, int(len(ordered) * TRIM_SHARE))]
        within = math.fsum(kept) / len(kept) / (2 * TRIMMED_CHI2_MEAN)
        if sd_first <= 0:
            return None
        low, high = RELIABILITY_RANGE
        spread[series] = round(sd_first, 3)
        reliability[series] = round(min(high, max(low, 1.0 - within / sd_first**2)), 3)
    return Calibration(
        reliability=reliability,
        spread=spread,
        engagement_rate=round(min(0.5, max(0.02, events / sessions)), 3),
        participants=used,
    )


def apply_calibration(settings: EngineSettings, calibration: Calibration | None) -> EngineSettings:
    """``settings`` with reliability, spread and the engagement prior taken from ``calibration``
    (series it lacks keep their values); unchanged when calibration is None."""
    if calibration is None:
        return settings
    return dataclasses.replace(
        settings,
        reliability={**settings.reliability, **calibration.reliability},
        spread={**settings.spread, **calibration.spread},
        engagement_prior_rate=calibration.engagement_rate,
    )
