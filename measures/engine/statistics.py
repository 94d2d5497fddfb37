"""Psychometric and small-sample statistics the detectors share."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

RC_Z = 1.96


def compute_reliability(responses: Sequence[Sequence[float]]) -> float | None:
    """Cronbach's alpha from item-level rows (one row per response, one column per item).

    Returns None when alpha is undefined: fewer than 2 complete rows, fewer than 2 items, rows
    of unequal length, or no variance in the row totals. Rows containing None/NaN are dropped.
    The result is clipped to [0, 1] (a negative alpha means "no reliability", not less).
    """
    rows = [row for row in responses if row is not None and all(v is not None for v in row)]
    if len(rows) < 2:
        return None
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        return None
    k = widths.pop()
    if k < 2:
        return None
    data = np.asarray(rows, dtype=float)
    data = data[~np.isnan(data).any(axis=1)]
    if data.shape[0] < 2:
        return None
    item_variance = data.var(axis=0, ddof=1).sum()
    total_variance = data.sum(axis=1).var(ddof=1)
    if total_variance <= 0:
        return None
    alpha = (k / (k - 1)) * (1.0 - item_variance / total_variance)
    return float(min(1.0, max(0.0, alpha)))


def compute_reliable_change(spread: float, reliability: float) -> float:
    """Jacobson–Truax reliable-change threshold: 1.96 · SD · √2 · √(1 − r).

    ``spread`` is the population SD of the scores, ``reliability`` their reliability (alpha or
    test-retest). A change at least this large is unlikely (p < .05) to be measurement error.
    Reliability is clipped to [0, 1]; a negative spread is an error.
    """
    if spread < 0:
        raise ValueError("spread must be non-negative")
    r = min(1.0, max(0.0, reliability))
    return RC_Z * spread * math.sqrt(2.0) * math.sqrt(1.0 - r)


def compute_sem(spread: float, reliability: float) -> float:
    """Standard error of measurement SD·√(1 − r)."""
    return spread * math.sqrt(1.0 - min(1.0, max(0.0, reliability)))


def compute_mean(values: Sequence[float]) -> float:
    """Arithmetic mean of a non-empty sequence."""
    return math.fsum(values) / len(values)


def compute_successive_sd(values: Sequence[float]) -> float | None:
    """Noise SD from successive differences, √(Σ(xᵢ − xᵢ₋₁)² / (2(n − 1))) (von Neumann).

    Unlike the plain SD it is not inflated by a slow drift in the level (alliance tends to rise
    over a course), so a person's noise can be learnt from their whole history. None for n < 2.
    """
    n = len(values)
    if n < 2:
        return None
    total = 0.0
    previous = values[0]
    for value in values[1:]:
        total += (value - previous) ** 2
        previous = value
    return math.sqrt(total / (2 * (n - 1)))


@functools.lru_cache(maxsize=4096)
def compute_t_quantile(z: float, dof: float) -> float:
    """Student-t quantile matching the normal quantile ``z`` at ``dof`` degrees of freedom.

    Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5): accurate to ~1% for dof ≥ 3, and
    conservative (too large) below. Used because a noise SD learnt from a few checks is itself
    uncertain, which widens the interval a new check falls in.
    """
    if dof <= 0:
        raise ValueError("dof must be positive")
    z2 = z * z
    return z + (
        (z2 + 1) * z / (4 * dof)
        + ((5 * z2 + 16) * z2 + 3) * z / (96 * dof**2)
        + (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / (384 * dof**3)
    )


def compute_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ys on xs; None for fewer than 3 points or no spread in xs."""
    n = len(xs)
    if n < 3:
        return None
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    return math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
