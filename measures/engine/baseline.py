"""What every detector shares: levels, a detector's state, the thresholds and the usual level."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .contract import SERIES
from .data import EngineSettings
from .statistics import (
    compute_mean,
    compute_reliable_change,
    compute_sem,
    compute_successive_sd,
    compute_t_quantile,
)

# Severity levels as numbers (indexes into contract.SEVERITIES); NONE: no finding.
NONE, INFO, WARNING, ALERT = -1, 0, 1, 2
# Once this many usable checks precede the lag, the latest ones are kept out of the baseline.
LAG_MIN_POOL = 3
# Fallbacks for a series the settings do not name.
DEFAULT_SPREAD = 1.3
DEFAULT_RELIABILITY = 0.9
# Keeps a zero SEM (reliability 1) from dividing by zero.
MIN_SEM = 1e-6


@dataclass(slots=True)
class State:
    """A detector's verdict on one kind at one session."""

    level: int
    subscale: str
    evidence: dict
    message: str


@dataclass(slots=True)
class Thresholds:
    rc: dict[str, float]  # reliable-change threshold per series
    sem: dict[str, float]  # standard error of measurement per series


def rounded(value: float | None) -> float | None:
    """A figure as the evidence stores it."""
    return None if value is None else round(value, 2)


def compute_thresholds(settings: EngineSettings) -> Thresholds:
    """Per series, the reliable-change threshold and the SEM from reliability and spread."""
    rc = {}
    sem = {}
    for series in SERIES:
        spread = settings.spread.get(series, settings.spread.get("total", DEFAULT_SPREAD))
        reliability = settings.reliability.get(
            series, settings.reliability.get("total", DEFAULT_RELIABILITY)
        )
        rc[series] = compute_reliable_change(spread, reliability)
        sem[series] = max(compute_sem(spread, reliability), MIN_SEM)
    return Thresholds(rc=rc, sem=sem)


@dataclass(slots=True)
class Baseline:
    usual: float  # the usual level
    n: int  # checks it averages
    noise: float  # within-person noise SD
    scale: float  # SD of (usual − a new check): noise · √(1 + 1/n)
    threshold: float  # a drop beyond this is reliable (info)
    confirm: float  # a drop beyond this is confirmed by itself (warning)
    confirm_pair: float  # two reliable drops in a row averaging this much confirm each other


def compute_baseline(
    values: list[float], flagged: list[bool], rc: float, sem: float, settings: EngineSettings
) -> Baseline | None:
    """The usual level from earlier checks (unflagged, lagged, windowed) and its thresholds.

    None until there are settings.baseline_min_checks usable checks. The noise is learnt from
    all unflagged earlier checks by successive differences, shrunk towards the SEM; since it is
    itself estimated, thresholds use Student-t quantiles.
    """
    usable = [v for v, f in zip(values, flagged, strict=True) if not f] if any(flagged) else values
    if len(usable) < settings.baseline_min_checks:
        return None
    pool = usable
    lag = settings.baseline_lag
    if lag and len(pool) - lag >= LAG_MIN_POOL:
        pool = pool[:-lag]
    pool = pool[-settings.baseline_window :]
    n = len(pool)
    own = compute_successive_sd(usable) or 0.0
    weight = settings.noise_prior_weight
    dof_own = len(usable) - 1
    noise = math.sqrt((weight * sem**2 + dof_own * own**2) / (weight + dof_own))
    dof = weight + dof_own
    scale = noise * math.sqrt(1.0 + 1.0 / n)
    threshold = max(rc, compute_t_quantile(settings.z_drop, dof) * scale)
    confirm = max(
        rc * settings.z_confirm / settings.z_drop,
        compute_t_quantile(settings.z_confirm, dof) * scale,
    )
    # the mean of two checks in a row is confirmed at the same level as one check by itself
    confirm_pair = max(
        rc, compute_t_quantile(settings.z_confirm, dof) * noise * math.sqrt(0.5 + 1.0 / n)
    )
    return Baseline(
        usual=compute_mean(pool),
        n=n,
        noise=noise,
        scale=scale,
        threshold=threshold,
        confirm=confirm,
        confirm_pair=confirm_pair,
    )
