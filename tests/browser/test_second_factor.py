"""The second factor in a real Chromium: enrol, log out, log in with a code; a recovery code works once."""

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.builders import PASSWORD, make_totp_device, totp_code

pytestmark = pytest.mark.django_db(transaction=True)


def password_step(page, email):
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")


def test_enrol_log_out_log_in_with_a_code_and_a_recovery_code_works_once(page, therapist, case):
    password_step(page, therapist.email)
    page.wait_for_url("**/login/second-factor/setup/**")
    expect(page.locator("#totp-qr svg")).to_be_visible()
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    page.get_by_label("Code").fill(totp_code(device))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{8}", code) for code in codes)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/caseload/")
    expect(page.get_by_role("link", name=case.reference)).to_be_visible()
    log_out(page)

    # Log in with a code from the app.
    password_step(page, therapist.email)
    page.wait_for_url("**/login/second-factor/?next=**")
    page.get_by_label("Code").fill(totp_code(make_totp_device(therapist)))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/caseload/")
    log_out(page)

    # A recovery code, once.
    password_step(page, therapist.email)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/caseload/")
    expect(page.get_by_text("9 are left")).to_be_visible()
    log_out(page)
    password_step(page, therapist.email)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    assert "/login/second-factor/" in page.url
