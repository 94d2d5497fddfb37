"""Issue 11's acceptance in real Chromium on the seeded demo clinic.

The admin invites a therapist, who sets a password from the emailed link and logs in; the admin opens a
couple case for them; the therapist records a session and both partners' checks go out; the admin transfers
the case and the first therapist gets 404; the case closes as "dropped out". Then axe-core on every page
issue 11 added. The live server runs in this process, so Django's locmem outbox (mailoutbox) holds its mail.
"""

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Clinic, User
from measures.management.commands.seed_demo import ADMIN, DEMO_PASSWORD, DEMO_SLUG
from measures.models import SurveyInvitation
from sessions_app.models import Case, CaseEvent, TherapySession
from tests.browser.test_survey import axe_violations
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

NEW_EMAIL = "nina.new@example.test"
NEW_PASSWORD = "a-long-unusual-passphrase"
PARTNERS = [("Ada Lind", "ada.lind@example.test"), ("Ben Lind", "ben.lind@example.test")]
SURVEY_LINK = re.compile(r"https?://[^/\s]+(/s/[A-Za-z0-9_\-]+/)")
from tests.browser.signin import sign_in  # noqa: E402

INVITATION_LINK = re.compile(r"https?://[^/\s]+(/invitation/\S+/)")
RESET_LINK = re.compile(r"https?://[^/\s]+(/password/reset/[^/\s]+/[^/\s]+/)")


def log_in(page, email, password=DEMO_PASSWORD, lands_on="**/clinic/"):
    sign_in(page, email, password)
    page.wait_for_url(lands_on)


