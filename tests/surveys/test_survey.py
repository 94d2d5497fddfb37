"""The client's survey page: opening, answering, refusing bad input, and closed links."""

import logging
import secrets
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alliance_site.logging import RedactTokensFilter
from measures.actions.invitations import do_issue_token
from measures.models import Answer, Instrument, Response, SurveyInvitation
from sessions_app.models import Participant
from tests.builders import RATING_CODES, SHARED_CODES, make_invitation, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    """A browser with an address of its own, so the rate-limit counters shared in the cache (Redis
    on CI) for 127.0.0.1 are not run up by these tests."""
    return Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")

SHARED = SHARED_CODES


def full_answers(value="8", shared=False, **extra):
    answers = dict.fromkeys(RATING_CODES + (SHARED if shared else ()), value)
    return {**answers, "rupture": "no", "lang": "en", **extra}


@pytest.fixture
def link(case):
    session = make_session(case)
    invitation, token = make_invitation(session, case.participants.get())
    return invitation, reverse("surveys:survey", args=[token])


def test_opening_the_link_shows_the_check_in_the_participants_language_and_marks_it_opened(client, link):
    invitation, url = link
    response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "how was today's session?" in body
    assert "Today we worked on the things I came to therapy for." in body
    assert "Who sees your answers: only your therapist and the clinical team at Northside Therapy" in body
    invitation.refresh_from_db()
    assert invitation.opened_at is not None and invitation.completed_at is None


def test_survey_pages_are_never_cached_and_never_send_a_referrer(client, link):
    _, url = link
    for response in (client.get(url), client.post(url, full_answers()), client.get(url)):
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"


def test_opening_the_link_many_times_never_uses_it_up(client, link):
    invitation, url = link
    for _ in range(3):
        assert client.get(url).status_code == 200
        assert client.head(url).status_code == 405  # a scanner's HEAD changes nothing either
    invitation.refresh_from_db()
    assert invitation.completed_at is None and not Response.objects.exists()
    assert client.post(url, full_answers()).status_code == 302


def test_a_submission_stores_response_answers_scores_and_completion_then_reevaluates_on_commit(
    client, link, django_capture_on_commit_callbacks
):
    invitation, url = link
    answers = {**full_answers("6"), "goals_focus": "10", "goals_agree": "10", "rupture": "yes", "note": "Felt rushed"}
    with mock.patch("measures.tasks.evaluate_case.delay") as evaluate:
        with django_capture_on_commit_callbacks() as queued:
            response = client.post(url, answers)
        assert not evaluate.called  # nothing leaves the process before the commit
        for callback in queued:
            callback()
    assert response.status_code == 302 and response["Location"] == reverse("surveys:survey_done")
    stored = Response.objects.get(invitation=invitation)
    assert (stored.goals, stored.tasks, stored.bond) == (10, 6, 6)
    assert float(stored.total) == pytest.approx(7.33) and stored.rupture == Response.Rupture.UNRESOLVED
    assert stored.note == "Felt rushed"
    assert Answer.objects.filter(response=stored).count() == len(RATING_CODES) + 2  # ratings, rupture, note
    invitation.refresh_from_db()
    assert invitation.completed_at == stored.submitted_at
    evaluate.assert_called_once_with(invitation.session.case_id)


