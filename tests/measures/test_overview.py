"""The overview's figures against a hand-built clinic whose true figures are worked out by hand.

The clinic (UTC, now = 20 Nov 2026 12:00):
- Alice's case A: four November sessions, four checks sent, three answered (goals/tasks/bond 8, 6, 7).
  Flag F1 raised at A2 (9 Nov), opened before A3: acknowledged after 24 h, resolved after 48 h
  with a note and the suggestion "drop_ask_what_changed"; two sessions later it no longer holds.
  Flag F2 raised at A3 (13 Nov) but opened only after A4 started (16 Nov 11:00): late;
  acknowledged 12 h later, still open. Plus an informational note, which is not a flag.
- Bob's case B: two November checks, one answered (5), one expired; a third still pending
  (valid link): counted in neither. Flag F3 at B2 (12 Nov), opened before B3, open for 8 days.
- Alice's case D dropped out (closed 3 Nov): five weekly October sessions, a warning at the
  third: 2 sessions and 14 days before the last session.
- Bob's cases E and F completed; F had one flag (no session), E none.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from measures.models import ClinicCalibration, Instrument, Signal, SignalAction
from measures.overview import compute_overview, load_rows, month_labels
from sessions_app.models import Case
from tests.builders import make_case, make_invitation, make_response, make_session, make_user

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def flag(case, session, opened_at, *, status="open", severity="warning", kind="reliable_drop", **fields):
    closed = status in ("resolved", "cleared")
    return Signal.objects.create(
        case=case,
        participant=case.participants.first(),
        session=session,
        kind=kind,
        severity=severity,
        message="Lower than usual.",
        status=status,
        opened_at=opened_at,
        updated_at=opened_at,
        closed_at=fields.pop("closed_at", opened_at + timedelta(days=1)) if closed else None,
        **fields,
    )


def act(signal, action, created_at, **fields):
    return SignalAction.objects.create(signal=signal, action=action, created_at=created_at, **fields)


def closed_case(therapist, outcome, closed_on, starts):
    case = make_case(therapist, opened_on=date(2026, 8, 1))
    sessions = [make_session(case, scheduled_start=start) for start in starts]
    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLOSED, outcome=outcome, closed_on=closed_on)
    return case, sessions


@pytest.fixture
def known_clinic(clinic):
    alice = make_user(clinic, name="Alice Adams")
    bob = make_user(clinic, name="Bob Brown")
    with time_machine.travel(NOW, tick=False):
        a = make_case(alice, opened_on=date(2026, 10, 1))
        person = a.participants.first()
        a1, a2, a3, a4 = (make_session(a, scheduled_start=at(11, d)) for d in (2, 9, 13, 16))
        for session, score in ((a1, 8), (a2, 6), (a3, 7)):
            make_response(session, person, goals=score, tasks=score, bond=score)
        make_invitation(a4, person, created_at=at(11, 16, 11), expires_at=at(11, 19, 11))  # expired unanswered

        b = make_case(bob, opened_on=date(2026, 10, 1))
        b_person = b.participants.first()
        b1, b2, b3 = (make_session(b, scheduled_start=at(11, d)) for d in (5, 12, 19))
        make_response(b1, b_person, goals=5, tasks=5, bond=5)
        make_invitation(b2, b_person, created_at=at(11, 12, 11), expires_at=at(11, 15, 11))  # expired
        make_invitation(b3, b_person, created_at=at(11, 19, 11), expires_at=at(11, 23, 11))  # pending

        f1 = flag(a, a2, at(11, 9, 12), status="resolved", holds=False, closed_at=at(11, 11, 12))
        act(f1, "opened", at(11, 9, 12), severity="warning")
        act(f1, "acknowledged", at(11, 10, 12))
        act(
            f1,
            "resolved",
            at(11, 11, 12),
            repair="talked_through",
            suggestion="drop_ask_what_changed",
            note="Talked about the pace.",
        )
        f2 = flag(a, a3, at(11, 16, 11), status="acknowledged", kind="low_score")
        act(f2, "acknowledged", at(11, 16, 23))
        flag(a, a3, at(11, 13, 12), severity="info", kind="full_marks")  # a note: not counted anywhere
        flag(b, b2, at(11, 12, 12))

        d, d_sessions = closed_case(
            alice, Case.Outcome.DROPPED_OUT, date(2026, 11, 3), [at(10, d) for d in (1, 8, 15, 22, 29)]
        )
        flag(d, d_sessions[2], at(10, 15, 12), status="cleared", closed_at=at(10, 22, 12))
        closed_case(bob, Case.Outcome.COMPLETED, date(2026, 10, 30), [at(9, d) for d in (1, 8, 15)])
        f, _ = closed_case(bob, Case.Outcome.COMPLETED, date(2026, 10, 30), [at(9, d) for d in (2, 9)])
        flag(f, None, at(9, 9, 12), status="cleared", closed_at=at(9, 20, 12))
    return clinic, alice, bob


def overview(clinic):
    with time_machine.travel(NOW, tick=False):
        return compute_overview(clinic)


def test_response_rates_are_answered_over_sent_leaving_out_pending_checks(known_clinic):
    clinic, alice, bob = known_clinic
    figures = overview(clinic)
    assert figures["months"][-1] == "2026-11" and len(figures["months"]) == 12
    november = figures["clinic"]["response"]["by_month"][-1]
    assert (november["sent"], november["answered"], november["rate"]) == (6, 4, 66.7)
    assert figures["by_therapist"][str(alice.pk)]["response"]["rate"] == 75.0
    assert figures["by_therapist"][str(bob.pk)]["response"]["rate"] == 50.0
    assert figures["therapists"] == {str(alice.pk): "Alice Adams", str(bob.pk): "Bob Brown"}


def test_average_scores_by_month_are_weighted_by_checks(known_clinic):
    clinic, alice, bob = known_clinic
    figures = overview(clinic)
    assert figures["clinic"]["scores"]["goals"][-1] == 6.5  # (8 + 6 + 7 + 5) / 4
    assert figures["by_therapist"][str(alice.pk)]["scores"]["bond"][-1] == 7.0
    assert figures["by_therapist"][str(bob.pk)]["scores"]["tasks"][-1] == 5.0
    assert figures["clinic"]["scores"]["goals"][-2] is None  # October: no answered checks


def test_open_flags_are_bucketed_by_age(known_clinic):
    clinic, *_ = known_clinic
    counts = [bucket["count"] for bucket in overview(clinic)["clinic"]["open_flags_by_age"]]
    assert counts == [1, 1, 0, 0]  # F2 (4 days), F3 (8 days); the note and closed flags are not open flags


def test_the_loops_fidelity(known_clinic):
    clinic, alice, _ = known_clinic
    fidelity = overview(clinic)["clinic"]["fidelity"]
    # F1, F3 and the dropout's flag opened before the next session; F2 after; F5 has no session.
    assert (fidelity["opened_before_next_session"], fidelity["judged_for_timeliness"]) == (3, 4)
    assert fidelity["timely_share"] == 75.0
    assert fidelity["median_hours_to_acknowledge"] == 18.0  # 24 h and 12 h
    assert fidelity["median_hours_to_resolve"] == 48.0
    assert (fidelity["resolved"], fidelity["resolved_with_note"], fidelity["note_share"]) == (1, 1, 100.0)
    assert fidelity["flags"] == 5
    [used] = fidelity["suggestions"]
    assert (used["key"], used["used"], used["judged"], used["cleared"]) == ("drop_ask_what_changed", 1, 1, 1)
    assert used["label"].startswith("Say that the last check came out lower")


def test_a_suggestion_is_not_counted_as_clearing_while_the_flag_holds(known_clinic):
    clinic, *_ = known_clinic
    Signal.objects.filter(status="resolved").update(holds=True)
    [used] = overview(clinic)["clinic"]["fidelity"]["suggestions"]
    assert (used["judged"], used["cleared"]) == (1, 0)


def test_the_engines_track_record_from_closed_cases(known_clinic):
    clinic, alice, bob = known_clinic
    figures = overview(clinic)
    record = figures["clinic"]["track_record"]
    assert (record["dropouts"], record["dropouts_flagged"]) == (1, 1)
    assert record["leads"] == [{"sessions": 2, "days": 14}]
    assert (record["completers"], record["completers_flagged"]) == (2, 1)
    assert figures["budget"]["text"] == "8% (default)"
    assert figures["by_therapist"][str(alice.pk)]["track_record"]["completers"] == 0
    assert figures["by_therapist"][str(bob.pk)]["track_record"]["dropouts"] == 0


def test_a_therapists_figures_are_their_own_caseloads(known_clinic):
    clinic, alice, bob = known_clinic
    figures = overview(clinic)
    assert figures["by_therapist"][str(alice.pk)]["fidelity"]["flags"] == 3  # F1, F2, the dropout's
    assert figures["by_therapist"][str(bob.pk)]["fidelity"]["flags"] == 2
    assert figures["by_therapist"][str(bob.pk)]["cases"] == {"active": 1, "closed": 2}


def test_reliability_appears_once_the_clinic_is_calibrated(known_clinic):
    clinic, *_ = known_clinic
    assert overview(clinic)["reliability"] == {"ready": False, "minimum": 100}
    ClinicCalibration.objects.create(
        clinic=clinic,
        instrument=Instrument.objects.for_clinic(clinic),
        alpha={"total": 0.91, "goals": 0.8},
        reliability={"total": 0.74},
        responses=140,
        first_sessions=35,
    )
    reliability = overview(clinic)["reliability"]
    assert (
        reliability["ready"] and reliability["alpha"]["total"] == 0.91 and reliability["reliability"] == {"total": 0.74}
    )


def test_a_month_limits_checks_flags_and_closed_cases_to_it(known_clinic):
    clinic, *_ = known_clinic
    october = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    with time_machine.travel(NOW, tick=False):
        figures = compute_overview(clinic, period=october)
    assert figures["months"][-1] == "2026-10"
    assert figures["clinic"]["response"]["sent"] == 0
    assert figures["clinic"]["fidelity"]["flags"] == 1  # the dropout's flag
    assert figures["clinic"]["track_record"]["completers"] == 2  # closed 30 Oct
    assert figures["clinic"]["track_record"]["dropouts"] == 0  # closed 3 Nov


@pytest.mark.parametrize("sessions", [1, 6])
def test_the_figures_are_read_in_eight_queries(known_clinic, django_assert_num_queries, sessions):
    clinic, alice, _ = known_clinic
    for _ in range(sessions):
        make_case(alice)
    with django_assert_num_queries(8), time_machine.travel(NOW, tick=False):
        load_rows(clinic, now=NOW)


def test_month_labels_cross_the_year():
    assert month_labels(date(2026, 2, 3), count=3) == ["2025-12", "2026-01", "2026-02"]
