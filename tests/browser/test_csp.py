"""The pages run under their Content-Security-Policy in real Chromium with no violation at all."""

import pytest
from django.urls import reverse

from accounts.models import User
from measures.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG
from sessions_app.models import Case
from tests.browser.signin import sign_in
from tests.builders import PASSWORD, make_invitation, make_session
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Injected by the DevTools protocol before any page script (an init script is not subject to the
# page's CSP): every violation the page reports is kept for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(page):
    """The page, with every CSP violation (event or console report) collected in a list."""
    violations = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    return page, violations


def visit(page, violations, path):
    response = page.goto(path)
    assert response.status == 200, path
    assert response.headers["content-security-policy"], path
    page.wait_for_load_state("load")
    violations.extend(page.evaluate("window.__cspViolations"))


def log_in(page, email, password, path="/login/"):
    sign_in(page, email, password, path)


def test_staff_and_survey_pages_have_no_csp_violation(watched):
    page, violations = watched
    seed_demo()
    couple = Case.objects.filter(clinic__slug=DEMO_SLUG, kind="couple", status="active").first()
    session = make_session(couple)
    participant = couple.participants.first()
    _, token = make_invitation(session, participant)

    visit(page, violations, "/login/")
    log_in(page, couple.therapist.email, DEMO_PASSWORD)
    page.wait_for_url("**/caseload/")
    for path in (
        reverse("dashboard:caseload"),
        reverse("dashboard:case", args=[couple.pk]),
        reverse("surveys:participant_qr", args=[session.pk, participant.pk]),
    ):
        visit(page, violations, path)
    page.locator("form[action='/logout/'] button").click()
    visit(page, violations, reverse("surveys:survey", args=[token]))
    assert page.locator("form button[type=submit]").count() >= 1
    assert violations == []


def test_the_operators_pages_have_no_csp_violation(watched):
    page, violations = watched
    User.objects.create_superuser("operator@example.test", PASSWORD, full_name="Op Erator")
    visit(page, violations, "/operator/login/")
    log_in(page, "operator@example.test", PASSWORD, "/operator/login/")
    for path in ("/operator/", "/operator/accounts/clinic/", "/operator/accounts/clinic/add/",
                 "/operator/accounts/user/"):
        visit(page, violations, path)
    assert violations == []
