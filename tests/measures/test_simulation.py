"""The cohort simulator: deterministic, realistic in form, honest about its ground truth."""

import io

import numpy as np
import pytest

from measures.engine import EngineSettings, compute_case
from measures.engine.replay import read_replay
from measures.simulation import (
    OUTCOME_COMPLETED,
    OUTCOME_DROPOUT,
    PATTERN_COUPLE_COMPLETER,
    PATTERN_FAMILY_COMPLETER,
    PATTERN_SPLIT_COUPLE,
    PATTERNS,
    simulate_case,
    simulate_cohort,
    write_replay_csv,
)

DROPOUT_PATTERNS = {"gradual_decline", "sudden_drop", "silent_disengagement", "split_couple"}


def test_a_seed_gives_the_same_cohort_and_another_seed_a_different_one():
    def csv_of(seed):
        stream = io.StringIO()
        write_replay_csv(simulate_cohort(60, seed), stream)
        return stream.getvalue()

    assert csv_of(5) == csv_of(5)
    assert csv_of(5) != csv_of(6)


def test_the_cohort_has_the_requested_size_and_every_pattern():
    cases = simulate_cohort(600, 11)
    participants = sum(len(c.participants) for c in cases)
    assert 600 <= participants < 603
    assert {c.pattern for c in cases} == set(PATTERNS)
    dropouts = (
        sum(t.outcome == OUTCOME_DROPOUT for c in cases for t in c.truth.values()) / participants
    )
    assert 0.1 < dropouts < 0.35  # about one client in five drops out


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_pattern_has_consistent_ground_truth(pattern):
    rng = np.random.default_rng(3)
    for index in range(20):
        case = simulate_case(pattern, rng, int(rng.integers(6, 20)), case_id=f"c{index}")
        size = {PATTERN_SPLIT_COUPLE: 2, PATTERN_COUPLE_COMPLETER: 2, PATTERN_FAMILY_COMPLETER: 3}
        assert len(case.participants) == size.get(pattern, 1)
        assert set(case.truth) == set(case.participants)
        for pid, observations in case.participants.items():
            truth = case.truth[pid]
            numbers = [o.session_number for o in observations]
            assert numbers == list(range(1, len(numbers) + 1))
            attended = [o.session_number for o in observations if o.attended]
            assert truth.last_attended == max(attended)
            if pattern in DROPOUT_PATTERNS:
                assert truth.outcome == OUTCOME_DROPOUT
                assert 1 <= truth.decline_start <= truth.last_attended
                assert not truth.is_rupture_free
                # nothing attended after the last attended session: the client stopped coming
                assert all(not o.attended for o in observations[truth.last_attended :])
            else:
                assert truth.outcome == OUTCOME_COMPLETED
                assert truth.decline_start is None
            for o in observations:
                if not o.attended:
                    assert o.goals is o.tasks is o.bond is o.rupture is None
                for score in (o.goals, o.tasks, o.bond):
                    # two integer items averaged: multiples of 0.5 on 0–10
                    assert score is None or (0 <= score <= 10 and (2 * score) % 1 == 0)


def test_engaged_clients_still_skip_a_check_now_and_then_and_ceilings_are_clipped():
    cases = simulate_cohort(400, 2)
    observations = [o for c in cases for obs in c.participants.values() for o in obs]
    attended = [o for o in observations if o.attended]
    skipped = sum(not o.is_answered for o in attended) / len(attended)
    assert 0.02 < skipped < 0.2
    full_marks = sum(o.total == 10 for o in attended if o.total is not None)
    assert full_marks > 100


def test_the_replay_csv_reads_back_to_the_same_observations():
    cases = simulate_cohort(40, 9)
    stream = io.StringIO()
    rows = write_replay_csv(cases, stream)
    assert rows == sum(len(obs) for c in cases for obs in c.participants.values())
    parsed = read_replay(io.StringIO(stream.getvalue()), EngineSettings())
    assert parsed == {c.case_id: c.participants for c in cases}


def test_an_unknown_pattern_is_refused():
    with pytest.raises(ValueError, match="unknown pattern"):
        simulate_case("sulking", np.random.default_rng(0), 10)


def test_the_engine_separates_dropouts_from_rupture_free_completers():
    """A coarse regression guard for the calibration; bench/early_warning.py has the figures."""
    settings = EngineSettings()
    flagged = {"dropout": [], "clean": []}
    for case in simulate_cohort(800, 4):
        result = compute_case(case.participants, settings)
        sessions = [f.session_number for f in result.findings if f.severity != "info"]
        for truth in case.truth.values():
            if truth.outcome == OUTCOME_DROPOUT:
                window = range(truth.decline_start, truth.last_attended + 1)
                flagged["dropout"].append(any(s in window for s in sessions))
            elif truth.is_rupture_free:
                flagged["clean"].append(bool(sessions))
    assert np.mean(flagged["dropout"]) >= 0.75
    assert np.mean(flagged["clean"]) <= 0.15
