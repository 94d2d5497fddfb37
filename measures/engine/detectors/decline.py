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
        z = (base.usual - total) / base.scale
        self.cusum = max(0.0, self.cusum + min(z, settings.cusum_cap) - settings.cusum_k)
        self.checks = self.checks + 1 if self.cusum > 0 else 0
        recent = check_totals[-min(max(self.checks, 1), RECENT_CHECKS) :]
        shortfall = base.usual - compute_mean(recent)
        # statistically sustained *and* at least a fraction of a reliable change in size
        is_sizeable = shortfall >= self.th.rc["total"] * settings.sustained_min_change
        if not (self.cusum >= settings.cusum_h and is_sizeable):
            return None
        level = ALERT if self.cusum >= ALERT_MULTIPLE * settings.cusum_h else WARNING
        return State(
            level=level,
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
