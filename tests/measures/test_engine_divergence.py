"""One subscale sliding while the other two hold (measures/engine/detectors/divergence.py).

Pure: no database, no Django. The third generator's slow erosion of the tasks alone lost two
thirds of its slide in the total; the contrast keeps it (bench/early_warning.py --curves).
"""

import dataclasses

from measures.engine import KIND_SUSTAINED_DECLINE, EngineSettings
from tests.measures.test_engine import FLAGS, run

SETTINGS = EngineSettings()
WITHOUT = dataclasses.replace(SETTINGS, divergence=False)

# goals and bond hold at 8–8.5 while the tasks slide from 8.5 to 5 over eight checks
STEADY = [(8, 8.5, 8.5), (8.5, 8, 8), (8, 8.5, 8.5), (8.5, 8.5, 8), (8, 8, 8.5), (8.5, 8.5, 8)]
TASKS_SLIDE = (*STEADY, *((8 + (i % 2) * 0.5, t, 8.5 - (i % 2) * 0.5) for i, t in enumerate(
    (7.5, 7.5, 7, 6.5, 6, 6, 5.5, 5)
)))


def declines(result):
    return [f for f in result.findings if f.kind == KIND_SUSTAINED_DECLINE and f.severity in FLAGS]


def test_a_slide_of_the_tasks_alone_is_a_sustained_decline_of_the_tasks_in_the_clients_numbers():
    (finding, *_rest) = declines(run(*TASKS_SLIDE, settings=SETTINGS))
    assert finding.subscale == "tasks"
    assert finding.evidence["baseline"] >= 8 and finding.evidence["current"] <= 7
    assert finding.evidence["others_held"] is True
    e = finding.evidence
    assert finding.message.startswith(
        f"Tasks has been below its usual {e['baseline']:.1f} over the last {e['checks_below']} checks "
        f"(now {e['current']:.1f}) while goals and bond held"
    )


def test_the_total_alone_does_not_see_that_slide():
    assert declines(run(*TASKS_SLIDE, settings=WITHOUT)) == []


def test_the_finding_comes_only_once_the_slide_has_run_for_a_while():
    result = run(*TASKS_SLIDE, settings=SETTINGS)
    assert min(f.session_number for f in declines(result)) > len(STEADY) + 2


def test_steady_answers_that_wobble_raise_nothing():
    wobble = [(8, 8.5, 8), (8.5, 8, 8), (8, 7.5, 8.5), (8.5, 8.5, 8), (8, 8, 8.5), (8, 7.5, 8)] * 3
    assert declines(run(*wobble, settings=SETTINGS)) == []


def test_all_three_sliding_together_is_the_totals_decline():
    together = (9, 9, 8.5, 9, 9, 9, 8.5, 8, 7.5, 7, 6.5, 6)
    found = declines(run(*together, settings=SETTINGS))
    assert found and found[0].subscale == "total"


def test_what_the_engine_said_at_a_session_does_not_change_with_later_checks():
    full = run(*TASKS_SLIDE, settings=SETTINGS)
    for cut in range(len(STEADY), len(TASKS_SLIDE) + 1):
        prefix = run(*TASKS_SLIDE[:cut], settings=SETTINGS)
        assert [f for f in full.findings if f.session_number <= cut] == prefix.findings
