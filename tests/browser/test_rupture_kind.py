"""The optional kind of rupture in real Chromium, with and without JavaScript."""

import pytest
from playwright.sync_api import expect

from measures.models import Response
from tests.browser.test_survey import PHONE, emailed_link

pytestmark = pytest.mark.django_db(transaction=True)

RATINGS = ("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust")


def answer_with_a_tap_on_the_kind(page):
    for code in RATINGS:
        page.locator(f"label[for=id_{code}_7]").click()
    page.locator("label[for=id_rupture_0]").click()  # yes, something felt off
    kind = page.get_by_role("group", name="If something felt off: was it more like this? (optional)")
    expect(kind).to_be_visible()
    kind.get_by_text("I disagreed, or felt criticised").click()  # one tap
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/s/done/")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_client_says_it_felt_like_a_confrontation_with_one_tap(browser, live_server, case, mailoutbox, javascript):
    path = emailed_link(case, mailoutbox)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=javascript, viewport=PHONE)
    page = context.new_page()
    try:
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # long labels wrap
        answer_with_a_tap_on_the_kind(page)
    finally:
        context.close()
    response = Response.objects.get()
    assert (response.rupture, response.rupture_type) == (Response.Rupture.UNRESOLVED, "confrontation")