def test_missing_answers_show_the_form_again_with_given_answers_kept_and_a_message_beside_each(client, link):
    invitation, url = link
    response = client.post(url, {"goals_focus": "3", "tasks_sense": "9", "lang": "en"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Some answers are missing. Your other answers are kept." in body
    assert 'value="3" id="id_goals_focus_3" checked' in body and 'value="9" id="id_tasks_sense_9" checked' in body
    for code in ("goals_agree", "tasks_fit", "bond_heard", "bond_trust", "rupture"):
        assert f'<p class="error" id="id_{code}_error">Please choose an answer.</p>' in body
        assert f'<a href="#q-{code}">' in body  # the summary links to each missing question
    for code in ("goals_focus", "tasks_sense"):
        assert f'id="id_{code}_error"' not in body
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.completed_at is None


@pytest.mark.parametrize(
    "forged",
    [
        {"goals_focus": "11"},
        {"goals_focus": "-1"},
        {"bond_trust": "8.5"},
        {"tasks_fit": "<script>"},
        {"rupture": "maybe"},
        {"note": "x" * 2001},
    ],
    ids=["above-range", "below-range", "fraction", "text", "yes-no", "note-too-long"],
)
def test_out_of_range_or_forged_values_are_refused_with_400(client, link, forged):
    invitation, url = link
    response = client.post(url, {**full_answers(), **forged})
    assert response.status_code == 400
    assert "not one of the choices on this page" in response.content.decode()
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.completed_at is None


def test_a_follow_up_answer_is_ignored_when_its_question_was_answered_no(client, link):
    invitation, url = link
    assert client.post(url, full_answers(rupture="no", rupture_discussed="yes")).status_code == 302
    assert Response.objects.get(invitation=invitation).rupture == Response.Rupture.NONE


def test_a_used_link_shows_already_answered_with_the_clinic_name_and_stores_nothing_more(client, link):
    _, url = link
    assert client.post(url, full_answers("7")).status_code == 302
    for response in (client.get(url), client.post(url, full_answers("2"))):
        body = response.content.decode()
        assert response.status_code == 410
        assert "You have already answered this check" in body and "Northside Therapy" in body
        assert "Today we worked on" not in body
    assert Response.objects.get().goals == 7


def test_an_expired_link_shows_expired_with_the_clinic_name(client, case):
    session = make_session(case, days_ago=6)
    created = timezone.now() - timedelta(days=5)
    _, token = make_invitation(
        session, case.participants.get(), created_at=created, expires_at=created + timedelta(days=4)
    )
    url = reverse("surveys:survey", args=[token])
    for response in (client.get(url), client.post(url, full_answers())):
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
        assert "Northside Therapy" in response.content.decode()
    assert not Response.objects.exists()


def test_a_link_expiring_between_opening_and_submitting_is_refused(client, link):
    invitation, url = link
    assert client.get(url).status_code == 200
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=5), expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.post(url, full_answers())
    assert response.status_code == 410 and "This link has expired" in response.content.decode()


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t[:10], lambda t: "x"])
def test_a_tampered_or_unknown_link_is_404_and_reveals_nothing(client, link, mangle):
    invitation, url = link
    token = url.split("/")[-2]
    for method in ("get", "post"):
        response = getattr(client, method)(reverse("surveys:survey", args=[mangle(token)]), full_answers())
        body = response.content.decode()
        assert response.status_code == 404
        assert "This link does not work" in body
        assert "Northside Therapy" not in body and invitation.participant.first_name not in body
    assert not Response.objects.exists()


def test_a_submission_that_loses_a_race_gets_already_answered_409(client, link):
    invitation, url = link
    assert client.get(url).status_code == 200
    real_lookup = SurveyInvitation.objects.for_token

    def lookup_then_someone_else_submits(token):
        found = real_lookup(token)
        SurveyInvitation.objects.filter(pk=found.pk).update(completed_at=timezone.now())
        return found

    with mock.patch("surveys.views.SurveyInvitation.objects.for_token", lookup_then_someone_else_submits):
        response = client.post(url, full_answers())
    assert response.status_code == 409
    assert "You have already answered this check" in response.content.decode()
    assert not Response.objects.exists()


def test_other_methods_are_refused(client, link):
    _, url = link
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post(reverse("surveys:survey_done")).status_code == 405


def test_a_database_outage_while_submitting_gives_a_please_try_again_page_not_a_thank_you(client, link):
    invitation, url = link

    def fail_on_response_insert(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "measures_response" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_response_insert):
        response = client.post(url, full_answers(lang="es"))
    body = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "60" and response["Cache-Control"] == "no-store"
    assert "Por favor, inténtalo de nuevo en un minuto" in body and "Gracias" not in body
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.completed_at is None  # the claim rolled back: the link still works
    assert client.post(url, full_answers()).status_code == 302


def test_a_database_that_is_down_before_the_lookup_also_gives_the_503_page(client, link):
    _, url = link
    down = OperationalError("could not connect")
    with mock.patch("surveys.views.SurveyInvitation.objects.for_token", side_effect=down):
        response = client.get(url)
    assert response.status_code == 503 and "Please try again in a minute" in response.content.decode()


# Languages ----------------------------------------------------------------------------------


def test_a_spanish_speaking_participant_gets_the_whole_page_in_spanish(client, case):
    participant = case.participants.get()
    Participant.objects.filter(pk=participant.pk).update(language="es")
    _, token = make_invitation(make_session(case), participant)
    url = reverse("surveys:survey", args=[token])
    body = client.get(url).content.decode()
    assert '<html lang="es">' in body
    assert "¿cómo fue la sesión de hoy?" in body and "Hoy trabajamos en lo que me trajo a terapia." in body
    assert "Enviar mis respuestas" in body and "Quién ve tus respuestas" in body
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in body
    missing = client.post(url, {"goals_focus": "5", "lang": "es"}).content.decode()
    assert "Por favor, elige una respuesta." in missing
    done = client.post(url, {**full_answers(), "lang": "es"}, follow=True).content.decode()
    assert "Gracias" in done and "Recibimos tus respuestas" in done