def second_window(browser, live_server):
    """Another browser context (its own cookies): the therapist's screen beside the admin's."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.foreign = []

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            context.foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def assert_axe_clean(page, where):
    assert axe_violations(page) == [], where


def test_an_admin_onboards_a_therapist_and_runs_a_couple_case_from_invitation_to_dropout(
    page, browser, live_server, mailoutbox, artifacts
):
    seed_demo()
    clinic = Clinic.objects.get(slug=DEMO_SLUG)
    zone = zoneinfo.ZoneInfo(clinic.time_zone)

    # 1. The admin invites a therapist by email.
    log_in(page, ADMIN[0])
    page.goto(reverse("accounts:users"))
    page.locator("#id_full_name").fill("Nina New")
    page.locator("#id_email").fill(NEW_EMAIL)
    page.locator("#id_role").select_option("therapist")
    mailoutbox.clear()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {NEW_EMAIL}")).to_be_visible()
    page.screenshot(path=str(artifacts / "journey-1-invite.png"), full_page=True)
    (invitation_mail,) = [m for m in mailoutbox if NEW_EMAIL in m.to]
    link = INVITATION_LINK.search(invitation_mail.body).group(1)

    # 2. The emailed link sets a password (in the therapist's own browser); the link is single-use.
    therapist_context, therapist = second_window(browser, live_server)
    try:
        therapist.goto(link)
        therapist.locator("#id_new_password1").fill(NEW_PASSWORD)
        therapist.locator("#id_new_password2").fill(NEW_PASSWORD)
        therapist.get_by_role("button", name="Set password").click()
        therapist.wait_for_url("**/login/")
        assert therapist.goto(link).status == 410
        log_in(therapist, NEW_EMAIL, NEW_PASSWORD, lands_on="**/caseload/")
        nina = User.objects.get(email=NEW_EMAIL)
        assert nina.role == User.Role.THERAPIST and nina.clinic == clinic and nina.is_active

        # 3. The admin opens a couple case for her, both partners with their emails. Opened yesterday,
        # so that a session an hour ago is inside the case even just after midnight.
        page.goto(reverse("dashboard:open_case"))
        page.get_by_label("Reference").fill("E2E-LIND")
        page.get_by_label("Kind").select_option("couple")
        page.get_by_label("Therapist").select_option(label=nina.full_name)
        opened_on = timezone.localtime(timezone.now(), zone).date() - timedelta(days=1)
        page.get_by_label("Opened on").fill(opened_on.isoformat())
        for row, (name, email) in enumerate(PARTNERS):
            page.locator(f"#id_form-{row}-display_name").fill(name)
            page.locator(f"#id_form-{row}-email").fill(email)
        page.screenshot(path=str(artifacts / "journey-2-open-case.png"), full_page=True)
        page.get_by_role("button", name="Open the case").click()
        page.wait_for_url("**/cases/*/manage/")
        expect(page.get_by_text("Case E2E-LIND opened.")).to_be_visible()
        case = Case.objects.get(clinic=clinic, reference="E2E-LIND")
        assert (case.kind, case.therapist, case.participants.count()) == (Case.Kind.COUPLE, nina, 2)
        case_url = reverse("dashboard:case", args=[case.pk])

        # 4. The therapist finds it on her caseload, schedules a session an hour ago and marks it
        # attended: each partner is emailed their own survey link.
        therapist.goto(reverse("dashboard:caseload"))
        therapist.get_by_role("link", name="E2E-LIND").click()
        therapist.wait_for_url(f"**{case_url}")
        an_hour_ago = timezone.localtime(timezone.now() - timedelta(hours=1), zone)
        therapist.locator("#id_start").fill(an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
        therapist.get_by_role("button", name="Add session").click()
        therapist.wait_for_url(re.compile(r".*#sessions$"))
        session = TherapySession.objects.get(case=case)
        mailoutbox.clear()
        therapist.locator("form[action$='/status/']").get_by_role("button", name="Attended").click()
        therapist.wait_for_url(re.compile(r".*#sessions$"))
        expect(therapist.get_by_text("Session marked attended.")).to_be_visible()
        session.refresh_from_db()
        assert session.status == TherapySession.Status.ATTENDED
        for _name, email in PARTNERS:
            (check,) = [m for m in mailoutbox if email in m.to]
            assert SURVEY_LINK.search(check.body), check.body
        assert SurveyInvitation.objects.filter(session=session, sent_at__isnull=False).count() == 2

        # 5. The admin transfers the case to another therapist: the first one gets 404 at once.
        other = User.objects.filter(clinic=clinic, role=User.Role.THERAPIST, is_active=True).exclude(pk=nina.pk)
        other = other.order_by("full_name").first()
        page.goto(reverse("dashboard:manage_case", args=[case.pk]))
        page.get_by_label("Give the case to").select_option(label=other.full_name)
        page.get_by_role("button", name="Transfer").click()
        page.wait_for_url("**/manage/")
        expect(page.get_by_text(f"Case E2E-LIND is now {other.full_name}'s.")).to_be_visible()
        history = page.locator("#therapists-heading + ul")
        assert f"from {nina.full_name} to {other.full_name}" in history.inner_text()
        page.screenshot(path=str(artifacts / "journey-3-after-transfer.png"), full_page=True)
        assert therapist.goto(case_url).status == 404
        assert therapist.goto(reverse("dashboard:manage_case", args=[case.pk])).status == 404
        therapist.goto(reverse("dashboard:caseload"))
        assert therapist.get_by_role("link", name="E2E-LIND").count() == 0
    finally:
        therapist_context.close()
    assert not therapist_context.foreign

    # 6. The admin closes the case as "dropped out".
    page.goto(reverse("dashboard:manage_case", args=[case.pk]))
    page.get_by_label("Dropped out").check()
    page.get_by_role("button", name="Close the case").click()
    page.wait_for_url("**/manage/")
    expect(page.get_by_role("heading", name="Closed", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Reopen the case")).to_be_visible()
    page.screenshot(path=str(artifacts / "journey-4-closed.png"), full_page=True)
    case.refresh_from_db()
    assert case.status != Case.Status.ACTIVE and case.outcome == Case.Outcome.DROPPED_OUT
    assert case.therapist == other
    assert case.closed_on == timezone.localtime(timezone.now(), zone).date()
    closing = CaseEvent.objects.get(case=case, action=CaseEvent.Action.CLOSED)
    assert closing.actor.email == ADMIN[0]
    transfers = CaseEvent.objects.filter(case=case, action=CaseEvent.Action.ASSIGNED).order_by("created_at", "id")
    assert [(e.detail.get("from"), e.detail.get("to")) for e in transfers] == [(None, nina.pk), (nina.pk, other.pk)]


def test_every_page_issue_11_added_passes_axe(page, browser, live_server, mailoutbox):
    seed_demo()
    clinic = Clinic.objects.get(slug=DEMO_SLUG)
    case = Case.objects.filter(clinic=clinic, kind=Case.Kind.COUPLE, status=Case.Status.ACTIVE).first()
    participant = case.participants.first()
    therapist_email = case.therapist.email

    log_in(page, ADMIN[0])
    signed_in = [
        reverse("dashboard:clinic_home"),
        reverse("dashboard:clinic_home") + "?needs_therapist=on",
        reverse("dashboard:clinic_settings"),
        reverse("accounts:users"),
        reverse("accounts:password_change"),
        reverse("dashboard:open_case"),
        reverse("dashboard:manage_case", args=[case.pk]),
        reverse("dashboard:edit_participant", args=[participant.pk]),
        reverse("dashboard:import_cases"),
        reverse("dashboard:exports"),
        reverse("audit:log"),
    ]
    for path in signed_in:
        assert page.goto(path).status == 200, path
        assert_axe_clean(page, path)

    # The forms in their refused state: errors beside the fields must be announced too.
    page.goto(reverse("dashboard:open_case"))
    page.get_by_role("button", name="Open the case").click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    assert_axe_clean(page, "open case, refused")
    page.goto(reverse("dashboard:manage_case", args=[case.pk]))
    page.get_by_role("button", name="Close the case").click()  # no outcome chosen
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    assert_axe_clean(page, "manage case, refused close")

    # The CSV import: its preview, and a file with line-numbered errors.
    page.goto(reverse("dashboard:import_cases"))
    good = (
        "case_reference,kind,therapist_email,client_id,display_name,email\n"
        f"IMP-1,couple,{therapist_email},imp-a,Cara Imp,cara@example.test\n"
        f"IMP-1,couple,{therapist_email},imp-b,Dan Imp,dan@example.test\n"
    )
    page.locator("#id_cases_file").set_input_files(
        files=[{"name": "cases.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    page.get_by_role("button", name="Check and preview").click()
    expect(page.get_by_role("button", name="Confirm the import")).to_be_visible()
    assert_axe_clean(page, "import preview")
    bad = "case_reference,kind,therapist_email,client_id,display_name\nIMP-2,triad,nobody@example.test,x,X\n"
    page.locator("#id_cases_file").set_input_files(
        files=[{"name": "cases.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.get_by_role("button", name="Check and preview").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_axe_clean(page, "import errors")

    # The password change's done page.
    page.goto(reverse("accounts:password_change"))
    page.locator("#id_old_password").fill(DEMO_PASSWORD)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/password/change/done/")
    assert_axe_clean(page, "password change done")

    # An invitation to accept, and the signed-out password pages (reset, its emailed link, done).
    page.goto(reverse("accounts:users"))
    page.locator("#id_full_name").fill("Axe Tester")
    page.locator("#id_email").fill("axe.tester@example.test")
    page.locator("#id_role").select_option("therapist")
    mailoutbox.clear()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to axe.tester@example.test")).to_be_visible()
    invitation = INVITATION_LINK.search(mailoutbox[-1].body).group(1)
    page.get_by_role("button", name="Log out").click()
    page.goto(invitation)
    assert_axe_clean(page, "accept invitation")
    page.get_by_role("button", name="Set password").click()  # empty: refused
    assert_axe_clean(page, "accept invitation, refused")

    page.goto(reverse("accounts:login"))
    assert_axe_clean(page, "login")
    page.goto(reverse("accounts:password_reset"))
    assert_axe_clean(page, "password reset")
    mailoutbox.clear()
    page.get_by_label("Email").fill(therapist_email)
    page.get_by_role("button", name="Email me a link").click()
    page.wait_for_url("**/password/reset/sent/")
    assert_axe_clean(page, "password reset sent")
    reset = RESET_LINK.search(mailoutbox[-1].body).group(1)
    page.goto(reset)
    page.wait_for_url("**/set-password/")
    assert_axe_clean(page, "password reset confirm")
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/password/reset/done/")
    assert_axe_clean(page, "password reset complete")
