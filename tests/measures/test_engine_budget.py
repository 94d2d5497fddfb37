"""The strictness knob: one number moves every flag-raising rule, in one direction."""

import statistics

import pytest

from measures.engine import EngineSettings, compute_case
from measures.engine.budget import COURSES, STRICTNESS_RANGE, at_strictness, calibrate_strictness, is_flagged
from measures.engine.null_model import simulate_null_courses
from measures.simulation import simulate_cohort
from tests.measures.test_null_model import known_model

FLAGS = ("warning", "alert")


def _flagged(cases, settings):
    return sum(
        1 for case in cases if any(f.severity in FLAGS for f in compute_case(case.participants, settings).findings)
    )


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(120, seed=31)


def test_strictness_one_is_the_defaults():
    settings = EngineSettings()
    assert at_strictness(settings, 1.0) is settings


def test_it_moves_every_flag_threshold_and_no_note_threshold():
    base = EngineSettings()
    strict = at_strictness(base, 1.5)
    assert strict.z_confirm == pytest.approx(base.z_confirm * 1.5)
    assert strict.cusum_h == pytest.approx(base.cusum_h * 1.5)
    assert strict.sustained_min_change == pytest.approx(base.sustained_min_change * 1.5)
    assert strict.engagement_alpha == pytest.approx(base.engagement_alpha**1.5)
    assert strict.split_large == pytest.approx(base.split_large * 1.5)
    assert strict.z_drop == base.z_drop  # a note's bar does not move
    assert strict.cutoff == base.cutoff  # the clinic's cutoff is the clinic's


def test_the_persistence_a_low_score_or_a_split_needs_moves_with_it():
    """A family of five has ten pairs: if a split's persistence did not move, no strictness
    would bring steady families under the budget (bench/early_warning.py --curves, third)."""
    base = EngineSettings()
    strict = at_strictness(base, 2.0)
    assert strict.low_run == 6
    # a split's run keeps its length and counts only checks above a higher bar: two checks past
    # it are as unlikely under noise as four past the note's bar (the one-sided tail squared)
    assert (strict.split_warning_run, strict.split_alert_run) == (2, 3)
    tail = 1 - statistics.NormalDist().cdf(base.z_drop)
    assert 1 - statistics.NormalDist().cdf(strict.split_run_bar * base.z_drop) == pytest.approx(tail**2)
    lenient = at_strictness(base, 0.4)
    assert lenient.low_run == 1 and lenient.split_warning_run == 1 and lenient.split_run_bar == 1.0
    assert lenient.split_alert_run > lenient.split_warning_run  # an alert needs more than a warning


def test_the_split_run_bar_rises_smoothly_with_it():
    """The run's bar, unlike a run length, has no steps: the flagged share does not jump where
    a whole check is added (noisy families' share fell 9.6% → 5.8% between s = 2.22 and 2.27)."""
    grid = [1.0 + 0.01 * k for k in range(201)]
    bars = [at_strictness(EngineSettings(), s).split_run_bar for s in grid]
    steps = [b - a for a, b in zip(bars, bars[1:], strict=False)]
    assert bars[0] == 1.0 and all(step > 0 for step in steps)
    assert max(steps) < 0.02  # a run length moves the share as a whole check does


@pytest.mark.parametrize("strictness", [0.0, 100.0])
def test_it_is_clipped_to_its_range(strictness):
    low, high = STRICTNESS_RANGE
    clipped = at_strictness(EngineSettings(), strictness)
    assert clipped == at_strictness(EngineSettings(), min(high, max(low, strictness)))


def test_a_flag_never_needs_less_than_a_note():
    assert at_strictness(EngineSettings(), 0.4).z_confirm == EngineSettings().z_drop


def test_stricter_flags_fewer_cases(cohort):
    counts = [_flagged(cohort, at_strictness(EngineSettings(), s)) for s in (0.6, 1.0, 1.6)]
    assert counts[0] > counts[1] > counts[2]


# ---- the budget: the strictness that flags B% of the clinic's own steady courses ---------------


@pytest.fixture(scope="module")
def steady_clinic():
    """A clinic whose clients all stay steady, from a null model with known parameters."""
    model = known_model(0.4, 0.55, 0.45, 0.5, clients=400, seed=11)
    history = [obs for course in simulate_null_courses(model, 3000, seed=12) for obs in course.values()]
    fresh = simulate_null_courses(model, 1000, seed=13)
    return history, fresh


def _share_flagged(courses, settings):
    return sum(is_flagged(compute_case(course, settings)) for course in courses) / len(courses)


@pytest.mark.parametrize("budget", [0.05, 0.08])
def test_it_keeps_the_budget_on_fresh_steady_courses(steady_clinic, budget):
    history, fresh = steady_clinic
    fit = calibrate_strictness(history, EngineSettings(), budget)
    assert fit.budget == budget and fit.courses == COURSES and fit.participants == 3000
    assert fit.achieved <= budget
    assert _share_flagged(fresh, at_strictness(EngineSettings(), fit.strictness)) == pytest.approx(budget, abs=0.02)


def test_a_smaller_budget_needs_a_stricter_engine(steady_clinic):
    history, _ = steady_clinic
    strictness = [
        calibrate_strictness(history[:400], EngineSettings(), b, courses=150).strictness for b in (0.03, 0.08, 0.15)
    ]
    assert strictness[0] > strictness[1] > strictness[2]


@pytest.mark.parametrize("budget", [0.02, 0.15])
def test_every_budget_from_2_to_15_percent_is_reachable_for_couples_and_families(steady_clinic, budget):
    history, _ = steady_clinic
    fit = calibrate_strictness(history[:400], EngineSettings(), budget, courses=150, case_sizes=[2, 3])
    low, high = STRICTNESS_RANGE
    # inside the range, not clipped to an end, and close to the budget from below: a knob whose
    # share jumps (runs of checks are whole numbers) would land well under it
    assert low < fit.strictness < high
    assert budget - 0.02 <= fit.achieved <= budget


def test_it_is_deterministic_for_a_seed(steady_clinic):
    history, _ = steady_clinic
    first = calibrate_strictness(history[:400], EngineSettings(), courses=100, seed=3)
    assert calibrate_strictness(history[:400], EngineSettings(), courses=100, seed=3) == first


def test_it_fits_nothing_on_too_little_data(steady_clinic):
    history, _ = steady_clinic
    assert calibrate_strictness(history[:29], EngineSettings()) is None


def test_only_a_warning_or_an_alert_is_a_flag(cohort):
    results = [compute_case(case.participants, EngineSettings()) for case in cohort]
    severities = [{f.severity for f in result.findings} for result in results]
    assert [is_flagged(r) for r in results] == [bool(s & set(FLAGS)) for s in severities]
    assert any(s == {"info"} for s in severities)  # a case with notes only is not flagged


def test_a_case_flag_counts_for_each_member(steady_clinic):
    history, _ = steady_clinic
    alone = calibrate_strictness(history[:400], EngineSettings(), courses=150)
    together = calibrate_strictness(history[:400], EngineSettings(), courses=150, case_sizes=[2, 3])
    # a couple or a family is flagged when any member is: it takes a stricter engine
    assert together.strictness > alone.strictness
