"""The optional "what kind of rupture" tap after "something felt off", without JavaScript."""

import secrets

import pytest
from django.test import Client
from django.urls import reverse

from measures.models import Answer, Response
from tests.builders import make_invitation, make_session

pytestmark = pytest.mark.django_db

RATINGS = ("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust")


@pytest.fixture
def client():
    return Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")


@pytest.fixture
def link(case):
    invitation, token = make_invitation(make_session(case), case.participants.get())
    return invitation, reverse("surveys:survey", args=[token])


def answers(**extra):
    return {**dict.fromkeys(RATINGS, "7"), "rupture": "no", "lang": "en", **extra}


def test_the_page_shows_the_optional_kind_under_the_rupture_question_in_plain_words(client, link):
    _, url = link
    body = client.get(url).content.decode()
    question, follow_up, kind, note = (
        body.index(text)
        for text in ('id="q-rupture"', 'id="q-rupture_discussed"', 'id="q-rupture_kind"', 'id="q-note"')
    )
    assert question < follow_up < kind < note  # shown as it is, no script needed
    assert "If something felt off: was it more like this? (optional)" in body
    assert "I held back, or went along with something I didn&#x27;t want" in body
    assert "I disagreed, or felt criticised" in body
    assert 'name="rupture_kind" value="withdrawal"' in body and 'name="rupture_kind" value="confrontation"' in body


def test_the_kind_is_shown_in_spanish_for_a_spanish_speaker(client, case, link):
    case.participants.update(language="es")
    body = client.get(link[1]).content.decode()
    assert "Si algo te resultó incómodo: ¿fue más bien así? (opcional)" in body
    assert "No estuve de acuerdo, o me sentí criticado/a" in body


@pytest.mark.parametrize(
    "given, rupture, kind",
    [
        ({"rupture": "yes", "rupture_kind": "confrontation"}, Response.Rupture.UNRESOLVED, "confrontation"),
        ({"rupture": "yes", "rupture_discussed": "yes", "rupture_kind": "withdrawal"}, Response.Rupture.TALKED_THROUGH,
         "withdrawal"),
        ({"rupture": "yes"}, Response.Rupture.UNRESOLVED, None),  # the tap is optional
        ({"rupture": "no", "rupture_kind": "confrontation"}, Response.Rupture.NONE, None),  # nothing felt off
    ],
    ids=["confrontation", "withdrawal-talked-through", "not-said", "ignored-after-no"],
)
def test_the_kind_is_stored_only_after_something_felt_off(client, link, given, rupture, kind):
    invitation, url = link
    assert client.post(url, answers(**given)).status_code == 302
    stored = Response.objects.get(invitation=invitation)
    assert (stored.rupture, stored.rupture_type) == (rupture, kind)
    answer = Answer.objects.filter(response=stored, item__code="rupture_kind").first()
    assert (answer.text if answer else None) == kind


def test_a_kind_no_button_offers_is_refused_with_400(client, link):
    invitation, url = link
    response = client.post(url, answers(rupture="yes", rupture_kind="anger"))
    assert response.status_code == 400
    assert not Response.objects.exists()


def test_an_evaluation_sees_the_kind_and_an_unresolved_confrontation_is_an_alert(
    client, link, django_capture_on_commit_callbacks
):
    invitation, url = link
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, answers(rupture="yes", rupture_kind="confrontation"))
    (flag,) = invitation.session.case.signals.filter(kind="rupture")
    assert flag.severity == "alert" and flag.evidence["rupture_type"] == "confrontation"


def test_the_case_page_shows_the_kind_in_words(client, link, login, therapist):
    invitation, url = link
    client.post(url, answers(rupture="yes", rupture_kind="withdrawal"))
    body = login(therapist).get(reverse("dashboard:case", args=[invitation.session.case_id])).content.decode()
    assert "held back or went along" in body and ">withdrawal<" not in body
