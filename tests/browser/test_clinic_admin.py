"""The clinic admin's pages in a browser: an invitation taken up end to end, and axe on every new page."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from measures.management.commands.seed_demo import ADMIN, DEMO_PASSWORD
from tests.browser.signin import sign_in
from tests.browser.test_survey import axe_violations
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

NEW_PASSWORD = "a-long-unusual-passphrase"


def log_in(page, email, password=DEMO_PASSWORD, lands_on="**/clinic/"):
    sign_in(page, email, password)
    page.wait_for_url(lands_on)


def test_the_admin_invites_a_therapist_who_sets_a_password_and_logs_in(page, mailoutbox, artifacts):
    seed_demo()
    log_in(page, ADMIN[0])
    page.screenshot(path=str(artifacts / "admin-clinic-home.png"), full_page=True)
    page.goto(reverse("accounts:users"))
    page.locator("#id_full_name").fill("Nina New")
    page.locator("#id_email").fill("nina.new@example.test")
    page.locator("#id_role").select_option("therapist")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to nina.new@example.test")).to_be_visible()
    page.screenshot(path=str(artifacts / "admin-invites-therapist.png"), full_page=True)
    page.get_by_role("button", name="Log out").click()

    link = re.search(r"https?://\S+(/invitation/\S+/)", mailoutbox[-1].body).group(1)
    page.goto(link)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/login/")
    log_in(page, "nina.new@example.test", NEW_PASSWORD, lands_on="**/caseload/")
    assert User.objects.get(email="nina.new@example.test").role == User.Role.THERAPIST
    page.screenshot(path=str(artifacts / "invited-therapist-logged-in.png"), full_page=True)


def test_the_new_pages_pass_axe(page, mailoutbox):
    seed_demo()
    log_in(page, ADMIN[0])
    signed_in = [
        reverse("dashboard:clinic_home"),
        reverse("dashboard:clinic_home") + "?needs_therapist=on",
        reverse("accounts:users"),
        reverse("dashboard:clinic_settings"),
        reverse("accounts:password_change"),
    ]
    for path in signed_in:
        page.goto(path)
        assert axe_violations(page) == [], path
    page.set_viewport_size({"width": 320, "height": 640})
    for path in signed_in:
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Log out").click()
    for name in ("accounts:login", "accounts:password_reset", "accounts:password_reset_done"):
        path = reverse(name)
        page.goto(path)
        assert axe_violations(page) == [], path