def test_the_language_switch_shows_the_page_in_english_for_a_spanish_speaker(client, case):
    participant = case.participants.get()
    Participant.objects.filter(pk=participant.pk).update(language="es")
    _, token = make_invitation(make_session(case), participant)
    body = client.get(reverse("surveys:survey", args=[token]) + "?lang=en").content.decode()
    assert "Today we worked on the things I came to therapy for." in body
    assert '<input type="hidden" name="lang" value="en">' in body


def test_an_unknown_language_falls_back_to_the_participants_own(client, link):
    _, url = link
    body = client.get(url + "?lang=xx").content.decode()
    assert '<html lang="en">' in body


# Couples and families -----------------------------------------------------------------------


def test_a_partner_in_a_couple_answers_for_themself_including_the_shared_questions(client, couple_case):
    session = make_session(couple_case)
    robin, jordan = couple_case.participants.all()
    _, robin_token = make_invitation(session, robin)
    _, jordan_token = make_invitation(session, jordan)
    body = client.get(reverse("surveys:survey", args=[robin_token])).content.decode()
    assert "Robin, how was today" in body and "Jordan" not in body
    assert "Please answer for yourself only." in body
    assert "I felt safe saying what I really think with the others in the room." in body
    client.post(reverse("surveys:survey", args=[robin_token]), full_answers("9", shared=True))
    client.post(reverse("surveys:survey", args=[jordan_token]), full_answers("4", shared=True))
    assert Response.objects.get(participant=robin).shared == 9
    assert Response.objects.get(participant=jordan).shared == 4


def test_an_individual_client_is_not_asked_about_others_in_the_room(client, link):
    _, url = link
    body = client.get(url).content.decode()
    assert "others in the room" not in body and "Please answer for yourself only." not in body


# Page weight and queries -------------------------------------------------------------------


def test_the_survey_page_and_its_stylesheet_are_well_under_50_kb(client, link):
    from django.contrib.staticfiles import finders

    _, url = link
    page = client.get(url).content
    stylesheet = open(finders.find("css/survey.css"), "rb").read()  # noqa: SIM115
    assert b"<script" not in page and b"http" not in page.split(b"</head>")[0]
    assert len(page) + len(stylesheet) < 50_000


def test_opening_the_survey_takes_a_fixed_number_of_queries(client, link, django_assert_num_queries):
    _, url = link
    # 1 the link with its invitation, participant, session, case and clinic; 2 the clinic's
    # instrument; 3 its items; 4 the first-opened stamp.
    with django_assert_num_queries(4):
        assert client.get(url).status_code == 200


# Rate limits -------------------------------------------------------------------------------
# Counters live in the shared cache (Redis when REDIS_URL is set) and outlive a test, so each
# test counts against addresses and links of its own instead of clearing the cache.


def fresh_address():
    return f"2001:db8::{secrets.token_hex(4)}"


def unknown_link():
    return reverse("surveys:survey", args=[secrets.token_urlsafe(24)])


@pytest.fixture
def tight_limits(settings):
    settings.SURVEY_RATE_LIMIT = {"per_link": 3, "per_address": 5, "unknown_per_address": 5, "window_seconds": 600}


