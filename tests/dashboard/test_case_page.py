"""The case page: chart, table, answers and notes, sessions with their actions, flags and history."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.forms import SessionStatusForm
from dashboard.pages import CheckCell
from measures.models import Response, Signal
from sessions_app.models import Case, TherapySession
from tests.builders import make_case, make_invitation, make_response, make_session
from tests.dashboard.flags import make_signal


def url(case):
    return reverse("dashboard:case", args=[case.pk])


def test_the_chart_draws_one_line_per_partner_with_the_cutoff_and_markers(login, therapist, couple_case):
    robin, jordan = couple_case.participants.all()
    first = make_session(couple_case, days_ago=21)
    make_response(first, robin, 9, 9, 9)
    make_response(first, jordan, 9, 9, 9)
    second = make_session(couple_case, days_ago=14)
    make_response(second, robin, 9, 9, 9)  # Jordan skipped this check
    make_session(couple_case, days_ago=7, status=TherapySession.Status.NO_SHOW)
    make_signal(couple_case, jordan, kind="split_alliance", severity="warning", session=second)
    body = login(therapist).get(url(couple_case)).content.decode()
    chart = body[body.index('id="chart-total-') : body.index("</svg>", body.index('id="chart-total-'))]
    assert 'role="img"' in chart and "Total alliance over sessions for Robin and Jordan" in chart
    assert "Robin Rivera, session 2: 9.0" in chart and "Jordan Rivera, session 1: 9.0" in chart
    assert 'class="cutoff-band"' in chart and "below cutoff 7" in chart
    assert "Session 2: no check from Jordan Rivera" in chart
    assert "Session 3: no-show" in chart
    assert "Session 2: Split alliance (warning, open)" in chart
    assert body.count('<svg class="chart"') == 6  # total, goals, tasks, bond, and the couple's two items
    assert "The charts&#x27; figures as a table" in body or "The charts' figures as a table" in body


def test_item_answers_and_clients_notes_are_shown_per_session(login, therapist, case):
    session = make_session(case, days_ago=3)
    response = make_response(session, case.participants.get(), goals=6, tasks=7, bond=8, rupture=True, discussed=False)
    Response.objects.filter(pk=response.pk).update(note="I felt <rushed> today")
    body = login(therapist).get(url(case)).content.decode()
    assert "I felt &lt;rushed&gt; today" in body
    assert "something felt off" in body
    answer = response.answers.select_related("item").filter(item__kind="rating").first()
    assert f"{answer.item.texts['en']['prompt']} — <strong>{answer.value} of {answer.scale_max}</strong>" in body


def session_row(body, session):
    start = body.index(f'<tr id="session-{session.pk}">')
    return body[start : body.index("</tr>", start)]


def record_buttons(body, session):
    """The (status, label) buttons of a session's row."""
    return re.findall(r'<button [^>]*name="status" value="([a-z_]+)">([^<]+)</button>', session_row(body, session))


def test_sessions_offer_recording_sending_and_handing_over_checks(login, therapist, case):
    attended = make_session(case, days_ago=1)  # within the check window
    upcoming = make_session(case, days_ago=-5, status=TherapySession.Status.SCHEDULED)
    body = login(therapist).get(url(case)).content.decode()
    participant = case.participants.get()
    assert reverse("dashboard:send_checks", args=[attended.pk]) in body
    assert reverse("dashboard:send_checks", args=[upcoming.pk]) not in body
    assert reverse("dashboard:record_session", args=[upcoming.pk]) in body
    assert reverse("surveys:complete_now", args=[attended.pk, participant.pk]) in body
    assert reverse("surveys:participant_qr", args=[attended.pk, participant.pk]) in body


def test_the_record_buttons_are_the_forms_statuses_with_their_short_labels(login, therapist, case):
    attended = make_session(case, days_ago=2)
    started = make_session(case, days_ago=0, status=TherapySession.Status.SCHEDULED)
    upcoming = make_session(case, days_ago=-5, status=TherapySession.Status.SCHEDULED)
    body = login(therapist).get(url(case)).content.decode()
    choices = SessionStatusForm.base_fields["status"].choices
    assert choices == [
        ("attended", "Attended"),
        ("no_show", "No-show"),
        ("late_cancelled", "Late cancel"),
        ("cancelled", "Cancelled"),
    ]
    assert record_buttons(body, started) == choices
    assert record_buttons(body, attended) == [choice for choice in choices if choice[0] != "attended"]
    assert record_buttons(body, upcoming) == [("cancelled", "Cancelled")]  # it has not taken place yet


