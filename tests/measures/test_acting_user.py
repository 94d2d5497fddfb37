"""Every state change records who made it: a CaseEvent where the row has no history of its own
(a flag's actor is on its SignalAction rows, tested with the flag pages). None is the system."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from measures.actions.invitations import do_ensure_room_invitation
from measures.actions.sessions import do_end_case
from measures.models import SurveyInvitation
from measures.tasks import nightly_sweep
from sessions_app.actions import do_create_case
from sessions_app.models import Case, CaseEvent
from tests.builders import make_session


def events(case):
    return list(CaseEvent.objects.filter(case=case).values_list("action", "actor", "session", "detail"))


def test_recording_a_session_records_the_therapist_and_the_change(login, therapist, case):
    session = make_session(case, days_ago=0, status="scheduled")
    client = login(therapist)
    client.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})
    client.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "attended"})  # a double click
    assert events(case) == [
        ("session_recorded", therapist.pk, session.pk, {"from": "scheduled", "to": "attended"}),
        ("checks_created", therapist.pk, session.pk, {"count": 1, "channel": "email"}),
    ]


def test_scheduling_a_session_records_the_therapist(login, therapist, case):
    start = (timezone.localtime() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    login(therapist).post(reverse("dashboard:schedule_session", args=[case.pk]), {"start": start})
    (session,) = case.sessions.all()
    assert events(case) == [("session_scheduled", therapist.pk, session.pk, {})]


def test_sending_checks_again_records_the_resend(login, therapist, case):
    session = make_session(case, days_ago=0)
    client = login(therapist)
    client.post(reverse("dashboard:send_checks", args=[session.pk]))
    SurveyInvitation.objects.filter(session=session).update(sent_at=timezone.now() - timedelta(hours=1))
    client.post(reverse("dashboard:send_checks", args=[session.pk]))
    assert [(action, actor, detail) for action, actor, _, detail in events(case)] == [
        ("checks_created", therapist.pk, {"count": 1, "channel": "email"}),
        ("checks_resent", therapist.pk, {"count": 1}),
    ]


def test_a_room_invitation_created_for_the_tablet_is_recorded_once(therapist, case):
    session = make_session(case, days_ago=0)
    participant = case.participants.get()
    do_ensure_room_invitation(session, participant, acting_user=therapist)
    do_ensure_room_invitation(session, participant, acting_user=therapist)  # the same invitation again
    assert events(case) == [("checks_created", therapist.pk, session.pk, {"count": 1, "channel": "tablet"})]


def test_closing_and_opening_a_case_record_the_actor(clinic, therapist, case):
    do_end_case(case, Case.Outcome.DROPPED_OUT, acting_user=therapist)
    assert events(case) == [
        ("closed", therapist.pk, None, {"outcome": "dropped_out", "closed_on": case.closed_on.isoformat()})
    ]
    opened = do_create_case(
        clinic=clinic,
        reference="C-2",
        kind="individual",
        therapist=therapist,
        participants=[{"display_name": "Ana"}],
        acting_user=None,
    )
    assert events(opened) == [("opened", None, None, {}), ("assigned", None, None, {"from": None, "to": therapist.pk})]


def test_the_nightly_sweep_creates_missed_checks_as_the_system(case):
    session = make_session(case, days_ago=1)  # attended, but nobody asked for checks
    nightly_sweep()
    assert events(case) == [("checks_created", None, session.pk, {"count": 1, "channel": "email"})]
