"""Request log lines carry the signed-in user's id, with the logging configured as Django does it."""

import logging

from django.urls import reverse

from tests.test_logging import stderr_logs  # noqa: F401  (the fixture: Django's logging into a buffer)


def lines_with(buffer, text):
    return [line for line in buffer.getvalue().splitlines() if text in line]


def test_a_refused_page_is_logged_with_the_users_id(login, colleague, case, stderr_logs):  # noqa: F811
    login(colleague).get(reverse("dashboard:case", args=[case.pk]))  # 404: django.request logs it
    assert lines_with(stderr_logs, f"Not Found: /cases/{case.pk}/") == [
        f"Not Found: /cases/{case.pk}/ user={colleague.pk}"
    ]


def test_the_servers_request_line_carries_the_id_of_the_request_it_follows(login, therapist, case, stderr_logs):  # noqa: F811
    login(therapist).get(reverse("dashboard:case", args=[case.pk]))
    # runserver writes its line after the response, in the same thread, as here.
    logging.getLogger("django.server").info('"GET /cases/%s/ HTTP/1.1" 200 512', case.pk)
    assert lines_with(stderr_logs, "HTTP/1.1") == [f'"GET /cases/{case.pk}/ HTTP/1.1" 200 512 user={therapist.pk}']


def test_a_request_without_a_signed_in_user_is_logged_with_none(db, client, stderr_logs):  # noqa: F811
    client.get(reverse("surveys:survey", args=["no-such-token-at-all"]))  # 404, never looks up a user
    logging.getLogger("django.server").info('"GET /s/x/ HTTP/1.1" 404 100')
    assert lines_with(stderr_logs, "Not Found: /s/") == ["Not Found: /s/[redacted]/ user=-"]
    assert lines_with(stderr_logs, "HTTP/1.1") == ['"GET /s/x/ HTTP/1.1" 404 100 user=-']


def test_other_loggers_are_left_alone(login, therapist, case, stderr_logs):  # noqa: F811
    login(therapist).get(reverse("dashboard:case", args=[case.pk]))
    logging.getLogger("measures.tasks").warning("a task line")
    assert lines_with(stderr_logs, "a task line") == ["a task line"]
