"""The therapist's morning, in real Chromium on the seeded demo clinic."""

import re

import pytest
from django.core.management import call_command
from django.db.models import F

from measures.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG
from measures.models import CaseEvaluation, Signal
from sessions_app.models import Case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DECLINE = ("reliable_drop", "sustained_decline", "low_score")


def riskiest_cases():
    return CaseEvaluation.objects.filter(case__clinic__slug=DEMO_SLUG, case__status=Case.Status.ACTIVE).order_by(
        F("risk_score").desc(), "case__reference"
    )


def therapist_with_a_declining_client_on_top():
    """The demo therapist whose caseload starts with an individual client whose scores are falling."""
    tops = {}
    for evaluation in riskiest_cases().select_related("case__therapist"):
        tops.setdefault(evaluation.case.therapist, evaluation.case)
    for therapist, case in tops.items():
        open_decline = Signal.objects.open().filter(case=case, kind__in=DECLINE).exclude(severity="info")
        if case.kind == Case.Kind.INDIVIDUAL and open_decline.exists():
            return therapist, case
    raise AssertionError(f"no demo therapist has a declining individual client on top: {tops}")


def test_a_therapist_finds_acknowledges_and_resolves_a_declining_client(page, artifacts):
    call_command("seed_demo", verbosity=0)
    therapist, case = therapist_with_a_declining_client_on_top()

    page.goto("/login/")
    page.get_by_label("Email").fill(therapist.email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/caseload/")

    first_row = page.locator("table.table-caseload tbody tr").first
    assert first_row.get_by_role("link", name=case.reference).is_visible()
    reason = first_row.locator(".reason")
    assert reason.is_visible() and reason.inner_text().strip()
    assert first_row.locator("svg.sparkline").count() == 1
    page.screenshot(path=str(artifacts / "caseload.png"), full_page=True)

    first_row.get_by_role("link", name=case.reference).click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    chart = page.locator("#chart svg.chart").first
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    assert chart.locator("polyline").count() >= 1

    card = page.locator("article.flag-card").first  # the most severe open flag: the caseload's reason
    card_id = card.get_attribute("id")
    assert card.locator("dl.evidence").is_visible()
    card.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    card = page.locator(f"#{card_id}")
    assert card.get_by_text("acknowledged", exact=True).is_visible()
    assert card.get_by_role("button", name="Acknowledge").count() == 0

    card.get_by_label("What was done").select_option("adjusted_goals")
    card.get_by_label("Short note").fill("Agreed smaller weekly goals together")
    card.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(r".*#history$"))
    assert page.locator(f"#{card_id}").count() == 0
    history = page.locator("#history")
    assert history.get_by_text("Adjusted the goals: “Agreed smaller weekly goals together”").is_visible()
    signal = Signal.objects.get(pk=int(card_id.removeprefix("flag-")))
    assert signal.status == "resolved" and signal.holds
    assert list(signal.actions.values_list("action", flat=True))[-2:] == ["acknowledged", "resolved"]


def test_a_couples_case_page_shows_one_line_per_partner(page, artifacts):
    call_command("seed_demo", verbosity=0)
    couple = riskiest_cases().filter(case__kind=Case.Kind.COUPLE).select_related("case__therapist").first().case
    page.goto("/login/")
    page.get_by_label("Email").fill(couple.therapist.email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/caseload/")
    page.goto(f"/cases/{couple.pk}/")
    total = page.locator("#chart svg.chart").first
    names = list(couple.participants.values_list("display_name", flat=True))
    for name in names:
        assert total.locator("text", has_text=name).count() == 1  # one legend entry per partner
    assert total.locator(".cutoff-band").count() == 1
    page.screenshot(path=str(artifacts / "couple_case.png"), full_page=True)
