"""Escalation: a lapse within settings.escalation_window sessions of a score signal escalates.

Table-driven over the window (1–4) and the lapse's distance from the signal (1 to window + 1):
an unrepaired rupture (a warning) at session 6, answered checks at the usual level after it, then
one lapse at session 6 + distance. A lone lapse is unremarkable for this client (info for a
no-show, nothing for one skipped check); after a signal it is one step more severe.
"""

import dataclasses

import pytest

from measures.engine import KIND_MISSED_CHECKS, KIND_NO_SHOW, KIND_RUPTURE, EngineSettings
from tests.measures.test_engine import run

SIGNAL_AT = 6
USUAL = (9, 9, 9, 9, 9)
CASES = [
    (window, distance)
    for window in (1, 2, 3, 4)
    for distance in range(1, window + 2)
]


def _lapse_after_signal(distance, lapse, settings):
    spec = (*USUAL, (9, 9, 9, 1), *([9] * (distance - 1)), lapse)
    return run(*spec, settings=settings)


def _at(result, kind, session):
    return [f for f in result.findings if f.kind == kind and f.session_number == session]


@pytest.mark.parametrize(("window", "distance"), CASES)
def test_a_no_show_escalates_only_within_the_window(window, distance):
    settings = dataclasses.replace(EngineSettings(), escalation_window=window)
    result = _lapse_after_signal(distance, "x", settings)
    assert [f.severity for f in _at(result, KIND_RUPTURE, SIGNAL_AT)] == ["warning"]
    (no_show,) = _at(result, KIND_NO_SHOW, SIGNAL_AT + distance)
    follows = distance <= window
    assert no_show.severity == ("warning" if follows else "info")
    assert no_show.evidence["follows_signal"] is follows
    assert no_show.evidence["follows_kind"] == (KIND_RUPTURE if follows else "")
    assert ("after a reported rupture" in no_show.message) is follows


@pytest.mark.parametrize(("window", "distance"), CASES)
def test_a_skipped_check_is_noted_only_within_the_window(window, distance):
    settings = dataclasses.replace(EngineSettings(), escalation_window=window)
    result = _lapse_after_signal(distance, ".", settings)
    missed = _at(result, KIND_MISSED_CHECKS, SIGNAL_AT + distance)
    if distance <= window:
        assert [f.severity for f in missed] == ["info"]
        assert missed[0].evidence["follows_signal"] is True
    else:
        assert missed == []


@pytest.mark.parametrize("distance", [1, 2, 3, 4, 5])
def test_the_default_window_is_four_sessions(distance):
    result = _lapse_after_signal(distance, "x", EngineSettings())
    (no_show,) = _at(result, KIND_NO_SHOW, SIGNAL_AT + distance)
    assert no_show.severity == ("warning" if distance <= 4 else "info")
