"""The operator creates clinics and their first admin in the Django admin; clinical data is not there."""

import pytest
from django.urls import NoReverseMatch, reverse

from accounts.models import Clinic, User


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator@example.test", "operator-password-1", full_name="Op Erator")


def test_the_operator_creates_a_clinic_and_its_admin(client, operator):
    client.force_login(operator)
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
            "created_at_0": "2026-11-29",
            "created_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    clinic = Clinic.objects.get(slug="lakeside")
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "Lead@Lakeside.test",
            "full_name": "Lee Lead",
            "role": "admin",
            "clinic": clinic.pk,
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    lead = User.objects.get(email="lead@lakeside.test")
    assert lead.is_clinic_admin and lead.clinic == clinic and lead.check_password("a-long-unusual-passphrase")


def test_clinical_data_is_not_in_the_operators_admin(client, operator):
    for name in ("sessions_app_case", "sessions_app_participant", "measures_response", "measures_signal"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{name}_changelist")


def test_clinic_staff_cannot_use_the_operators_admin(login, therapist, clinic_admin):
    for user in (therapist, clinic_admin):
        response = login(user).get(reverse("admin:index"))
        assert response.status_code == 302 and "/operator/login/" in response["Location"]