def test_submissions_are_rate_limited_per_link(client, link, tight_limits):
    _, url = link
    codes = [client.post(url, {"lang": "en"}, REMOTE_ADDR=fresh_address()).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.post(url, full_answers(), REMOTE_ADDR=fresh_address())
    assert limited.status_code == 429 and "Please wait a few minutes" in limited.content.decode()
    assert limited["Cache-Control"] == "no-store"
    assert not Response.objects.exists()
    assert client.get(url).status_code == 200  # reading the page is never limited


def test_submissions_are_rate_limited_per_address_but_not_for_other_addresses(client, link, tight_limits):
    invitation, url = link
    address = fresh_address()
    # Six live links of one check (one each under the per-link limit), all from one address.
    urls = [url] + [reverse("surveys:survey", args=[do_issue_token(invitation, "qr")]) for _ in range(5)]
    codes = [client.post(each, {"lang": "en"}, REMOTE_ADDR=address).status_code for each in urls]
    assert codes == [200, 200, 200, 200, 200, 429]
    assert client.post(url, {"lang": "en"}, REMOTE_ADDR=fresh_address()).status_code == 200


def test_behind_a_proxy_the_address_comes_from_x_forwarded_for(client, tight_limits, settings):
    settings.NUM_PROXIES = 1
    proxy = fresh_address()
    for _ in range(6):  # six clients behind one proxy: an address each, none limited
        forwarded = f"{fresh_address()}"
        assert client.post(unknown_link(), {}, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded).status_code == 404
    client_address = fresh_address()
    for _ in range(5):  # a client cannot escape its limit by prepending a made-up address
        spoofed = f"{fresh_address()}, {client_address}"
        assert client.post(unknown_link(), {}, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=spoofed).status_code == 404
    assert client.post(unknown_link(), {}, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=client_address).status_code == 429


# Logs --------------------------------------------------------------------------------------


@pytest.fixture
def log_output():
    """The configured console handler (with its redaction filter), writing into a buffer."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactTokensFilter) for f in handler.filters)
    ]
    assert handlers, "the console handler with the token filter is configured"
    buffer = StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


def test_tokens_never_reach_the_logs(client, link, log_output):
    invitation, url = link
    token = url.split("/")[-2]
    client.get(url.replace(token, token[:-2] + "zz"))  # django.request logs "Not Found: /s/…/"
    client.post(url, {"goals_focus": "99", "lang": "en"})  # a 400, logged as "Bad Request: /s/…/"
    client.post(url, full_answers())
    client.get(url)  # a 410
    # The development server's access log line, exactly as runserver writes it.
    logging.getLogger("django.server").info('"%s" %s %s', f"GET {url}?lang=es HTTP/1.1", 200, 1234)
    written = log_output.getvalue()
    assert "Not Found: /s/[redacted]/" in written and "Bad Request: /s/[redacted]/" in written
    assert "GET /s/[redacted]/?lang=es" in written
    assert token not in written and token[:-2] not in written


def test_every_rating_offers_every_whole_number_with_labelled_ends(client, link):
    _, url = link
    body = client.get(url).content.decode()
    items = Instrument.objects.for_clinic(link[0].session.case.clinic).items.for_case(link[0].session.case)
    for item in (i for i in items if i.kind == "rating"):
        for value in range(item.scale_min, item.scale_max + 1):
            assert f'name="{item.code}" value="{value}"' in body
        low = item.text("en")["low"].replace("'", "&#x27;")
        assert f"<span>0 = {low}</span>" in body


def test_a_browser_under_no_referrer_can_submit_though_it_sends_origin_null(link):
    """Referrer-Policy: no-referrer makes browsers send "Origin: null" on the POST; the link's
    token, not a CSRF cookie, is what authorises it (found by the Chromium tests)."""
    invitation, url = link
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")
    assert browser.get(url).status_code == 200
    assert "csrftoken" not in browser.cookies  # the survey sets no cookie at all
    response = browser.post(url, full_answers(), HTTP_ORIGIN="null")
    assert response.status_code == 302 and Response.objects.filter(invitation=invitation).exists()


def test_the_thank_you_page_shows_the_clinics_contact_line_and_a_forged_cookie_shows_none(client, link):
    invitation, url = link
    clinic = invitation.session.case.clinic
    type(clinic).objects.filter(pk=clinic.pk).update(client_contact="Questions? Call the front desk on 555 0100")
    done = client.post(url, full_answers(), follow=True)
    assert "Call the front desk on 555 0100" in done.content.decode()
    client.cookies["survey_clinic"] = str(clinic.pk)  # unsigned: someone else's clinic cannot be shown
    assert "555 0100" not in client.get(reverse("surveys:survey_done")).content.decode()


def test_an_evaluation_that_fails_after_the_answer_committed_still_thanks_the_client(
    client, link, django_capture_on_commit_callbacks
):
    # In-process (SQLite, eager tasks) the evaluation runs on commit; a locked database there must
    # not tell a client whose answers are stored to try again. The case keeps its mark instead.
    invitation, url = link
    with (
        mock.patch("measures.tasks.evaluate_case.delay", side_effect=OperationalError("database is locked")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(url, full_answers())
    assert response.status_code == 302 and response["Location"] == reverse("surveys:survey_done")
    assert Response.objects.filter(invitation=invitation).exists()
    invitation.session.case.refresh_from_db()
    assert invitation.session.case.needs_evaluation_since is not None
