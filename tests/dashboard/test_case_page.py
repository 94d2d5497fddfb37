"""The case page: chart, table, answers and notes, sessions with their actions, flags and history."""

import pytest
from django.urls import reverse

from measures.models import Response, Signal
from sessions_app.models import TherapySession
from tests.builders import make_case, make_response, make_session
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
    assert body.count('<svg class="chart"') == 4  # total, goals, tasks, bond
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


def test_sessions_offer_recording_sending_and_handing_over_checks(login, therapist, case):
    attended = make_session(case, days_ago=2)
    upcoming = make_session(case, days_ago=-5, status=TherapySession.Status.SCHEDULED)
    body = login(therapist).get(url(case)).content.decode()
    participant = case.participants.get()
    assert reverse("dashboard:send_checks", args=[attended.pk]) in body
    assert reverse("dashboard:send_checks", args=[upcoming.pk]) not in body
    assert reverse("dashboard:record_session", args=[upcoming.pk]) in body
    assert ">Attended</button>" in body and ">No-show</button>" in body and ">Cancelled</button>" in body
    assert reverse("measures:complete_now", args=[attended.pk, participant.pk]) in body
    assert reverse("measures:participant_qr", args=[attended.pk, participant.pk]) in body


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
    from measures.actions import do_resolve_signal

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
