"""Two-factor for every staff account (issue 13.1): enrolment on first login, a code or a
single-use recovery code at each login, throttled wrong codes, an admin's recorded reset."""

import re

import pytest
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecondFactorReset, User
from tests.builders import (
    PASSWORD,
    make_clinic,
    make_invitation,
    make_session,
    make_totp_device,
    make_user,
    own_address_client,
    totp_code,
)

VERIFY = reverse("accounts:second_factor_verify")
ENROL = reverse("accounts:second_factor_enrol")


def password_only(client, user):
    """The password step alone, through the login page."""
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    return client


def code_of(device):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def test_a_first_login_must_enrol_before_any_staff_page(client, therapist):
    password_only(client, therapist)
    response = client.get(reverse("dashboard:caseload"))
    assert response.status_code == 302 and response["Location"] == ENROL + "?next=%2Fcaseload%2F"
    page = client.get(response["Location"])
    body = page.content.decode()
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    assert "<svg" in body and "<script" not in body and "https://" not in body
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', body).group(1)
    assert secret.replace(" ", "") == __import__("base64").b32encode(device.bin_key).decode().rstrip("=")
    # Reloading shows the same secret (the same pending device).
    client.get(ENROL)
    assert TOTPDevice.objects.filter(user=therapist).count() == 1


def test_enrolment_confirms_the_device_and_shows_ten_recovery_codes_once(client, therapist):
    password_only(client, therapist)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=therapist)
    response = client.post(ENROL, {"code": code_of(device), "next": "/caseload/"})
    assert response.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", response.content.decode())
    assert len(codes) == 10 and sorted(codes) == sorted(StaticToken.objects.values_list("token", flat=True))
    device.refresh_from_db()
    assert device.confirmed and client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get(reverse("dashboard:caseload")).status_code == 200
    # Enrolled: the page does not show a secret or codes again.
    assert client.get(ENROL)["Location"] == reverse("accounts:home")


def test_a_wrong_enrolment_code_confirms_nothing(client, therapist):
    password_only(client, therapist)
    client.get(ENROL)
    response = client.post(ENROL, {"code": "000000"})
    assert response.status_code == 200 and "not right" in response.content.decode()
    assert not TOTPDevice.objects.get(user=therapist).confirmed and not StaticToken.objects.exists()
    assert client.get(reverse("dashboard:caseload")).status_code == 302


def test_an_enrolled_user_logs_in_with_a_code(client, therapist):
    device = make_totp_device(therapist)
    password_only(client, therapist)
    response = client.get(reverse("dashboard:caseload"))
    assert response["Location"] == VERIFY + "?next=%2Fcaseload%2F"
    response = client.post(VERIFY, {"code": totp_code(device), "next": "/caseload/"})
    assert response.status_code == 302 and response["Location"] == "/caseload/"
    assert client.get(reverse("dashboard:caseload")).status_code == 200


