"""Mistakes are cheap (issue 9.3), in real Chromium on the seeded demo clinic: a mis-clicked
"No-show" on an answered session asks first, and cancelling changes nothing."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from measures.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG
from measures.models import CaseEvaluation, Response, SignalAction
from sessions_app.models import CaseEvent, TherapySession
from tests.browser.signin import sign_in
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def an_answered_session():
    """The latest attended, answered session of an active demo case that has taken place."""
    return (
        TherapySession.objects.filter(
            case__clinic__slug=DEMO_SLUG,
            case__status="active",
            status=TherapySession.Status.ATTENDED,
            scheduled_start__lte=timezone.now(),  # the demo's "today" sessions may still be to come
        )
        .filter(pk__in=Response.objects.values("session_id"))
        .select_related("case__therapist")
        .latest("scheduled_start")
    )


def record_of(case):
    return (
        list(CaseEvent.objects.filter(case=case).values_list("pk", flat=True)),
        list(SignalAction.objects.filter(signal__case=case).values_list("pk", flat=True)),
        CaseEvaluation.objects.get(case=case).risk_score,
    )


def test_a_misclicked_no_show_asks_first_and_cancelling_changes_nothing(page, artifacts):
    seed_demo()
    session = an_answered_session()
    case = session.case
    before = record_of(case)

    sign_in(page, case.therapist.email, DEMO_PASSWORD)
    page.wait_for_url("**/caseload/")
    page.goto(f"/cases/{case.pk}/")

    row = page.locator(f"#session-{session.pk}")
    assert row.locator(".check-cell strong").count() >= 1  # its answers are shown
    row.get_by_role("button", name="No-show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("No-show")
    expect(page.get_by_role("button", name="Yes, mark it no-show")).to_be_visible()
    page.screenshot(path=str(artifacts / "confirm_no_show.png"), full_page=True)

    page.get_by_role("link", name="Cancel, keep it attended").click()
    page.wait_for_url(f"**/cases/{case.pk}/#sessions")
    row = page.locator(f"#session-{session.pk}")
    # the status on its own: the cell also carries the session's flag badges, if any
    expect(row.locator(".session-status")).to_have_text("Attended")
    assert row.locator(".check-cell strong").count() >= 1  # the answers are still there
    session.refresh_from_db()
    assert session.status == TherapySession.Status.ATTENDED
    assert record_of(case) == before  # no event, no flag line, the same risk
