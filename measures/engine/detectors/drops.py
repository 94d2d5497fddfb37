"""Reliable drop: a check reliably below the participant's usual level, on any series."""

from __future__ import annotations

from dataclasses import dataclass

from ..baseline import (
    ALERT,
    INFO,
    WARNING,
    Baseline,
    State,
    Thresholds,
    compute_baseline,
    rounded,
)
from ..contract import (
    CONFIRMED_BY_HELD,
    CONFIRMED_BY_NEXT_CHECK,
    CONFIRMED_BY_NONE,
    CONFIRMED_BY_SIZE,
    SERIES,
)
from ..data import EngineSettings, Observation
from ..wording import drop_message


@dataclass(slots=True)
class _Candidate:
    """A drop on one series at this check."""

    level: int
    magnitude: float  # drop / threshold
    base: Baseline
    threshold: float
    confirm: float
    confirmed_by: str


@dataclass(slots=True)
class DropCheck:
    """What the drops detector found at one answered check, for the detectors that follow."""

    state: State | None
    base_total: Baseline | None  # the total's usual level before this check
    is_total_confirmed: bool  # a warning-level (confirmed) reliable drop of the total


def _scores(obs: Observation) -> dict[str, float | None]:
    return {"goals": obs.goals, "tasks": obs.tasks, "bond": obs.bond, "total": obs.total}


class DropDetector:
    """Keeps each series' history of checks, and which of them were confirmed drops."""

    def __init__(self, settings: EngineSettings, th: Thresholds) -> None:
        self.settings = settings
        self.th = th
        self.values: dict[str, list[float]] = {s: [] for s in SERIES}
        self.flagged: dict[str, list[bool]] = {s: [] for s in SERIES}
        # series -> (was a reliable drop, size of the drop) at the previous check
        self.prev_drops: dict[str, tuple[bool, float] | None] = {}

    def baseline(self, series: str) -> Baseline | None:
        """The series' usual level from the checks so far."""
        return compute_baseline(
            self.values[series], self.flagged[series], self.th.rc[series], self.th.sem[series],
            self.settings,
        )

    def _judge(
        self, series: str, drop: float, base: Baseline, prior: State | None, was_ceiling: bool
    ) -> tuple[bool, _Candidate | None]:
        """(is a reliable drop, the candidate if it is one or an open drop is held)."""
        settings = self.settings
        threshold, confirm = base.threshold, base.confirm
        if series == "total" and was_ceiling:
            threshold = min(threshold, settings.ceiling_dip)
            confirm = min(confirm, settings.ceiling_dip * (settings.z_confirm / settings.z_drop))
        is_flag = drop >= threshold
        is_confirmed = drop >= confirm
        previous = self.prev_drops.get(series)
        is_repeat = (
            is_flag
            and previous is not None
            and previous[0]
            and (previous[1] + drop) / 2 >= base.confirm_pair
        )
        # hysteresis: an open drop stays open until back within half the threshold
        is_held = prior is not None and prior.subscale == series and drop >= threshold / 2
        if is_flag:
            level = INFO
            if is_confirmed or is_repeat:
                level = WARNING
            if is_repeat and (is_confirmed or drop >= 2 * threshold):
                level = ALERT
            how = (
                CONFIRMED_BY_SIZE if is_confirmed
                else CONFIRMED_BY_NEXT_CHECK if is_repeat
                else CONFIRMED_BY_NONE
            )
            return True, _Candidate(level, drop / threshold, base, threshold, confirm, how)
        if is_held:
            return False, _Candidate(
                prior.level, drop / threshold, base, threshold, confirm, CONFIRMED_BY_HELD
            )
        return False, None

    def step(self, obs: Observation, prior: State | None, was_ceiling: bool) -> DropCheck:
        """Judge one answered check against each series' usual level, then learn from it.

        prior: the reliable-drop state at the previous session; was_ceiling: the check follows
        a run of full marks (a smaller dip of the total counts).
        """
        current = _scores(obs)
        candidates: dict[str, _Candidate] = {}
        flags: dict[str, bool] = {}
        drops: dict[str, tuple[bool, float] | None] = {}
        base_total: Baseline | None = None
        for series in SERIES:
            x = current[series]
            if x is None:
                continue
            base = self.baseline(series)
            if series == "total":
                base_total = base
            flags[series] = False
            drops[series] = None
            if base is not None:
                drop = base.usual - x
                flags[series], candidate = self._judge(series, drop, base, prior, was_ceiling)
                if candidate is not None:
                    candidates[series] = candidate
                drops[series] = (flags[series], drop)
        self._learn(current, candidates, flags)
        self.prev_drops = drops
        total = candidates.get("total")
        is_total_confirmed = flags.get("total", False) and total.level >= WARNING
        return DropCheck(self._state(current, candidates, was_ceiling), base_total,
                         is_total_confirmed)

    def _learn(
        self, current: dict, candidates: dict[str, _Candidate], flags: dict[str, bool]
    ) -> None:
        for series in SERIES:
            if current[series] is None:
                continue
            self.values[series].append(current[series])
            # only a confirmed drop stays out of the usual level: dropping every noisy
            # low check would bias the usual level upwards
            self.flagged[series].append(
                series in candidates and flags[series] and candidates[series].level >= WARNING
            )

    def _state(
        self, current: dict, candidates: dict[str, _Candidate], was_ceiling: bool
    ) -> State | None:
        """The most severe series, then the largest relative drop."""
        if not candidates:
            return None
        series = max(candidates, key=lambda k: (candidates[k].level, candidates[k].magnitude))
        c = candidates[series]
        x = current[series]
        return State(
            level=c.level,
            subscale=series,
            evidence={
                "baseline": rounded(c.base.usual),
                "current": rounded(x),
                "threshold": rounded(c.threshold),
                "confirm_threshold": rounded(c.confirm),
                "confirmed_by": c.confirmed_by,
                "drop": rounded(c.base.usual - x),
                "reliable_change": rounded(self.th.rc[series]),
                "variability": rounded(c.base.noise),
                "baseline_checks": c.base.n,
                "from_ceiling": series == "total" and was_ceiling,
            },
            message=drop_message(
                series, c.base.usual, x, c.threshold, from_ceiling=series == "total" and was_ceiling
            ),
        )