def test_send_check_shows_only_when_there_is_a_check_to_send(login, therapist, couple_case):
    robin, jordan = couple_case.participants.all()
    now = timezone.now()
    missing = make_session(couple_case, days_ago=1)  # no check created yet
    waiting = make_session(couple_case, days_ago=2)
    make_response(waiting, robin)
    make_invitation(waiting, jordan)
    answered = make_session(couple_case, days_ago=3)
    make_response(answered, robin)
    make_response(answered, jordan)
    expired = make_session(couple_case, days_ago=9)
    make_response(expired, robin)
    make_invitation(expired, jordan, created_at=now - timedelta(days=9), expires_at=now - timedelta(days=5))
    no_show = make_session(couple_case, days_ago=4, status=TherapySession.Status.NO_SHOW)
    body = login(therapist).get(url(couple_case)).content.decode()
    offered = {s.pk for s in (missing, waiting, answered, expired, no_show) if "Send check" in session_row(body, s)}
    assert offered == {missing.pk, waiting.pk}


def test_a_closed_case_offers_no_recording_no_checks_and_no_new_session(login, therapist, case):
    session = make_session(case, days_ago=2)  # attended, its check never created
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.CLOSED, outcome=Case.Outcome.COMPLETED, closed_on=case.opened_on
    )
    body = login(therapist).get(url(case)).content.decode()
    assert reverse("dashboard:record_session", args=[session.pk]) not in body
    assert reverse("dashboard:send_checks", args=[session.pk]) not in body and ">Record</th>" not in body
    assert reverse("dashboard:schedule_session", args=[case.pk]) not in body and "Add session" not in body


@pytest.mark.parametrize(
    ("rupture", "label"),
    [(None, ""), (0, ""), (1, "something felt off"), (2, "felt off, talked through")],
)
def test_a_check_names_the_clients_rupture_answer(rupture, label):
    cell = CheckCell(participant=None, response=Response(rupture=rupture))
    assert cell.rupture_label == label and cell.has_unresolved_rupture == (rupture == 1)
    assert CheckCell(participant=None).rupture_label == ""


def test_a_rupture_talked_through_is_shown_as_such(login, therapist, case):
    make_response(make_session(case, days_ago=3), case.participants.get(), rupture=True, discussed=True)
    body = login(therapist).get(url(case)).content.decode()
    assert '<span class="badge text-bg-light border">felt off, talked through</span>' in body
    assert "something felt off" not in body


def test_open_flags_show_explanation_evidence_and_actions(login, therapist, case):
    flag = make_signal(case, evidence={"baseline": 8.72, "current": 4.0, "from_ceiling": False})
    body = login(therapist).get(url(case)).content.decode()
    card = body[body.index(f'id="flag-{flag.pk}"') :]
    assert "The total fell from a usual 8.7 to 4.0." in card
    assert "<dt>usual level</dt><dd>8.72</dd>" in card and "<dt>after full marks</dt><dd>no</dd>" in card
    assert reverse("dashboard:acknowledge_signal", args=[flag.pk]) in card
    assert reverse("dashboard:resolve_signal", args=[flag.pk]) in card
    assert "Talked it through in session" in card


def test_the_history_keeps_closed_flags_and_repair_notes(login, therapist, case):
    from measures.actions.signals import do_resolve_signal

    flag = make_signal(case)
    do_resolve_signal(flag, repair="adjusted_goals", note="Agreed on smaller steps", acting_user=therapist)
    body = login(therapist).get(url(case)).content.decode()
    history = body[body.index('id="history"') :]
    assert "Resolved" in history and "Adjusted the goals" in history and "Agreed on smaller steps" in history
    assert f"by {therapist.full_name}" in history
    assert "No open flags." in body


def test_opening_the_case_marks_its_flags_seen_for_the_therapist_only(login, therapist, clinic_admin, case):
    flag = make_signal(case)
    login(clinic_admin).get(url(case))
    flag.refresh_from_db()
    assert flag.seen_at is None
    assert Signal.objects.unseen_for(therapist).count() == 1
    body = login(therapist).get(url(case)).content.decode()
    flag.refresh_from_db()
    assert flag.seen_at is not None and Signal.objects.unseen_for(therapist).count() == 0
    assert "new flags</span>" not in body  # the header count already reflects it


def test_the_clinic_admin_reads_the_case_without_the_therapists_buttons(login, clinic_admin, case):
    flag = make_signal(case)
    make_session(case, days_ago=1)
    response = login(clinic_admin).get(url(case))
    body = response.content.decode()
    assert response.status_code == 200 and flag.message in body
    assert reverse("dashboard:acknowledge_signal", args=[flag.pk]) not in body and "Send check" not in body


def test_anonymous_users_are_sent_to_log_in(client, case):
    response = client.get(url(case))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_only_get_is_allowed(login, therapist, case):
    assert login(therapist).post(url(case)).status_code == 405


@pytest.mark.parametrize("persona", ["colleague", "outsider"])
def test_other_therapists_and_other_clinics_get_404(login, request, case, persona):
    assert login(request.getfixturevalue(persona)).get(url(case)).status_code == 404


def test_an_unknown_case_is_404(login, therapist, db):
    other = make_case(therapist)
    assert login(therapist).get(reverse("dashboard:case", args=[other.pk + 1000])).status_code == 404
