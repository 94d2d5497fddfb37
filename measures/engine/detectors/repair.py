"""Repaired rupture: a dip (a drop or a reported rupture) that came back to the usual level."""

from __future__ import annotations

from dataclasses import dataclass

from ..baseline import INFO, Baseline, State, Thresholds, rounded
from ..data import EngineSettings, Observation
from ..wording import repaired_message


@dataclass(slots=True)
class _Dip:
    session: int
    lowest: float | None
    usual: float | None  # the usual level and threshold when the dip began
    threshold: float | None
    checks: int = 0

    def note(self, total: float | None) -> None:
        if total is not None and (self.lowest is None or total < self.lowest):
            self.lowest = total


class RepairedRupture:
    """The open dip, and the repaired-rupture note while it is held."""

    def __init__(self, settings: EngineSettings, th: Thresholds) -> None:
        self.settings = settings
        self.th = th
        self.dip: _Dip | None = None
        self.until = -1  # the note is active up to this session
        self.note: State | None = None

    def step(
        self, obs: Observation, is_answered: bool, is_dipping: bool, base: Baseline | None
    ) -> tuple[State | None, bool]:
        """(the state at this session, whether the dip was repaired at this very session).

        is_dipping: this check shows a drop or a reported rupture; base: the total's usual level
        at the latest answered check. A repair ends the sustained decline (the caller resets it).
        """
        sn = obs.session_number
        repaired = False
        if is_answered and is_dipping:
            if self.dip is None:
                self.dip = _Dip(
                    session=sn,
                    lowest=obs.total,
                    usual=base.usual if base else None,
                    threshold=base.threshold if base else None,
                )
            else:
                self.dip.note(obs.total)
            self.dip.checks += 1
        elif is_answered and self.dip is not None and obs.total is not None:
            repaired = self._recovers(obs, base)
            if not repaired:
                self.dip.note(obs.total)
        state = self.note if sn <= self.until else None
        if sn > self.until:
            self.note = None
        return state, repaired

    def _recovers(self, obs: Observation, base: Baseline | None) -> bool:
        """Close the dip with a note if this check is back within half a threshold of usual."""
        dip = self.dip
        usual = dip.usual if dip.usual is not None else (base.usual if base else None)
        threshold = (
            dip.threshold
            if dip.threshold is not None
            else (base.threshold if base else self.th.rc["total"])
        )
        if usual is not None and obs.total < usual - threshold / 2:
            return False
        self.note = State(
            level=INFO,
            subscale="total",
            evidence={
                "dip_session": dip.session,
                "lowest": rounded(dip.lowest),
                "baseline": rounded(usual),
                "current": rounded(obs.total),
                "checks_to_recover": dip.checks,
            },
            message=repaired_message(dip.lowest, dip.session, obs.total, obs.session_number),
        )
        self.until = obs.session_number + self.settings.repair_hold
        self.dip = None
        return True
