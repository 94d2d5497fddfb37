"""Each web process remembers the survey's questions (surveys/questions.py): once it knows them a
submission reads no instrument or item row, a version loaded in this process is asked at once, one
loaded by another process within LATEST_SECONDS, and one rolled back never.

Committed rows only are remembered, so these tests commit (transaction=True): inside the usual
per-test transaction nothing is remembered and every page reads its questions.
"""

import copy
import secrets

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from measures.actions.instruments import do_load_instrument
from measures.models import Instrument, Item, Response
from surveys import questions
from tests.builders import make_invitation, make_session
from tests.surveys.test_survey import full_answers

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PROMPT = "In this newer version: did we work on what you wanted to work on?"


@pytest.fixture(autouse=True)
def nothing_remembered():
    questions.forget_everything()
    yield
    questions.forget_everything()


def new_link(case):
    _, token = make_invitation(make_session(case), case.participants.get())
    return reverse("surveys:survey", args=[token])


def browser():
    return Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")


def next_version(clinic):
    """The clinic's instrument as a new version whose first question reads NEW_PROMPT."""
    current = Instrument.objects.for_clinic(clinic)
    definition = copy.deepcopy(current.definition)
    definition["version"] = current.version + 1
    definition["items"][0]["texts"]["en"]["prompt"] = NEW_PROMPT
    return definition


def first_prompt(case):
    return questions.survey_items(case.clinic, case)[0].text("en")["prompt"]


def test_a_submission_reads_no_question_once_the_process_knows_them(case, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr("measures.tasks.evaluate_case.delay", lambda *args: None)  # queued, as to a broker
    client = browser()
    assert client.get(new_link(case)).status_code == 200  # the process learns the questions
    url = new_link(case)
    # 1 the link with its invitation, participant, session, case and clinic; then the one
    # transaction: 2 BEGIN, 3 claim the invitation, 4 the response, 5 its answers, 6 mark the case
    # for evaluation, 7 COMMIT. No instrument, no items.
    with django_assert_num_queries(7):
        assert client.post(url, full_answers()).status_code == 302
    assert Response.objects.get(session__case=case).answers.count() == len(full_answers()) - 1  # all but lang


def test_the_remembered_questions_are_those_the_database_gives(case, couple_case):
    for each in (case, couple_case, case, couple_case):  # first read, then remembered
        expected = Instrument.objects.for_clinic(each.clinic).items.for_case(each)
        assert questions.survey_items(each.clinic, each) == expected
    assert len(questions.survey_items(couple_case.clinic, couple_case)) > len(questions.survey_items(case.clinic, case))


def test_a_version_loaded_in_this_process_is_asked_from_the_next_page_on(case):
    client = browser()
    assert NEW_PROMPT not in client.get(new_link(case)).content.decode()
    do_load_instrument(next_version(case.clinic))
    assert NEW_PROMPT in client.get(new_link(case)).content.decode()


def test_a_version_loaded_by_another_process_is_asked_within_latest_seconds(case, monkeypatch):
    assert first_prompt(case) != NEW_PROMPT
    # Another process loads it: rows written without this process's post_save.
    definition = next_version(case.clinic)
    (instrument,) = Instrument.objects.bulk_create([Instrument(
        code=definition["code"], version=definition["version"], name=definition["name"],
        psychometrics=definition["psychometrics"], definition=definition,
    )])
    Item.objects.bulk_create(Item(instrument=instrument, **item) for item in definition["items"])
    assert first_prompt(case) != NEW_PROMPT  # remembered for a few seconds more
    now = questions._clock()
    monkeypatch.setattr(questions, "_clock", lambda: now + questions.LATEST_SECONDS + 1)
    assert first_prompt(case) == NEW_PROMPT
    url = new_link(case)
    assert browser().post(url, full_answers()).status_code == 302
    assert Response.objects.filter(instrument=instrument).count() == 1


class RolledBack(Exception):
    pass


def test_a_version_whose_load_is_rolled_back_is_never_asked(case):
    old = first_prompt(case)
    with pytest.raises(RolledBack), transaction.atomic():
        do_load_instrument(next_version(case.clinic))
        assert first_prompt(case) == NEW_PROMPT  # this transaction sees its own load
        raise RolledBack
    assert first_prompt(case) == old
