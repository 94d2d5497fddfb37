"""The engine's findings are exactly those recorded in tests/measures/golden/ (see make_golden.py).

A refactoring of the engine must leave every finding, active finding, summary and risk score as
it was. If a change of findings is intended, rerun make_golden.py and say why in the commit.
"""

import pytest

from tests.measures.golden import make_golden

GOLDEN = make_golden.load()


@pytest.mark.parametrize("run", sorted(GOLDEN["records"]))
def test_the_engine_says_what_it_said_before(run):
    name, variant, mode = run.split("|")
    recomputed = make_golden.compute_record(GOLDEN["inputs"][name], variant, mode == "calibrated")
    expected = GOLDEN["records"][run]
    for case_id, case in expected["cases"].items():
        assert recomputed["cases"][case_id] == case, f"{run}: case {case_id} differs"
    assert recomputed == expected


def test_the_simulator_still_draws_the_recorded_cohorts():
    # the golden inputs come from the simulator; if it changes on purpose, rerun make_golden.py
    for name, text in make_golden.cohort_inputs().items():
        assert text == GOLDEN["inputs"][name], name


def test_the_recorded_runs_cover_every_kind_and_severity():
    seen = {
        (finding[2], finding[3])
        for record in GOLDEN["records"].values()
        for case in record["cases"].values()
        for finding in case["findings"]
    }
    assert {kind for kind, _ in seen} == {
        "reliable_drop", "sustained_decline", "low_score", "rupture", "missed_checks",
        "no_show", "split_alliance", "ceiling", "repaired_rupture",
    }
    assert {severity for _, severity in seen} == {"info", "warning", "alert"}