def test_verification_does_not_follow_a_next_to_another_site(client, therapist):
    device = make_totp_device(therapist)
    password_only(client, therapist)
    response = client.post(VERIFY, {"code": totp_code(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("accounts:home")


def test_a_used_code_cannot_be_replayed(client, therapist):
    device = make_totp_device(therapist)
    code = code_of(device)
    assert password_only(client, therapist).post(VERIFY, {"code": code}).status_code == 302
    other = password_only(own_address_client(), therapist)
    assert other.post(VERIFY, {"code": code}).status_code == 200
    assert DEVICE_ID_SESSION_KEY not in other.session


def test_wrong_codes_are_refused_then_throttled(client, therapist, time_machine):
    time_machine.move_to("2026-03-02 10:00:00", tick=False)
    device = make_totp_device(therapist)
    wrong = "123456" if code_of(device) != "123456" else "654321"
    password_only(client, therapist)
    response = client.post(VERIFY, {"code": wrong})
    assert response.status_code == 200 and "not right" in response.content.decode()
    # At once again: refused unheard, and not counted (1 s to wait after one failure).
    assert "Too many wrong codes" in client.post(VERIFY, {"code": code_of(device)}).content.decode()
    time_machine.move_to("2026-03-02 10:00:02", tick=False)
    client.post(VERIFY, {"code": wrong})
    time_machine.move_to("2026-03-02 10:00:05", tick=False)
    client.post(VERIFY, {"code": wrong})
    device.refresh_from_db()
    assert device.throttling_failure_count == 3
    # Throttled for 4 s after three failures: even the right code is refused until then.
    time_machine.move_to("2026-03-02 10:00:07", tick=False)
    response = client.post(VERIFY, {"code": code_of(device)})
    assert "Too many wrong codes. Wait 3 seconds" in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    time_machine.move_to("2026-03-02 10:00:10", tick=False)
    assert client.post(VERIFY, {"code": code_of(device)}).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 0 and DEVICE_ID_SESSION_KEY in client.session


def test_a_recovery_code_works_once(therapist):
    password_only(first := own_address_client(), therapist)
    first.get(ENROL)
    codes = re.findall(
        r"<li>([a-z2-7]{8})</li>",
        first.post(ENROL, {"code": code_of(TOTPDevice.objects.get(user=therapist))}).content.decode(),
    )
    second = password_only(own_address_client(), therapist)
    response = second.post(VERIFY, {"code": codes[3].upper(), "next": "/caseload/"}, follow=True)
    assert response.redirect_chain[0][0] == "/caseload/" and "9 are left" in response.content.decode()
    assert StaticToken.objects.count() == 9
    third = password_only(own_address_client(), therapist)
    assert third.post(VERIFY, {"code": codes[3]}).status_code == 200
    assert DEVICE_ID_SESSION_KEY not in third.session


def test_the_survey_and_password_pages_stay_reachable_before_the_second_factor(client, therapist, case):
    session = make_session(case)
    _, token = make_invitation(session, case.participants.first())
    password_only(client, therapist)
    assert client.get(reverse("surveys:survey", args=[token])).status_code == 200
    assert client.get(reverse("accounts:password_reset")).status_code == 200
    # Staff pages that hand a client's check over are staff pages: they wait for the code.
    url = reverse("surveys:participant_qr", args=[session.pk, case.participants.first().pk])
    assert client.get(url)["Location"].startswith(ENROL)


def test_the_operators_admin_requires_the_second_factor(client, db):
    operator = User.objects.create_superuser("op@example.test", PASSWORD, full_name="Op Erator")
    device = make_totp_device(operator)
    response = client.post("/operator/login/", {"username": operator.email, "password": PASSWORD, "next": "/operator/"})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    response = client.get("/operator/accounts/user/")
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    client.post(VERIFY, {"code": totp_code(device)})
    assert client.get("/operator/accounts/user/").status_code == 200


def test_the_operators_admin_does_not_show_second_factor_secrets(login, db):
    operator = User.objects.create_superuser("op@example.test", PASSWORD, full_name="Op Erator")
    client = login(operator)
    assert client.get("/operator/otp_totp/totpdevice/").status_code == 404
    assert client.get("/operator/otp_static/staticdevice/").status_code == 404


# Reset by an admin.


def reset_url(member):
    return reverse("accounts:reset_second_factor", args=[member.pk])


def test_an_admin_resets_a_colleagues_second_factor_and_it_is_recorded(login, clinic_admin, therapist):
    theirs = own_address_client()
    password_only(theirs, therapist)
    theirs.post(VERIFY, {"code": totp_code(make_totp_device(therapist))})
    assert theirs.get(reverse("dashboard:caseload")).status_code == 200
    admin = login(clinic_admin)
    response = admin.post(reset_url(therapist))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:users")
    assert not TOTPDevice.objects.filter(user=therapist).exists() and not StaticToken.objects.exists()
    record = SecondFactorReset.objects.get()
    assert (record.member, record.actor, record.clinic_id) == (therapist, clinic_admin, therapist.clinic_id)
    assert record.address == admin.defaults["REMOTE_ADDR"]
    # Their session ended; at the next login they enrol again.
    response = theirs.get(reverse("dashboard:caseload"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    password_only(theirs, therapist)
    assert theirs.get(reverse("dashboard:caseload"))["Location"].startswith(ENROL)
    # The users page lists the reset.
    body = admin.get(reverse("accounts:users")).content.decode()
    assert 'id="second-factor-resets"' in body and therapist.full_name in body


def test_an_admin_cannot_reset_their_own(login, clinic_admin):
    make_totp_device(clinic_admin)
    client = login(clinic_admin)
    client.post(reset_url(clinic_admin))
    assert TOTPDevice.objects.filter(user=clinic_admin).exists() and not SecondFactorReset.objects.exists()


def test_a_therapist_cannot_reset_a_second_factor(login, therapist, colleague):
    make_totp_device(colleague)
    assert login(therapist).post(reset_url(colleague)).status_code == 403
    assert TOTPDevice.objects.filter(user=colleague).exists() and not SecondFactorReset.objects.exists()


def test_another_clinics_admin_gets_404(login, therapist):
    make_totp_device(therapist)
    other_admin = make_user(make_clinic("Elsewhere"), role=User.Role.CLINIC_ADMIN)
    assert login(other_admin).post(reset_url(therapist)).status_code == 404
    assert TOTPDevice.objects.filter(user=therapist).exists()


def test_reset_needs_post_and_a_login(client, login, clinic_admin, therapist):
    response = client.post(reset_url(therapist))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert login(clinic_admin).get(reset_url(therapist)).status_code == 405


@pytest.mark.parametrize("name", ["accounts:second_factor_verify", "accounts:second_factor_enrol"])
def test_the_second_factor_pages_need_a_password_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
