"""The clinic admin's overview and the printable case report, in real Chromium on the demo clinic."""

import re

import pytest
from playwright.sync_api import expect

from measures.management.commands.seed_demo import ADMIN, DEMO_PASSWORD, DEMO_SLUG
from measures.models import Signal
from measures.tasks import compute_clinic_overviews
from sessions_app.models import Case
from tests.browser.signin import sign_in  # noqa: E402
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def log_in(page, email):
    sign_in(page, email, DEMO_PASSWORD)


def test_the_admin_opens_the_overview(page, artifacts):
    seed_demo()
    compute_clinic_overviews()
    log_in(page, ADMIN[0])
    page.get_by_role("link", name="Overview").click()
    page.wait_for_url("**/overview/")
    expect(page.get_by_role("heading", name="Clinic overview")).to_be_visible()
    expect(page.locator("#computed-at")).to_be_visible()
    assert page.locator("svg.chart").count() == 4
    assert page.locator("#by-therapist tbody tr").count() == 3  # the demo's three therapists
    expect(page.locator("#fidelity")).to_be_visible()
    expect(page.locator("#track-record")).to_be_visible()
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
    page.get_by_role("link", name="Show therapists anonymised").click()
    page.wait_for_url(re.compile(r".*anonymise=1"))
    assert page.locator("#by-therapist tbody th").first.inner_text() == "Therapist A"


def test_the_case_report_prints_on_one_page(page, artifacts):
    seed_demo()
    case = (
        Case.objects.filter(clinic__slug=DEMO_SLUG, signals__status=Signal.Status.OPEN)
        .exclude(signals__severity="info")
        .select_related("therapist")
        .first()
    )
    log_in(page, case.therapist.email)
    page.goto(f"/cases/{case.pk}/report/")
    expect(page.get_by_role("heading", name=f"Case report: {case.reference}")).to_be_visible()
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / "case_report_print.png"), full_page=True)
    assert page.locator(".screen-only").first.is_hidden()
    expect(page.locator("#report-charts svg.chart").first).to_be_visible()
    assert page.locator("#report-open-flags .flag").count() >= 1
    assert page.locator("#report-last-check .check").count() >= 1
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, "the case report should print on one A4 page"
