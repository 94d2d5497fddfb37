"""The client's check in real Chromium: a phone, the keyboard only, Spanish, the tablet hand-over, axe."""

import functools
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from measures.actions.invitations import do_create_invitations
from measures.models import Response, SurveyInvitation
from measures.tasks import send_invitation
from sessions_app.models import Participant, TherapySession
from tests.browser.signin import sign_in
from tests.builders import PASSWORD, make_session

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"https?://[^/\s]+(/s/[A-Za-z0-9_\-]+/)")
AXE = Path(__import__("axe_playwright_python").__file__).resolve().parent / "axe.min.js"


def emailed_link(case, mailoutbox, *, language="en"):
    """Record an attended session the way the app does and return the path of the emailed link."""
    participant = case.participants.first()
    Participant.objects.filter(pk=participant.pk).update(language=language)
    session = make_session(case, status=TherapySession.Status.ATTENDED)
    invitations = do_create_invitations(session, acting_user=None)
    mailoutbox.clear()  # in case the eager task ran already: send it as the worker does, once
    SurveyInvitation.objects.filter(pk__in=[i.pk for i in invitations]).update(sent_at=None)
    for invitation in invitations:
        send_invitation(invitation.pk)  # the task body, as the worker runs it
    (message,) = [m for m in mailoutbox if participant.email in m.to]
    return LINK.search(message.body).group(1)


def answer_with_keyboard(page, ratings, *, rupture="no", note=None):
    """Tab into each question and choose with the arrow keys, as a keyboard-only user does."""
    page.keyboard.press("Tab")  # the language switch
    for value in ratings:
        page.keyboard.press("Tab")  # focuses the first button of the next 0–10 question
        page.keyboard.press("Space")  # chooses 0
        for _ in range(value):
            page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")  # "Did anything feel off?": Yes
    page.keyboard.press("Space")
    if rupture == "no":
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")  # the follow-up, left unanswered
    page.keyboard.press("Tab")  # what kind it was (optional), left unanswered
    page.keyboard.press("Tab")  # the optional note
    if note:
        page.keyboard.type(note)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")


@functools.cache
def axe_source():
    return AXE.read_text()


def axe_violations(page):
    # Evaluated through the DevTools protocol, not added as an inline <script>: the pages' CSP
    # (rightly) refuses inline scripts. Every rule runs; resultTypes only spares axe collecting
    # (and JSON carrying) every node that passed, up to 800 kB a page: the violations are the same.
    page.evaluate(axe_source())
    result = page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    return [v for v in json.loads(result)["violations"] if v["impact"] in ("serious", "critical")]


def test_a_client_answers_an_emailed_link_on_a_phone_with_the_keyboard_only(page, case, mailoutbox, artifacts):
    path = emailed_link(case, mailoutbox)
    page.set_viewport_size(PHONE)
    page.goto(path)
    assert page.get_by_role("heading", level=1).inner_text().endswith("how was today's session?")
    expect(page.get_by_text("Who sees your answers")).to_be_visible()
    # Every answer button is a touch target of at least 44 × 44 px, and nothing scrolls sideways.
    boxes = page.locator(".scale label").evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())")
    assert len(boxes) == 6 * 11 and all(box["width"] >= 44 and box["height"] >= 44 for box in boxes)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(artifacts / "survey-phone.png"), full_page=True)
    answer_with_keyboard(page, [7, 8, 6, 9, 10, 7], note="Good session")
    page.wait_for_url("**/s/done/")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    response = Response.objects.get(participant=case.participants.first())
    assert (response.goals, response.tasks, response.bond) == (7.5, 7.5, 8.5)
    assert response.rupture == Response.Rupture.NONE and response.note == "Good session"


