"""The strictness knob: one number moves every flag-raising rule, in one direction."""

import pytest

from measures.engine import EngineSettings, compute_case
from measures.engine.budget import STRICTNESS_RANGE, at_strictness
from measures.simulation import simulate_cohort

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
