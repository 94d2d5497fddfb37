"""Live equals replay (issue 9): a small simulated clinic driven through the real actions and
periodic tasks for weeks of calendar time raises, flag for flag, what `replay` finds on the
exported history, and no flag opens on a check that is still pending. bench/live_replay.py runs
the same on a larger clinic."""

from datetime import timedelta

import pytest

from bench.live_replay import keep_settings, run_and_compare
from tests.builders import make_clinic, make_user


@pytest.mark.django_db(transaction=True)  # committed as requests and the worker commit, so tasks run on commit
def test_the_live_app_raises_exactly_what_replay_finds(mailoutbox):
    clinic = make_clinic("Live replay clinic")
    therapist = make_user(clinic)
    # A calibrated clinic: a stored strictness and usual rate of missed checks, a flag sensitivity
    # of its own; the export's replay options must carry all three.
    keep_settings(clinic, strictness=1.6, sensitivity="sensitive", engagement_rate=0.2)
    run, live, replayed, differences = run_and_compare(
        clinic, therapist, clients=8, weeks=6, seed=3, beat_step=timedelta(hours=2)
    )
    assert run.attended > 20 and run.submitted > 20 and run.never_answered > 0
    assert run.evaluations_on_expiry > 0  # the expiry job re-evaluated cases without a submission
    assert live and replayed, "the run should raise some flags"
    assert run.out_of_order == 0  # weekly sessions, 4-day links: checks settle in session order
    assert differences == []
    assert run.unbacked == []  # every recorded finding is a line of its flag's history
    assert [flag for flag in run.flags if flag.on_pending_check] == []


@pytest.mark.django_db(transaction=True)
def test_live_equals_replay_when_checks_settle_out_of_session_order(mailoutbox):
    """Sessions twice a week, closer than the checks' 4-day links: a check is often still
    pending when the next session is judged, and settles after it."""
    clinic = make_clinic("Live replay clinic")
    therapist = make_user(clinic)
    run, live, replayed, differences = run_and_compare(
        clinic, therapist, clients=8, weeks=4, seed=3, beat_step=timedelta(hours=2), gap_days=3
    )
    assert run.out_of_order > 0, "the run should have checks that settle after the next session's"
    assert run.redated + run.seen_late > 0, "some late check should have changed an earlier session's finding"
    assert live and replayed
    assert differences == []
    assert run.unbacked == []
    assert [flag for flag in run.flags if flag.on_pending_check] == []
