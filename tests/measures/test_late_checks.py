"""A check that settles after a later session was judged (issue 9.2, sessions closer than the
link's lifetime): the live app does not wait for it (a drop at the latest session opens at
once), and when it arrives the flag history is brought in line with what the engine (and so
`replay`) finds on the whole series: an open flag is re-dated to the earlier onset, and a finding
that had already passed is recorded as a flag that opened and cleared, without an email.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from measures.evaluation import RECORDED, do_evaluate_case
from measures.models import CaseEvaluation, Signal, SurveyInvitation
from tests.builders import give_history, make_invitation, make_response, make_session

STEADY = [9, 9, 8.5, 9, 9, 9]  # six weekly checks, the last ten days ago


@pytest.fixture
def slow_check(case):
    """Six steady checks; session 7 (three days ago) attended, its check still open; session 8
    (an hour ago) attended. Returns (participant, session 7, session 8)."""
    participant = give_history(case, STEADY, start_days_ago=10 + 7 * (len(STEADY) - 1))
    seventh = make_session(case, days_ago=3)
    make_invitation(seventh, participant, created_at=seventh.scheduled_start)
    eighth = make_session(case, days_ago=0)
    return participant, seventh, eighth


def arrives(session, participant, total):
    """The slow check is answered now."""
    SurveyInvitation.objects.filter(session=session, participant=participant).delete()
    make_response(session, participant, goals=total, tasks=total, bond=total)


def history(case):
    return [
        (signal.kind, signal.session_id, signal.status, [(a.action, a.severity) for a in signal.actions.all()])
        for signal in Signal.objects.filter(case=case).order_by("pk")
    ]


def recorded(case):
    summary = CaseEvaluation.objects.get(case=case).summary
    return sorted(tuple(row[:3]) for figures in summary.values() for row in figures.get(RECORDED, []))


def evaluate(case, callbacks):
    with callbacks(execute=True):  # alerts are emailed on commit, as in the app
        do_evaluate_case(case.pk)


def test_a_drop_at_the_latest_session_opens_at_once_while_an_earlier_check_is_pending(
    case, slow_check, django_capture_on_commit_callbacks
):
    participant, seventh, eighth = slow_check
    make_response(eighth, participant, goals=5.5, tasks=5.5, bond=5.5)
    evaluate(case, django_capture_on_commit_callbacks)
    flags = {signal.kind: signal for signal in Signal.objects.filter(case=case, status="open")}
    assert flags["reliable_drop"].session == eighth and flags["reliable_drop"].severity == "warning"


def test_a_late_check_revealing_an_earlier_onset_re_dates_the_open_flag(
    case, slow_check, django_capture_on_commit_callbacks, mailoutbox
):
    participant, seventh, eighth = slow_check
    make_response(eighth, participant, goals=5.5, tasks=5.5, bond=5.5)
    evaluate(case, django_capture_on_commit_callbacks)
    assert recorded(case) == [("low_score", eighth.pk, "warning"), ("reliable_drop", eighth.pk, "warning")]

    arrives(seventh, participant, 5.5)  # the drop began a session earlier: the onset is at 7
    evaluate(case, django_capture_on_commit_callbacks)

    low, drop = (Signal.objects.get(case=case, kind=kind) for kind in ("low_score", "reliable_drop"))
    # the same flag, now dated at session 7, with one line that says why (and no email for it)
    assert low.session == seventh and low.status == "open"
    assert [(a.action, a.severity) for a in low.actions.all()] == [("opened", "warning"), ("updated", "warning")]
    assert "arrived late" in low.actions.last().note
    # the drop: re-dated to 7, and the second low check at 8 is an alert on the latest session
    assert drop.session == eighth and drop.severity == "alert"
    assert [(a.action, a.severity) for a in drop.actions.all()] == [
        ("opened", "warning"), ("updated", "warning"), ("escalated", "alert")
    ]
    assert [message.subject for message in mailoutbox if "alert" in message.subject.lower()] != []
    assert len(mailoutbox) == 1  # the escalation's email only
    # what the history records is what replay finds on the whole series
    assert recorded(case) == [
        ("low_score", seventh.pk, "warning"),
        ("reliable_drop", seventh.pk, "warning"),
        ("reliable_drop", eighth.pk, "alert"),
    ]


def test_a_finding_that_had_already_passed_is_recorded_as_opened_and_cleared_without_email(
    case, slow_check, django_capture_on_commit_callbacks, mailoutbox
):
    participant, seventh, eighth = slow_check
    make_response(eighth, participant, goals=9, tasks=9, bond=9)
    evaluate(case, django_capture_on_commit_callbacks)
    assert Signal.objects.filter(case=case).count() == 0

    arrives(seventh, participant, 5.5)  # a one-session dip, over by session 8
    evaluate(case, django_capture_on_commit_callbacks)

    late = Signal.objects.filter(case=case, kind__in=("reliable_drop", "low_score")).order_by("kind")
    assert [(s.kind, s.session, s.status, s.holds) for s in late] == [
        ("low_score", seventh, "cleared", False),
        ("reliable_drop", seventh, "cleared", False),
    ]
    for signal in late:
        assert [(a.action, a.severity) for a in signal.actions.all()] == [("opened", "warning"), ("cleared", "")]
        assert "Seen late" in signal.actions.first().note
        assert signal.opened_at == signal.closed_at
    # the repair that follows it is today's news, as a note; nothing is emailed
    assert Signal.objects.get(case=case, kind="repaired_rupture").session == eighth
    assert mailoutbox == []
    assert recorded(case) == [
        ("low_score", seventh.pk, "warning"),
        ("reliable_drop", seventh.pk, "warning"),
        ("repaired_rupture", eighth.pk, "info"),
    ]


@pytest.mark.parametrize("dip_at_eight", [5.5, 9])
def test_a_second_evaluation_recognises_what_the_first_recorded(
    case, slow_check, django_capture_on_commit_callbacks, mailoutbox, dip_at_eight
):
    participant, seventh, eighth = slow_check
    make_response(eighth, participant, goals=dip_at_eight, tasks=dip_at_eight, bond=dip_at_eight)
    evaluate(case, django_capture_on_commit_callbacks)
    arrives(seventh, participant, 5.5)
    evaluate(case, django_capture_on_commit_callbacks)
    before, ledger, emails = history(case), recorded(case), len(mailoutbox)

    evaluate(case, django_capture_on_commit_callbacks)
    evaluate(case, django_capture_on_commit_callbacks)

    assert history(case) == before
    assert recorded(case) == ledger
    assert len(mailoutbox) == emails


def test_a_case_evaluated_before_the_record_existed_gets_no_late_flags_for_its_past(
    case, django_capture_on_commit_callbacks
):
    """Findings of the past the engine already raised before this was recorded are history the
    flags never claimed: an evaluation does not backfill them as "seen late"."""
    participant = give_history(case, [9, 9, 8.5, 9, 9, 9, 5.5, 9])
    evaluate(case, django_capture_on_commit_callbacks)
    assert set(Signal.objects.filter(case=case).values_list("kind", flat=True)) == {"repaired_rupture"}
    make_response(make_session(case, days_ago=0), participant)
    CaseEvaluation.objects.filter(case=case).update(evaluated_at=timezone.now() - timedelta(hours=1))
    evaluate(case, django_capture_on_commit_callbacks)
    assert not Signal.objects.filter(case=case, kind__in=("reliable_drop", "low_score")).exists()


def test_a_late_check_that_ends_an_episode_closes_its_flag_and_the_new_one_opens(
    case, django_capture_on_commit_callbacks
):
    """Low at 7; 8 is late; low again at 9: the flag of 7 seemed to hold on. When 8 arrives
    (back to usual) the first episode ended at 8 and a new one began at 9: the history says so,
    and an alert that the partial series raised at 9 is re-judged a warning, with one line."""
    participant = give_history(case, STEADY, start_days_ago=12 + 7 * (len(STEADY) - 1))
    seventh = make_session(case, days_ago=8)
    make_response(seventh, participant, goals=6.5, tasks=6.5, bond=6.5)
    evaluate(case, django_capture_on_commit_callbacks)
    eighth = make_session(case, days_ago=3)
    make_invitation(eighth, participant, created_at=eighth.scheduled_start)
    ninth = make_session(case, days_ago=0)
    make_response(ninth, participant, goals=6.5, tasks=6.5, bond=6.5)
    evaluate(case, django_capture_on_commit_callbacks)
    assert Signal.objects.get(case=case, kind="reliable_drop").severity == "alert"  # not held back

    arrives(eighth, participant, 9)
    evaluate(case, django_capture_on_commit_callbacks)

    lows = list(Signal.objects.filter(case=case, kind="low_score").order_by("pk"))
    assert [(s.session, s.status) for s in lows] == [(seventh, "cleared"), (ninth, "open")]
    assert "had ended" in lows[0].actions.last().note
    drop = Signal.objects.get(case=case, kind="reliable_drop")
    assert [(a.action, a.severity) for a in drop.actions.all()] == [
        ("opened", "warning"), ("escalated", "alert"), ("updated", "warning")
    ]
    assert drop.severity == "warning" and drop.session == ninth and drop.status == "open"
    assert recorded(case) == sorted([
        ("reliable_drop", seventh.pk, "warning"),
        ("low_score", seventh.pk, "warning"),
        ("repaired_rupture", eighth.pk, "info"),
        ("reliable_drop", ninth.pk, "warning"),
        ("low_score", ninth.pk, "warning"),
    ])
    before = history(case)
    evaluate(case, django_capture_on_commit_callbacks)
    assert history(case) == before
