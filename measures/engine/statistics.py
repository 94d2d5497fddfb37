"""Psychometric and small-sample statistics the detectors share."""

from __future__ import annotations

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


def compute_sd(values: Sequence[float]) -> float | None:
    """Sample SD (n − 1), None for fewer than 2 values."""
    n = len(values)
    if n < 2:
        return None
    m = math.fsum(values) / n
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))


def compute_shrunk_sd(values: Sequence[float], prior_sd: float, prior_weight: float) -> float:
    """Within-person SD shrunk towards ``prior_sd`` (a scaled-inverse-χ² style pooling).

    With few values the person's own scatter says little, so the measurement error (SEM) counts
    as ``prior_weight`` pseudo-degrees of freedom: √((w·σ0² + (n−1)·s²) / (w + n − 1)).
    """
    n = len(values)
    own = compute_sd(values)
    if own is None:
        return prior_sd
    dof = n - 1
    return math.sqrt((prior_weight * prior_sd**2 + dof * own**2) / (prior_weight + dof))


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
