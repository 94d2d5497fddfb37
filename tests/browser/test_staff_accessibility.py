"""The staff pages pass axe (no serious or critical violation) and reflow on a 320 px screen."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from measures.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG
from sessions_app.models import Case
from tests.browser.signin import sign_in
from tests.browser.test_survey import axe_violations
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def log_in(page, email):
    sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url("**/caseload/")


def test_staff_pages_pass_axe_and_fit_a_narrow_screen(page):
    seed_demo()
    couple = Case.objects.filter(clinic__slug=DEMO_SLUG, kind="couple", status="active").first()
    log_in(page, couple.therapist.email)
    paths = [
        reverse("dashboard:caseload"),
        reverse("dashboard:case", args=[couple.pk]),
        reverse("dashboard:notification_settings"),
    ]
    for path in paths:
        page.goto(path)
        assert axe_violations(page) == [], path
    page.set_viewport_size({"width": 320, "height": 640})
    for path in paths:
        page.goto(path)
        # WCAG 1.4.10: no sideways scrolling of the page itself at 320 CSS px (tables scroll inside).
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
