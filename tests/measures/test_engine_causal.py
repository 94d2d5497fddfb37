"""The engine is causal: what it says at session k depends only on observations up to k."""

import dataclasses
import datetime

import numpy as np
import pytest

from measures.engine import EngineSettings, Observation, compute_case
from measures.simulation import PATTERNS, simulate_case

SETTINGS = EngineSettings()


def random_series(rng, n_sessions):
    """A random walk on the 0–10 scale with no-shows, skipped checks and rupture answers."""
    level = rng.uniform(5, 10.5)
    start = datetime.date(2025, 3, 3)
    out = []
    for number in range(1, n_sessions + 1):
        level = min(11.0, max(0.0, level + rng.normal(0, 0.8)))
        attended = rng.random() > 0.12
        answered = attended and rng.random() > 0.15
        scores = (
            [float(np.clip(np.rint(2 * (level + rng.normal(0, 0.7))) / 2, 0, 10)) for _ in "gtb"]
            if answered
            else [None, None, None]
        )
        rupture = int(rng.choice([0, 0, 0, 1, 2])) if answered and rng.random() > 0.3 else None
        out.append(
            Observation(
                number, start + datetime.timedelta(weeks=number), attended, *scores, rupture
            )
        )
    return out


def truncated(participants, k):
    return {pid: [o for o in obs if o.session_number <= k] for pid, obs in participants.items()}


def assert_causal(participants, compute=compute_case):
    full = compute(participants, SETTINGS)
    last = max((o.session_number for obs in participants.values() for o in obs), default=0)
    for k in range(1, last + 1):
        partial = compute(truncated(participants, k), SETTINGS)
        expected = [f for f in full.findings if f.session_number <= k]
        assert partial.findings == expected, f"findings up to session {k} changed"


@pytest.mark.parametrize("seed", range(40))
def test_findings_up_to_k_are_the_same_on_the_first_k_sessions(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.choice([1, 1, 2, 3]))
    participants = {f"p{i}": random_series(rng, int(rng.integers(3, 18))) for i in range(size)}
    assert_causal(participants)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_simulated_patterns_are_replayed_causally(pattern):
    case = simulate_case(pattern, np.random.default_rng(7), 14, case_id="c")
    assert_causal(case.participants)


def test_the_causality_check_catches_an_engine_that_peeks_ahead():
    def peeking(participants, settings):
        result = compute_case(participants, settings)
        length = sum(len(obs) for obs in participants.values())
        findings = [dataclasses.replace(f, evidence={"sessions": length}) for f in result.findings]
        return dataclasses.replace(result, findings=findings)

    case = simulate_case("sudden_drop", np.random.default_rng(3), 12, case_id="c")
    assert_causal(case.participants)
    with pytest.raises(AssertionError, match="changed"):
        assert_causal(case.participants, compute=peeking)
