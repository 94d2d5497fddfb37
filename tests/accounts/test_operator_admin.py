"""The operator creates clinics and their first admin in the Django admin; clinical data is not there."""

import pytest
from django.urls import NoReverseMatch, reverse

from accounts.models import Clinic, StaffInvitation, User
from tests.builders import verified_login


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator@example.test", "operator-password-1", full_name="Op Erator")


def test_the_operator_creates_a_clinic_and_invites_its_first_admin(
    client, operator, mailoutbox, django_capture_on_commit_callbacks
):
    verified_login(client, operator)
    response = client.post(
        reverse("admin:accounts_clinic_add"),
        {
            "name": "Lakeside Therapy",
            "slug": "lakeside",
            "time_zone": "Europe/Madrid",
            "alliance_cutoff": "7.0",
            "invitation_expiry_days": 4,
            "reminder_after_days": 2,
            "instrument_code": "alliance-check",
            "languages": '["en", "es"]',
            "sensitivity": "standard",
            "false_flag_budget": 8,
            "notes_readers": "team",
            "created_at_0": "2026-11-29",
            "created_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    clinic = Clinic.objects.get(slug="lakeside")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_staffinvitation_add"),
            {"email": "Lead@Lakeside.test", "full_name": "Lee Lead", "role": "admin", "clinic": clinic.pk},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    invitation = StaffInvitation.objects.get(email="lead@lakeside.test")
    assert invitation.clinic == clinic and invitation.role == "admin" and invitation.sent_at is not None
    # No account (and so no password) exists until the invitee uses the emailed link.
    assert not User.objects.filter(email="lead@lakeside.test").exists()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["lead@lakeside.test"]


def test_the_operator_cannot_create_or_set_the_password_of_clinic_staff(client, operator, therapist):
    verified_login(client, operator)
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
    assert client.get(reverse("admin:auth_user_password_change", args=[therapist.pk])).status_code == 403
    response = client.get(reverse("admin:accounts_user_change", args=[therapist.pk]))
    assert response.status_code == 200 and b'name="password"' not in response.content
    # The operator's own password stays theirs to change.
    assert client.get(reverse("admin:auth_user_password_change", args=[operator.pk])).status_code == 200


def test_the_operator_cannot_move_a_therapist_holding_cases(client, operator, case):
    therapist = case.therapist
    other = Clinic.objects.create(name="Other", slug="other")
    verified_login(client, operator)
    response = client.post(
        reverse("admin:accounts_user_change", args=[therapist.pk]),
        {
            "email": therapist.email,
            "full_name": therapist.full_name,
            "role": "therapist",
            "clinic": other.pk,
            "digest": "daily",
            "is_active": "on",
        },
    )
    assert response.status_code == 200 and b"still holds active cases" in response.content
    therapist.refresh_from_db()
    assert therapist.clinic_id == case.clinic_id


def test_clinical_data_is_not_in_the_operators_admin(client, operator):
    for name in ("sessions_app_case", "sessions_app_participant", "measures_response", "measures_signal"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{name}_changelist")


def test_clinic_staff_cannot_use_the_operators_admin(login, therapist, clinic_admin):
    for user in (therapist, clinic_admin):
        response = login(user).get(reverse("admin:index"))
        assert response.status_code == 302 and "/operator/login/" in response["Location"]
