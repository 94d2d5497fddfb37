"""The clinic admin's home: every case of the clinic, riskiest first, filters, and the admin digest."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.actions import do_deactivate_user, do_invite_staff
from accounts.models import StaffInvitation, User
from dashboard.digests import compute_admin_digest, do_send_digest, due_digest_users
from dashboard.pages import PAGE_SIZE
from measures.models import CaseEvaluation, Signal, SurveyInvitation
from sessions_app.models import Case
from tests.builders import make_case, make_invitation, make_session, make_user
from tests.dashboard.bulk import bulk_caseload
from tests.dashboard.flags import make_signal
from tests.dashboard.test_notifications import MONDAY, assert_nothing_clinical


def risk(case, score):
    CaseEvaluation.objects.create(case=case, risk_score=score, summary={})


@pytest.fixture
def clinic_cases(therapist, colleague, outsider):
    """Tess's case (risk 30), Colin's (risk 80), an unassigned one (risk 10), and another clinic's."""
    mine = make_case(therapist, reference="TESS-1")
    theirs = make_case(colleague, reference="COLIN-1")
    unassigned = make_case(therapist, reference="NOBODY-1")
    Case.objects.filter(pk=unassigned.pk).update(therapist=None)
    elsewhere = make_case(outsider, reference="ELSEWHERE-1")
    for case, score in ((mine, 30), (theirs, 80), (unassigned, 10), (elsewhere, 99)):
        risk(case, score)
    return mine, theirs, unassigned, elsewhere


def references(body, *refs):
    return sorted((ref for ref in refs if ref in body), key=body.index)


def test_the_admin_sees_every_case_of_the_clinic_riskiest_first(login, clinic_admin, clinic_cases):
    response = login(clinic_admin).get(reverse("dashboard:clinic_home"))
    body = response.content.decode()
    assert response.status_code == 200
    assert references(body, "TESS-1", "COLIN-1", "NOBODY-1", "ELSEWHERE-1") == ["COLIN-1", "TESS-1", "NOBODY-1"]
    assert "Tess Therapist" in body and "Colin Colleague" in body and "needs a therapist" in body


def test_an_admin_is_sent_to_the_clinic_home(login, clinic_admin):
    response = login(clinic_admin).get(reverse("accounts:home"))
    assert response["Location"] == reverse("dashboard:clinic_home")


def test_the_admin_filters_by_therapist(login, clinic_admin, colleague, clinic_cases):
    body = login(clinic_admin).get(reverse("dashboard:clinic_home"), {"therapist": colleague.pk}).content.decode()
    assert references(body, "TESS-1", "COLIN-1", "NOBODY-1") == ["COLIN-1"]


def test_needs_a_therapist_lists_unassigned_cases_and_those_of_deactivated_therapists(
    login, clinic_admin, colleague, clinic_cases
):
    client = login(clinic_admin)
    body = client.get(reverse("dashboard:clinic_home"), {"needs_therapist": "on"}).content.decode()
    assert references(body, "TESS-1", "COLIN-1", "NOBODY-1") == ["NOBODY-1"]
    do_deactivate_user(colleague, acting_user=clinic_admin)
    body = client.get(reverse("dashboard:clinic_home"), {"needs_therapist": "on"}).content.decode()
    assert references(body, "TESS-1", "COLIN-1", "NOBODY-1") == ["COLIN-1", "NOBODY-1"]
    assert "deactivated" in body


def test_therapists_may_not_open_the_clinic_home(login, therapist):
    assert login(therapist).get(reverse("dashboard:clinic_home")).status_code == 403


def test_another_clinics_admin_sees_none_of_these_cases(login, outsider, clinic_cases):
    other_admin = make_user(outsider.clinic, role=User.Role.CLINIC_ADMIN)
    body = login(other_admin).get(reverse("dashboard:clinic_home")).content.decode()
    assert references(body, "TESS-1", "COLIN-1", "NOBODY-1", "ELSEWHERE-1") == ["ELSEWHERE-1"]