def test_a_spanish_speaking_client_answers_in_spanish_with_the_keyboard(page, case, mailoutbox):
    path = emailed_link(case, mailoutbox, language="es")
    page.set_viewport_size(PHONE)
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "es"
    assert "¿cómo fue la sesión de hoy?" in page.get_by_role("heading", level=1).inner_text()
    answer_with_keyboard(page, [3, 3, 4, 4, 5, 5], rupture="yes")
    page.wait_for_url("**/s/done/")
    expect(page.get_by_role("heading", name="Gracias")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "es"
    response = Response.objects.get(participant=case.participants.first())
    assert response.rupture == Response.Rupture.UNRESOLVED and response.goals == 3


def test_the_language_switch_and_a_missing_answer_message_without_javascript(browser, live_server, case, mailoutbox):
    path = emailed_link(case, mailoutbox)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, viewport=PHONE)
    foreign = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.url)
                  else (foreign.append(route.request.url), route.abort()))
    page = context.new_page()
    try:
        page.goto(path)
        page.get_by_role("link", name="Español").click()
        expect(page.get_by_role("button", name="Enviar mis respuestas")).to_be_visible()
        page.locator("label[for=id_goals_focus_8]").click()
        page.get_by_role("button", name="Enviar mis respuestas").click()
        expect(page.get_by_role("alert")).to_contain_text("Faltan algunas respuestas")
        expect(page.locator("#id_goals_focus_8")).to_be_checked()  # the given answer is kept
        expect(page.locator("#id_goals_agree_error")).to_have_text("Por favor, elige una respuesta.")
        for code in ("goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust"):
            page.locator(f"label[for=id_{code}_6]").click()
        page.locator("label[for=id_rupture_1]").click()
        page.get_by_role("button", name="Enviar mis respuestas").click()
        page.wait_for_url("**/s/done/")
        expect(page.get_by_role("heading", name="Gracias")).to_be_visible()
    finally:
        context.close()
    assert not foreign
    assert Response.objects.get().goals == 7


def test_the_survey_page_with_its_assets_transfers_under_50_kb(page, case, mailoutbox):
    path = emailed_link(case, mailoutbox)
    sizes = {}
    page.on("response", lambda response: sizes.__setitem__(response.url, len(response.body())))
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert any(url.endswith("survey.css") for url in sizes)
    assert sum(sizes.values()) < 50_000, sizes


def test_the_tablet_goes_round_a_couple_and_the_second_partner_reaches_only_their_own_survey(
    page, therapist, couple_case
):
    session = make_session(couple_case, status=TherapySession.Status.ATTENDED)
    do_create_invitations(session, acting_user=None)
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
    sign_in(page, therapist.email, PASSWORD)
    page.wait_for_url("**/caseload/")
    page.goto(f"/cases/{couple_case.pk}/")
    page.locator(".check-cell", has_text="Robin").get_by_role("button", name="complete now").click()
    page.wait_for_url("**/s/*/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Robin,")
    answer_with_keyboard(page, [9] * 8)  # six alliance questions and two about the others in the room
    page.wait_for_url("**/s/done/")
    expect(page.get_by_role("heading", name="Please pass the tablet to Jordan.")).to_be_visible()
    assert page.locator("a").count() == 0  # not a single link out of the thank-you page
    assert "Robin" not in page.content()

    # Jordan tries Back: Robin's survey only says "already answered", the case page needs a sign-in.
    page.go_back()
    assert "You have already answered this check" in page.content() and "Robin" not in page.content()
    page.go_back()
    page.wait_for_url(re.compile(r".*/login/.*"))
    assert couple_case.reference not in page.content() and "Robin" not in page.content()
    page.goto("/caseload/")
    page.wait_for_url(re.compile(r".*/login/.*"))

    page.goto("/s/done/")
    page.get_by_role("button", name="I am Jordan: start my check").click()
    page.wait_for_url("**/s/*/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Jordan,")
    answer_with_keyboard(page, [4] * 8, rupture="yes")
    page.wait_for_url("**/s/done/")
    expect(page.get_by_role("heading", name="Everyone has answered.")).to_be_visible()
    page.get_by_role("button", name="Hand back to the therapist").click()
    page.wait_for_url(re.compile(r".*/login/\?next=/cases/.*"))

    robin, jordan = couple_case.participants.all()
    assert Response.objects.get(participant=robin).goals == 9 and Response.objects.get(participant=jordan).goals == 4
    assert Response.objects.get(participant=jordan).rupture == Response.Rupture.UNRESOLVED


def test_axe_finds_no_serious_or_critical_violation_on_the_survey_pages(page, couple_case, mailoutbox):
    path = emailed_link(couple_case, mailoutbox, language="es")
    page.set_viewport_size(PHONE)
    page.goto(path)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Enviar mis respuestas").click()  # all missing: the error state
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="English").click()
    assert axe_violations(page) == []
    for code in ("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust",
                 "shared_purpose", "shared_safety"):
        page.locator(f"label[for=id_{code}_5]").click()
    page.locator("label[for=id_rupture_1]").click()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/s/done/")
    assert axe_violations(page) == []
    page.goto(path)
    expect(page.get_by_role("heading", name="Ya respondiste esta valoración")).to_be_visible()  # her own language
    assert axe_violations(page) == []
