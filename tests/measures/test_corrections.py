"""A correction of the session record is one correction in the flag history (issue 9.3).

The rule: after a change to a session that was already recorded (its status changed, or it was
moved or removed), each flag the re-evaluation touches gets exactly one "corrected" line instead
of opened / escalated / cleared, and undoing the correction restores the same flags in place.
A resolved flag re-opens only for a finding worse than when it was resolved.
"""

from measures.actions.sessions import do_record_session
from measures.actions.signals import do_acknowledge_signal, do_resolve_signal
from measures.evaluation import do_evaluate_case
from measures.models import CaseEvaluation, Signal, SignalAction
from sessions_app.models import CaseEvent
from tests.builders import make_response, make_session
from tests.measures.test_evaluation import give_history

# The last check is a reliable drop and a low score (both warnings, risk about 50).
DROP_AT_THE_END = [9, 9, 8.5, 9, 9, 9, 5.5]


def record(session, status, therapist, callbacks):
    with callbacks(execute=True):  # the re-evaluation runs on commit, as in the app
        do_record_session(session, status, acting_user=therapist)


def history(case):
    return {
        signal.pk: (signal.kind, signal.status, list(signal.actions.values_list("action", flat=True)))
        for signal in Signal.objects.filter(case=case).order_by("pk")
    }


def risk(case):
    return CaseEvaluation.objects.get(case=case).risk_score


def test_a_misclick_and_its_undo_leave_the_resolved_flags_resolved(
    case, therapist, django_capture_on_commit_callbacks
):
    give_history(case, DROP_AT_THE_END, start_days_ago=42)
    do_evaluate_case(case.pk)
    for flag in Signal.objects.filter(case=case):
        do_resolve_signal(flag, repair="talked_through", note="we talked", acting_user=therapist)
    resolved = {flag.pk for flag in Signal.objects.filter(case=case)}
    before_risk = risk(case)
    last = case.sessions.order_by("-scheduled_start").first()

    record(last, "no_show", therapist, django_capture_on_commit_callbacks)
    record(last, "attended", therapist, django_capture_on_commit_callbacks)

    flags = history(case)
    # No second flag for a finding the therapist resolved: the same rows, still resolved.
    assert {pk for pk, (kind, _, _) in flags.items() if kind in ("reliable_drop", "low_score")} == resolved
    assert all(flags[pk][1] == "resolved" for pk in resolved)
    # Each step of the correction is one "corrected" line; nothing opened or cleared.
    assert all(actions == ["opened", "resolved", "corrected", "corrected"] for _, _, actions in
               (flags[pk] for pk in resolved))
    written = SignalAction.objects.filter(signal__case=case).exclude(action__in=["opened", "resolved"])
    assert set(written.values_list("action", flat=True)) == {"corrected"}
    assert risk(case) == before_risk


def test_the_correction_says_what_changed(case, therapist, django_capture_on_commit_callbacks):
    give_history(case, DROP_AT_THE_END, start_days_ago=42)
    do_evaluate_case(case.pk)
    last = case.sessions.order_by("-scheduled_start").first()
    record(last, "no_show", therapist, django_capture_on_commit_callbacks)
    line = SignalAction.objects.filter(signal__case=case, action="corrected").first()
    assert line is not None and "changed from attended to no-show" in line.note
    event = CaseEvent.objects.filter(case=case, action="session_recorded").last()
    assert event.detail == {"from": "attended", "to": "no_show", "correction": True}


def test_an_acknowledged_flag_comes_back_acknowledged_after_an_undone_correction(
    case, therapist, django_capture_on_commit_callbacks
):
    give_history(case, DROP_AT_THE_END, start_days_ago=42)
    do_evaluate_case(case.pk)
    drop = Signal.objects.get(case=case, kind="reliable_drop")
    do_acknowledge_signal(drop, acting_user=therapist)
    last = case.sessions.order_by("-scheduled_start").first()

    record(last, "no_show", therapist, django_capture_on_commit_callbacks)
    drop.refresh_from_db()
    assert drop.status == "cleared"  # the record now says the client did not come: no drop
    record(last, "attended", therapist, django_capture_on_commit_callbacks)

    drop.refresh_from_db()
    assert drop.status == "acknowledged" and drop.closed_at is None
    assert Signal.objects.filter(case=case, kind="reliable_drop").count() == 1
    assert list(drop.actions.values_list("action", flat=True)) == ["opened", "acknowledged", "corrected", "corrected"]


def test_a_flag_raised_only_by_the_misclick_is_closed_by_its_undo_without_an_open_close_pair(
    case, therapist, django_capture_on_commit_callbacks
):
    give_history(case, DROP_AT_THE_END, start_days_ago=42)
    do_evaluate_case(case.pk)
    last = case.sessions.order_by("-scheduled_start").first()
    record(last, "no_show", therapist, django_capture_on_commit_callbacks)
    record(last, "attended", therapist, django_capture_on_commit_callbacks)
    no_show = Signal.objects.get(case=case, kind="no_show")
    assert no_show.status == "cleared"
    assert list(no_show.actions.values_list("action", flat=True)) == ["corrected", "corrected"]


def test_recording_a_scheduled_session_is_not_a_correction(case, therapist, django_capture_on_commit_callbacks):
    participant = give_history(case, DROP_AT_THE_END[:-1], start_days_ago=42)
    session = make_session(case, days_ago=3, status="scheduled")  # too old for a check: none created
    make_response(session, participant, goals=5.5, tasks=5.5, bond=5.5)
    record(session, "attended", therapist, django_capture_on_commit_callbacks)
    assert CaseEvent.objects.filter(session=session, action="session_recorded").get().detail == {
        "from": "scheduled",
        "to": "attended",
    }
    assert set(SignalAction.objects.filter(signal__case=case).values_list("action", flat=True)) == {"opened"}


def test_a_resolved_flag_reopens_only_for_a_worse_finding(case, therapist):
    participant = give_history(case, DROP_AT_THE_END, start_days_ago=42)
    do_evaluate_case(case.pk)
    drop = Signal.objects.get(case=case, kind="reliable_drop")
    assert drop.severity == "warning"
    do_resolve_signal(drop, repair="talked_through", note="", acting_user=therapist)
    do_evaluate_case(case.pk)  # the same finding, at the same severity: it stays resolved
    assert list(Signal.objects.filter(case=case, kind="reliable_drop").values_list("status", flat=True)) == [
        "resolved"
    ]
    make_response(make_session(case, days_ago=0), participant, goals=2, tasks=2, bond=2)
    do_evaluate_case(case.pk)
    worse = Signal.objects.get(case=case, kind="reliable_drop", status="open")
    assert worse.severity == "alert" and worse.pk != drop.pk