def test_the_clinic_home_needs_a_login_and_refuses_post(client, login, clinic_admin):
    response = client.get(reverse("dashboard:clinic_home"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert login(clinic_admin).post(reverse("dashboard:clinic_home")).status_code == 405


# The admin's home, for a clinic admin:
#  1. the login session          2. the user
#  3. the user's clinic (the digest's and the sparklines' cutoff; the header reuses it)
#  4. the clinic's therapists (the filter's choices)
#  5. COUNT of the matching cases (pagination)
#  6. this page's cases with their evaluation and therapist
#  7. their active participants  8. their open flags
#  9. attended count, last and next session per case (one GROUP BY)
#  10. each participant's last ten totals (window function)
#  11-14. the admin digest: cases needing a therapist; unopened flags (one aggregate);
#         unsent client checks; unsent staff invitations
# (The header's unseen-flag count is a therapist's badge: never evaluated for an admin.)
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
CLINIC_HOME_QUERIES = 15


@pytest.mark.parametrize("cases", [5, 200])
def test_the_clinic_home_runs_a_fixed_number_of_queries(
    login, clinic_admin, therapist, colleague, django_assert_num_queries, cases
):
    bulk_caseload(therapist, cases=cases // 2, prefix="T")
    bulk_caseload(colleague, cases=cases - cases // 2, prefix="C")
    client = login(clinic_admin)
    with django_assert_num_queries(CLINIC_HOME_QUERIES):
        response = client.get(reverse("dashboard:clinic_home"))
    assert response.status_code == 200
    assert response.content.decode().count('class="sparkline"') == min(cases, PAGE_SIZE)
    with django_assert_num_queries(CLINIC_HOME_QUERIES):
        response = client.get(reverse("dashboard:clinic_home"), {"therapist": colleague.pk, "flagged": "on"})
    assert response.status_code == 200 and 'class="sparkline"' in response.content.decode()


# The admin digest ----------------------------------------------------------------------------------


@pytest.fixture
def loose_ends(clinic, clinic_admin, therapist, outsider, case):
    """In this clinic: one unassigned case, a flag unopened for four days, a check never emailed,
    a staff invitation never emailed; the same in another clinic, which must not be counted."""
    now = timezone.now()
    for owner in (therapist, outsider):
        Case.objects.filter(pk=make_case(owner).pk).update(therapist=None)
        flagged = make_case(owner)
        make_signal(flagged, severity="warning")
        Signal.objects.filter(case=flagged).update(opened_at=now - datetime.timedelta(days=4))
        make_signal(make_case(owner), severity="alert")  # opened today: not yet the admin's business
        session = make_session(flagged, days_ago=0)
        make_invitation(session, flagged.participants.first(), created_at=now - datetime.timedelta(hours=2))
        other_admin = clinic_admin if owner == therapist else make_user(owner.clinic, role=User.Role.CLINIC_ADMIN)
        invitation = do_invite_staff(
            owner.clinic, email=f"late{owner.pk}@example.test", full_name="L", role="therapist", acting_user=other_admin
        )  # its email never runs: on_commit is not executed here
        StaffInvitation.objects.filter(pk=invitation.pk).update(created_at=now - datetime.timedelta(hours=2))
    return now


def test_the_admin_digest_counts_the_clinics_loose_ends_only(clinic, loose_ends):
    digest = compute_admin_digest(clinic, now=loose_ends)
    assert (digest.needs_therapist, digest.unopened_flags, digest.unopened_cases) == (1, 1, 1)
    assert (digest.unsent_checks, digest.unsent_staff_invitations) == (1, 1)


def test_a_check_sent_or_recent_is_not_bouncing(clinic, loose_ends):
    SurveyInvitation.objects.update(sent_at=loose_ends)
    assert compute_admin_digest(clinic, now=loose_ends).unsent_checks == 0


def test_admins_get_the_admin_digest_not_the_therapists(clinic_admin, loose_ends, mailoutbox):
    now = MONDAY.replace(year=loose_ends.year, month=loose_ends.month, day=loose_ends.day, hour=12)
    assert clinic_admin in list(due_digest_users(now=now))
    assert do_send_digest(clinic_admin, now=loose_ends) is True
    (message,) = mailoutbox
    assert message.to == [clinic_admin.email] and "clinic summary" in message.subject
    assert "1 active case needs a therapist" in message.body
    assert "1 flag on 1 case nobody has opened for 3 days" in message.body
    assert "1 client check could not be emailed" in message.body
    assert "1 staff invitation could not be emailed" in message.body
    assert_nothing_clinical(message.subject + message.body)
    assert "Client" not in message.body  # no client names at all


def test_an_admin_digest_with_nothing_to_say_is_not_sent(clinic_admin, mailoutbox):
    assert do_send_digest(clinic_admin, now=MONDAY) is False
    assert mailoutbox == []
