"""The false-flag budget: one strictness knob over every rule that raises a flag.

A clinic's budget ("at most B% of clients who stay in therapy are ever flagged over a course")
is kept by choosing one number, the strictness, that moves every flag-raising threshold
together: the bar a confirmed drop must clear, the CUSUM's decision interval, the size a
sustained shift or a low run needs, how improbable a run of lapses must be, and how far a
couple's or family's gap must widen. Strictness 1 is the built-in defaults; above 1 fewer
flags, below 1 more. Notes (info findings) and self-reported ruptures do not move: a note is
not a flag, and a client saying something felt off is never explained away as noise.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .contract import SEVERITY_ALERT, SEVERITY_WARNING
from .data import CaseResult, EngineSettings, Observation
from .detection import compute_case
from .null_model import fit_null_model, simulate_null_courses

STRICTNESS_RANGE = (0.4, 3.0)
FLAG_SEVERITIES = (SEVERITY_WARNING, SEVERITY_ALERT)


def at_strictness(settings: EngineSettings, strictness: float) -> EngineSettings:
    """``settings`` with every flag-raising threshold moved by ``strictness`` (clipped to
    STRICTNESS_RANGE); 1.0 returns ``settings`` unchanged.

    Thresholds in SD units (the confirm bar, the split multiples) and sizes (the sustained
    shift) scale linearly; the CUSUM interval too (its run length grows about linearly with h);
    the lapse probabilities are raised to the power strictness (a run's probability is a
    product, so a power scales the run length it takes); the run of checks a low score needs
    scales too, rounded; a couple's or family's split's persistence moves too (a family of five
    has ten pairs: without it, the strictest setting still flags steady families), by the bar a
    check must reach to count towards the run above 1 (_run_bar) and by the run's length below. The
    confirm bar never falls below the note's bar (z_drop): a flag needs more evidence than a note.
    """
    low, high = STRICTNESS_RANGE
    s = min(high, max(low, strictness))
    if s == 1.0:
        return settings
    shorter = min(s, 1.0)  # a split's runs shorten below 1; above, its run bar rises instead
    return dataclasses.replace(
        settings,
        z_confirm=max(settings.z_drop, settings.z_confirm * s),
        cusum_h=settings.cusum_h * s,
        sustained_min_change=settings.sustained_min_change * s,
        engagement_alpha=settings.engagement_alpha**s,
        engagement_alpha_ceiling=settings.engagement_alpha_ceiling**s,
        split_large=settings.split_large * s,
        split_very_large=settings.split_very_large * s,
        low_run=_run(settings.low_run, s),
        split_warning_run=_run(settings.split_warning_run, shorter),
        split_alert_run=max(_run(settings.split_alert_run, shorter), _run(settings.split_warning_run, shorter) + 1),
        split_run_bar=settings.split_run_bar * _run_bar(settings.z_drop, s),
    )


def _run_bar(z: float, strictness: float) -> float:
    """How much higher a check must be to count towards a run at ``strictness`` ≥ 1: the bar whose
    one-sided tail is the note's tail (at ``z``) to the power strictness, as a multiple of ``z``.
    Under noise a run of k such checks is as unlikely as a run of k · strictness at the note's
    bar, the run that strictness asked for before, but the bar moves smoothly where a run length
    moves a whole check at a time (a family of five's ten pairs made the flagged share jump by
    several points there). Below 1 the bar stays and the runs shorten instead."""
    if strictness <= 1.0:
        return 1.0
    normal = statistics.NormalDist()
    tail = (1.0 - normal.cdf(z)) ** strictness
    return normal.inv_cdf(1.0 - tail) / z


def _run(length: int, strictness: float) -> int:
    """A run length (checks in a row) at ``strictness``: scaled and rounded, at least one."""
    return max(1, int(length * strictness + 0.5))


DEFAULT_BUDGET = 0.08
COURSES = 1000  # Monte Carlo SE of the flagged share at 8%: 0.9 points (1.4 at 400)
TOLERANCE = 0.01  # strictness resolution of the search


@dataclass(frozen=True)
class BudgetFit:
    """The strictness that keeps a budget, and the share of null courses it flags."""

    strictness: float
    achieved: float
    budget: float
    courses: int
    participants: int


def is_flagged(result: CaseResult) -> bool:
    """True when the case has any warning or alert (a note is not a flag)."""
    return any(f.severity in FLAG_SEVERITIES for f in result.findings)


class _Envelope:
    """Whether each null course is flagged at a strictness, computed lazily and kept monotone.

    A course flagged at some strictness counts as flagged at every lower one, and one clear at
    some strictness as clear at every higher one, so each probe computes only the courses not
    yet decided, and the share is non-increasing in strictness even where the engine, course by
    course, is not quite monotone (flagged wins a contradiction: the budget is a ceiling).
    """

    def __init__(self, courses: Sequence[dict[str, list[Observation]]], settings: EngineSettings):
        self.courses = courses
        self.settings = settings
        # a case counts once per member: the budget is a share of clients, and the dashboard
        # shows every member of a flagged case as flagged
        self.weights = [len(course) for course in courses]
        self.total = sum(self.weights)
        self.flagged_at = [-math.inf] * len(courses)  # highest strictness seen flagged
        self.clear_at = [math.inf] * len(courses)  # lowest strictness seen clear

    def share(self, strictness: float) -> float:
        settings = at_strictness(self.settings, strictness)
        flagged = 0
        for i, course in enumerate(self.courses):
            is_undecided = self.flagged_at[i] < strictness < self.clear_at[i]
            if is_undecided and is_flagged(compute_case(course, settings)):
                self.flagged_at[i] = strictness
            elif is_undecided:
                self.clear_at[i] = strictness
            if self.flagged_at[i] >= strictness:
                flagged += self.weights[i]
        return flagged / self.total


def calibrate_strictness(
    series_list: Iterable[Sequence[Observation]],
    settings: EngineSettings,
    budget: float = DEFAULT_BUDGET,
    *,
    courses: int = COURSES,
    seed: int = 0,
    case_sizes: Sequence[int] | None = None,
) -> BudgetFit | None:
    """The smallest strictness (within STRICTNESS_RANGE) at which at most ``budget`` of
    ``courses`` steady courses simulated from the clinic's null model are ever flagged.

    ``case_sizes``, the number of participants of each of the clinic's cases, makes couples and
    families as often as the clinic has them (a case's flag counts for each member); without it
    every simulated case is one client. ``settings`` should already carry the clinic's
    reliability and spread (apply_calibration): the search moves only the strictness.
    Deterministic for a seed. Returns None when the null model cannot be fitted (too few
    clients), so that the caller keeps ``settings``. When even the strictest setting flags more
    than the budget, the fit says so: strictness is the top of the range and achieved exceeds
    budget.
    """
    model = fit_null_model(series_list, settings, case_sizes=case_sizes)
    if model is None:
        return None
    envelope = _Envelope(simulate_null_courses(model, courses, seed), settings)
    low, high = STRICTNESS_RANGE
    # Bisect on a log scale (the range brackets 1, the defaults, as a ratio), with the bracket's
    # ends assumed, not probed: most courses are decided by the first probes near 1.
    while high / low > 1.0 + TOLERANCE:
        middle = math.sqrt(low * high)
        if envelope.share(middle) <= budget:
            high = middle
        else:
            low = middle
    if low == STRICTNESS_RANGE[0] and envelope.share(low) <= budget:
        high = low  # even the laxest setting keeps the budget
    return BudgetFit(
        strictness=round(high, 3),
        achieved=round(envelope.share(high), 4),
        budget=budget,
        courses=courses,
        participants=model.participants,
    )
