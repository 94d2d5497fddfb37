"""The browser harness itself: a therapist logs in through the real page."""

import pytest
from playwright.sync_api import expect

from tests.browser.signin import sign_in
from tests.builders import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_therapist_logs_in_and_sees_the_caseload(page, therapist, case):
    sign_in(page, therapist.email, PASSWORD)
    page.wait_for_url("**/caseload/")
    expect(page.get_by_role("link", name=case.reference)).to_be_visible()
