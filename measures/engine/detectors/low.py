"""Low alliance: the total below the clinic cutoff, tempered for steadily modest clients."""

from __future__ import annotations

from ..baseline import INFO, WARNING, Baseline, State, Thresholds, rounded
from ..data import EngineSettings
from ..wording import low_fell_message, low_usual_message
from .decline import recent_shortfall


class LowAlliance:
    """Counts the checks in a row below the cutoff."""

    def __init__(self, settings: EngineSettings, th: Thresholds) -> None:
        self.settings = settings
        self.th = th
        self.checks_below = 0

    def step(
        self,
        total: float | None,
        base: Baseline | None,
        is_total_confirmed: bool,
        check_totals: list[float],
        prior: State | None,
    ) -> State | None:
        """One answered check; ``check_totals`` already includes it. ``is_total_confirmed``: the
        drops detector confirmed a reliable drop of the total at this check."""
        if total is None:
            return prior
        settings = self.settings
        below = total < settings.cutoff
        self.checks_below = self.checks_below + 1 if below else 0
        if not below:
            return None
        usual = base.usual if base is not None else None
        if usual is not None and usual >= settings.cutoff:
            # below the cutoff by more than noise: a confirmed drop or a run
            is_sustained = (
                self.checks_below >= settings.low_run
                and recent_shortfall(usual, check_totals, self.checks_below)
                >= self.th.rc["total"] * settings.sustained_min_change
            )
            level = WARNING if is_total_confirmed or is_sustained else INFO
            message = low_fell_message(settings.cutoff, total, usual)
        else:
            level = INFO
            message = low_usual_message(settings.cutoff, total, usual)
        return State(
            level=level,
            subscale="total",
            evidence={
                "current": rounded(total),
                "cutoff": settings.cutoff,
                "baseline": rounded(usual),
                "steadily_modest": usual is not None and usual < settings.cutoff,
            },
            message=message,
        )
