"""Sign-in lock-out (django-axes): per account and per address, the same answer for unknown accounts."""

import re
import secrets
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from tests.builders import PASSWORD

LOCKED = "Too many failed sign-ins"
LOGIN_PATHS = ["/login/", "/operator/login/"]


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator@example.test", PASSWORD, full_name="Op Erator")


def fresh_address():
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def sign_in(client, path, email, password, address):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=address)


def signed_in(client):
    return "_auth_user_id" in client.session


def page_text(response):
    """The page without its per-request CSRF token, to compare two answers."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_forty_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(client, therapist, operator, path):
    user = operator if path.startswith("/operator/") else therapist
    address = fresh_address()
    codes = [sign_in(client, path, user.email, f"wrong-{n}", address).status_code for n in range(40)]
    assert codes[:4] == [200] * 4  # the wrong-password page
    assert codes[4:] == [429] * 36  # locked from the fifth failure on
    # The right password, even from another address, is refused while the account is locked.
    response = sign_in(client, path, user.email, PASSWORD, fresh_address())
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert not signed_in(client)


def test_an_unknown_account_gets_the_same_pages_as_a_real_one(client, therapist):
    real, unknown = [], []
    for email, pages in ((therapist.email, real), ("nobody-here@example.test", unknown)):
        address = fresh_address()
        pages.extend(sign_in(client, "/login/", email, "wrong-password", address) for _ in range(6))
    assert [r.status_code for r in real] == [r.status_code for r in unknown] == [200] * 4 + [429] * 2
    for mine, theirs in zip(real, unknown, strict=True):
        # Identical but for the email typed in, which the form shows back to whoever typed it.
        assert page_text(mine).replace(therapist.email, "") == page_text(theirs).replace("nobody-here@example.test", "")
    assert LOCKED in real[-1].content.decode() and therapist.email not in real[-1].content.decode()


def test_the_lock_ends_after_the_cool_off(client, therapist):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(5):
            sign_in(client, "/login/", therapist.email, f"wrong-{n}", fresh_address())
        assert sign_in(client, "/login/", therapist.email, PASSWORD, fresh_address()).status_code == 429
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in(client, "/login/", therapist.email, PASSWORD, fresh_address()).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert sign_in(client, "/login/", therapist.email, PASSWORD, fresh_address()).status_code == 302
        assert signed_in(client)


def test_the_email_is_counted_whatever_its_case_and_spaces(client, therapist):
    for n, email in enumerate([therapist.email.upper(), f" {therapist.email}", therapist.email.title()] * 2):
        sign_in(client, "/operator/login/", email, f"wrong-{n}", fresh_address())
    assert sign_in(client, "/login/", therapist.email, PASSWORD, fresh_address()).status_code == 429


def test_an_address_is_locked_after_failures_at_many_accounts_and_others_are_not(client, therapist, settings):
    address = fresh_address()
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS):  # one guess each at many accounts
        assert sign_in(client, "/login/", f"guess{n}@example.test", "wrong-password", address).status_code in (200, 429)
    assert sign_in(client, "/login/", therapist.email, PASSWORD, address).status_code == 429
    # The same person from another address signs in: only that address was locked.
    assert sign_in(client, "/login/", therapist.email, PASSWORD, fresh_address()).status_code == 302


def test_an_address_that_is_not_an_ip_is_counted_not_an_error(client, therapist):
    for n in range(5):
        assert sign_in(client, "/login/", f"guess{n}@example.test", "wrong", "not-an-address").status_code == 200
    assert sign_in(client, "/login/", therapist.email, PASSWORD, "not-an-address").status_code == 302


def test_a_few_failures_below_the_address_limit_lock_nobody_else(client, therapist, colleague):
    address = fresh_address()  # a clinic's shared Wi-Fi: one colleague mistypes four times
    for n in range(4):
        assert sign_in(client, "/login/", colleague.email, f"wrong-{n}", address).status_code == 200
    assert sign_in(client, "/login/", therapist.email, PASSWORD, address).status_code == 302


def test_signing_in_forgives_the_accounts_own_failures_but_not_the_addresss(client, therapist, colleague, settings):
    address = fresh_address()
    for n in range(4):
        sign_in(client, "/login/", therapist.email, f"wrong-{n}", address)
    assert sign_in(client, "/login/", therapist.email, PASSWORD, address).status_code == 302
    client.post("/logout/")
    for n in range(4):  # four more: the earlier four were forgiven, so not locked
        assert sign_in(client, "/login/", therapist.email, f"again-{n}", address).status_code == 200
    # The address still holds those failures: the rest up to its limit locks it (for everyone).
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS - 4):
        sign_in(client, "/login/", f"guess{n}@example.test", "wrong-password", address)
    assert sign_in(client, "/login/", colleague.email, PASSWORD, address).status_code == 429
