"""Forgot password and change password: Django's views, the project's templates, no account enumeration."""

import re

import pytest
from django.urls import reverse

from tests.builders import PASSWORD, password_login

NEW_PASSWORD = "a-long-unusual-passphrase"


def test_the_login_page_offers_forgot_password(client):
    body = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:password_reset") in body and "Forgot password?" in body


def test_a_known_and_an_unknown_address_get_the_same_answer(client, therapist, mailoutbox):
    known = client.post(reverse("accounts:password_reset"), {"email": therapist.email})
    unknown = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("accounts:password_reset_done")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [therapist.email]


def test_the_reset_email_is_plain_text_with_only_the_link_and_it_sets_a_password(
    client, therapist, case, mailoutbox, settings
):
    client.post(reverse("accounts:password_reset"), {"email": therapist.email})
    message = mailoutbox[0]
    assert not message.alternatives
    links = re.findall(r"https?://\S+", message.body)
    assert len(links) == 1 and links[0].startswith(settings.SITE_URL + "/password/reset/")
    # Nothing clinical: not the clinic's cases, not the clients.
    assert case.reference not in message.body and case.participants.first().first_name not in message.body
    path = "/" + links[0].split("/", 3)[3]
    response = client.get(path)  # Django redirects to the set-password form, token kept in the session
    assert response.status_code == 302
    response = client.post(response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset_complete")
    therapist.refresh_from_db()
    assert therapist.check_password(NEW_PASSWORD)


def test_the_reset_pages_render(client):
    for name in ("accounts:password_reset", "accounts:password_reset_done", "accounts:password_reset_complete"):
        assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("persona", ["therapist", "clinic_admin"])
def test_every_staff_user_changes_their_password(client, request, persona):
    user = request.getfixturevalue(persona)
    password_login(client, user.email, PASSWORD)
    home = client.get(reverse("accounts:home"), follow=True).content.decode()
    assert reverse("accounts:password_change") in home  # the header's link
    assert client.get(reverse("accounts:password_change")).status_code == 200
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get(reverse("accounts:password_change")).status_code == 200  # still signed in here


def test_changing_a_password_needs_the_old_one(client, therapist):
    password_login(client, therapist.email, PASSWORD)
    client.post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    therapist.refresh_from_db()
    assert therapist.check_password(PASSWORD)


def test_change_password_needs_a_login(client):
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
