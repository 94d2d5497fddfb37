"""The therapist's morning, in real Chromium on the seeded demo clinic."""

import re

import pytest
from django.db.models import F
from playwright.sync_api import expect

from measures.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG
from measures.models import CaseEvaluation, Signal
from measures.repairs import suggestions_for
from sessions_app.models import Case
from tests.browser.signin import sign_in
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DECLINE = ("reliable_drop", "sustained_decline", "low_score")


def riskiest_cases():
    return CaseEvaluation.objects.filter(case__clinic__slug=DEMO_SLUG, case__status=Case.Status.ACTIVE).order_by(
        F("risk_score").desc(), "case__reference"
    )


def therapist_with_a_declining_client():
    """The demo therapist with the riskiest individual client whose scores are falling, and that case.

    Not necessarily the first row: the risk is the chance of stopping within three sessions, and a
    client already missing sessions is nearer to that than one whose alliance is falling.
    """
    for evaluation in riskiest_cases().select_related("case__therapist"):
        case = evaluation.case
        open_decline = Signal.objects.open().filter(case=case, kind__in=DECLINE).exclude(severity="info")
        if case.kind == Case.Kind.INDIVIDUAL and open_decline.exists():
            return case.therapist, case
    raise AssertionError("no demo therapist has a declining individual client")


def test_a_therapist_finds_acknowledges_and_resolves_a_declining_client(page, artifacts):
    seed_demo()
    therapist, case = therapist_with_a_declining_client()

    sign_in(page, therapist.email, DEMO_PASSWORD)
    page.wait_for_url("**/caseload/")

    row = page.locator("table.table-caseload tbody tr").filter(
        has=page.get_by_role("link", name=case.reference, exact=True)
    )
    expect(row.get_by_role("link", name=case.reference)).to_be_visible()
    reason = row.locator(".reason")
    expect(reason).to_be_visible()
    assert reason.inner_text().strip()
    assert row.locator("svg.sparkline").count() == 1
    page.screenshot(path=str(artifacts / "caseload.png"), full_page=True)

    row.get_by_role("link", name=case.reference).click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    chart = page.locator("#chart svg.chart").first
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("role", "img")
    assert chart.locator("polyline").count() >= 1

    card = page.locator("article.flag-card").first  # the most severe open flag: the caseload's reason
    card_id = card.get_attribute("id")
    expect(card.locator(".flag-message")).to_be_visible()
    assert not card.locator("dl.evidence").is_visible()  # folded under "How this was decided"
    card.get_by_text("How this was decided").click()
    expect(card.locator("dl.evidence")).to_be_visible()
    expect(card.get_by_text("To try in the next session")).to_be_visible()
    card.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    card = page.locator(f"#{card_id}")
    expect(card.get_by_text("acknowledged", exact=True)).to_be_visible()
    assert card.get_by_role("button", name="Acknowledge").count() == 0

    # Resolve without choosing what was done: refused, with the error beside the field.
    card.get_by_label("Short note").fill("Agreed smaller weekly goals together")
    card.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state()
    card = page.locator(f"#{card_id}")
    error = card.locator(".invalid-feedback")
    expect(error).to_have_text("Choose what was done.")
    select = card.get_by_label("What was done")
    assert select.get_attribute("aria-invalid") == "true"
    assert select.evaluate("element => element === document.activeElement")  # focus on the refused field
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "resolve_refused.png"))
    assert select.get_attribute("aria-describedby") == error.get_attribute("id")
    assert card.get_by_label("Short note").input_value() == "Agreed smaller weekly goals together"
    assert Signal.objects.get(pk=int(card_id.removeprefix("flag-"))).status == "acknowledged"

    select.select_option("adjusted_goals")
    card.get_by_label("Suggestion used").select_option(index=1)
    card.get_by_label("Short note").fill("Agreed smaller weekly goals together")
    card.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(r".*#history$"))
    assert page.locator(f"#{card_id}").count() == 0
    history = page.locator("#history")
    expect(history.get_by_text("Adjusted the goals: “Agreed smaller weekly goals together”")).to_be_visible()
    signal = Signal.objects.get(pk=int(card_id.removeprefix("flag-")))
    assert signal.status == "resolved" and signal.holds
    assert list(signal.actions.values_list("action", flat=True))[-2:] == ["acknowledged", "resolved"]
    assert signal.actions.get(action="resolved").suggestion == suggestions_for(signal.kind)[0].key
    expect(history.get_by_text("Suggestion used:").first).to_be_visible()


def test_the_case_page_prints_as_a_clean_report(page, artifacts):
    seed_demo()
    therapist, case = therapist_with_a_declining_client()
    sign_in(page, therapist.email, DEMO_PASSWORD)
    page.wait_for_url("**/caseload/")
    page.goto(f"/cases/{case.pk}/")
    legend = page.locator("ul.chart-legend")
    expect(legend).to_contain_text("resolved flag")
    assert page.locator("button:visible").count() > 0  # on screen the buttons are there

    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / "case_print.png"), full_page=True)
    assert page.locator("nav").count() >= 1 and page.locator("nav:visible").count() == 0
    shown = page.locator("button:visible, form:visible, select:visible, input:visible")
    assert shown.count() == 0, shown.evaluate_all("els => els.map(e => e.outerHTML.slice(0, 120))")
    expect(page.locator("#chart svg.chart").first).to_be_visible()
    expect(page.locator("ul.chart-legend")).to_be_visible()
    expect(page.locator("article.flag-card").first).to_be_visible()
    assert page.locator("#sessions").is_hidden()
    expect(page.get_by_text("Case report printed")).to_be_visible()


def test_a_couples_case_page_shows_one_line_per_partner(page, artifacts):
    seed_demo()
    couple = riskiest_cases().filter(case__kind=Case.Kind.COUPLE).select_related("case__therapist").first().case
    sign_in(page, couple.therapist.email, DEMO_PASSWORD)
    page.wait_for_url("**/caseload/")
    page.goto(f"/cases/{couple.pk}/")
    total = page.locator("#chart svg.chart").first
    names = list(couple.participants.values_list("display_name", flat=True))
    for name in names:
        assert total.locator("text", has_text=name).count() == 1  # one legend entry per partner
    assert total.locator(".cutoff-band").count() == 1
    page.screenshot(path=str(artifacts / "couple_case.png"), full_page=True)
