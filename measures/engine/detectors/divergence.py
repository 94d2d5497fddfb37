"""One subscale sliding while the other two hold: a robust one-sided CUSUM of its contrast.

A client who stops agreeing on the tasks while goals and bond hold loses a third of that slide in
the total, where day-to-day variation hides it. The contrast (the subscale minus the mean of the
other two) keeps the slide and cancels the session's shared ups and downs, so its noise is the
subscales' own. Each subscale's contrast is weighed against its usual level as the total's is
(SustainedDecline), and the subscale itself must have fallen by the same share of a reliable
change that a sustained decline of the total needs.
"""

from __future__ import annotations

import math

from ..baseline import Baseline, State, Thresholds, compute_baseline, rounded
from ..contract import SUBSCALES
from ..data import EngineSettings, Observation
from ..wording import divergence_message
from .decline import RECENT_CHECKS, cusum_level, is_sustained, recent_shortfall, step_cusum


def _contrast(scores: dict[str, float], subscale: str) -> float:
    others = [scores[s] for s in SUBSCALES if s != subscale]
    return scores[subscale] - sum(others) / len(others)


class Divergence:
    """Per subscale: its contrasts and scores so far, the CUSUM and its run of checks."""

    def __init__(self, settings: EngineSettings, th: Thresholds) -> None:
        self.settings = settings
        self.th = th
        self.contrasts: dict[str, list[float]] = {s: [] for s in SUBSCALES}
        self.scores: dict[str, list[float]] = {s: [] for s in SUBSCALES}
        self.sliding: dict[str, list[bool]] = {s: [] for s in SUBSCALES}  # the CUSUM above zero after it
        self.cusum = dict.fromkeys(SUBSCALES, 0.0)
        self.checks = dict.fromkeys(SUBSCALES, 0)
        # the contrast's measurement error: the subscale's and half each of the others'
        self.sem = {
            s: math.sqrt(th.sem[s] ** 2 + sum(th.sem[o] ** 2 for o in SUBSCALES if o != s) / 4.0) for s in SUBSCALES
        }

    def reset(self) -> None:
        """Start afresh (the dip that fed the CUSUM has been repaired)."""
        self.cusum = dict.fromkeys(SUBSCALES, 0.0)
        self.checks = dict.fromkeys(SUBSCALES, 0)

    def step(self, obs: Observation) -> State | None:
        """One answered check: the strongest subscale's state, None when none has slid."""
        if obs.goals is None or obs.tasks is None or obs.bond is None:
            return None
        scores = {"goals": obs.goals, "tasks": obs.tasks, "bond": obs.bond}
        found = [state for s in SUBSCALES if (state := self._subscale(s, scores)) is not None]
        for s in SUBSCALES:
            self.contrasts[s].append(_contrast(scores, s))
            self.scores[s].append(scores[s])
            self.sliding[s].append(self.cusum[s] > 0)
        return max(found, key=lambda state: (state.level, state.evidence["cusum"]), default=None)

    def _bases(self, subscale: str) -> tuple[Baseline, Baseline] | None:
        # the checks of a slide stay out of the usual level, which would follow it down
        contrasts, scores, sliding = self.contrasts[subscale], self.scores[subscale], self.sliding[subscale]
        contrast = compute_baseline(contrasts, sliding, 0.0, self.sem[subscale], self.settings)
        own = compute_baseline(scores, sliding, self.th.rc[subscale], self.th.sem[subscale], self.settings)
        return None if contrast is None or own is None else (contrast, own)

    def _subscale(self, subscale: str, scores: dict[str, float]) -> State | None:
        """This check of one subscale: the CUSUM of its contrast moves; a state once it is sustained
        and the subscale itself has fallen far enough."""
        settings = self.settings
        bases = self._bases(subscale)
        if bases is None:
            return None
        contrast, own = bases
        z = (contrast.usual - _contrast(scores, subscale)) / contrast.scale
        cusum, checks = step_cusum(self.cusum[subscale], self.checks[subscale], z, settings)
        self.cusum[subscale], self.checks[subscale] = cusum, checks
        latest = [*self.scores[subscale][-(RECENT_CHECKS - 1) :], scores[subscale]]
        shortfall = recent_shortfall(own.usual, latest, checks)
        if not is_sustained(cusum, shortfall, self.th.rc[subscale], settings):
            return None
        return State(
            level=cusum_level(cusum, settings),
            subscale=subscale,
            evidence={
                "baseline": rounded(own.usual),
                "current": rounded(scores[subscale]),
                "cusum": rounded(cusum),
                "threshold": settings.cusum_h,
                "variability": rounded(contrast.noise),
                "checks_below": checks,
                "recent_shortfall": rounded(shortfall),
                "others_held": True,
            },
            message=divergence_message(subscale, own.usual, checks, scores[subscale]),
        )
