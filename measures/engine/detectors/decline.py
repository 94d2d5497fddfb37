"""Sustained decline: a robust one-sided CUSUM of the total's shortfalls below the usual level."""

from __future__ import annotations

from ..baseline import ALERT, WARNING, Baseline, State, Thresholds, rounded
from ..data import EngineSettings
from ..statistics import compute_mean
from ..wording import sustained_message

# The shortfall is the mean of the latest checks of the run, up to this many.
RECENT_CHECKS = 3
# A CUSUM this many times the decision interval is an alert.
ALERT_MULTIPLE = 2


def step_cusum(cusum: float, checks: int, z: float, settings: EngineSettings) -> tuple[float, int]:
    """A robust one-sided CUSUM after one check whose shortfall is ``z`` usual variations (capped,
    less the allowance k), and the number of checks it has been above zero."""
    cusum = max(0.0, cusum + min(z, settings.cusum_cap) - settings.cusum_k)
    return cusum, checks + 1 if cusum > 0 else 0


def recent_shortfall(usual: float, values: list[float], checks: int) -> float:
    """How far the latest checks of the run (up to RECENT_CHECKS; ``values`` ends with this check)
    average below the usual level."""
    return usual - compute_mean(values[-min(max(checks, 1), RECENT_CHECKS) :])


def is_sustained(cusum: float, shortfall: float, reliable_change: float, settings: EngineSettings) -> bool:
    """Statistically sustained (the CUSUM past its interval) *and* at least a fraction of a
    reliable change in size."""
    return cusum >= settings.cusum_h and shortfall >= reliable_change * settings.sustained_min_change


def cusum_level(cusum: float, settings: EngineSettings) -> int:
    """A CUSUM past its interval is a warning, past ALERT_MULTIPLE times it an alert."""
    return ALERT if cusum >= ALERT_MULTIPLE * settings.cusum_h else WARNING


class SustainedDecline:
    """The CUSUM and the number of checks it has been above zero."""

    def __init__(self, settings: EngineSettings, th: Thresholds) -> None:
        self.settings = settings
        self.th = th
        self.cusum = 0.0
        self.checks = 0

    def reset(self) -> None:
        """Start afresh (the dip that fed the CUSUM has been repaired)."""
        self.cusum = 0.0
        self.checks = 0

    def step(
        self,
        total: float | None,
        base: Baseline | None,
        check_totals: list[float],
        prior: State | None,
    ) -> State | None:
        """One answered check; ``check_totals`` already includes it. Without a total or a
        usual level to compare it with, the previous state holds."""
        if total is None or base is None:
            return prior
        settings = self.settings
        self.cusum, self.checks = step_cusum(self.cusum, self.checks, (base.usual - total) / base.scale, settings)
        shortfall = recent_shortfall(base.usual, check_totals, self.checks)
        if not is_sustained(self.cusum, shortfall, self.th.rc["total"], settings):
            return None
        return State(
            level=cusum_level(self.cusum, settings),
            subscale="total",
            evidence={
                "baseline": rounded(base.usual),
                "current": rounded(total),
                "cusum": rounded(self.cusum),
                "threshold": settings.cusum_h,
                "variability": rounded(base.noise),
                "checks_below": self.checks,
                "recent_shortfall": rounded(shortfall),
            },
            message=sustained_message(base.usual, self.checks, total),
        )
