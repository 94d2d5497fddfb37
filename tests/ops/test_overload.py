"""Overload is refused quickly (alliance_site.overload): a process busy with its limit of requests
answers the next one 503 "please try again" after a short wait, and serves it when a slot frees."""

import threading
import time

from alliance_site.overload import AdmissionLimit


def call(app):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({}, start_response))
    return seen["status"], seen["headers"], body


def test_a_request_beyond_the_limit_is_refused_with_503_after_the_short_wait():
    release, inside = threading.Event(), threading.Event()

    def slow_app(environ, start_response):
        inside.set()
        release.wait(5)
        start_response("200 OK", [])
        return [b"ok"]

    app = AdmissionLimit(slow_app, limit=1, wait=0.1)
    busy = threading.Thread(target=call, args=(app,))
    busy.start()
    assert inside.wait(5)
    started = time.monotonic()
    status, headers, body = call(app)
    waited = time.monotonic() - started
    release.set()
    busy.join(5)
    assert status.startswith("503") and headers["Retry-After"] == "5" and b"try again" in body
    assert 0.1 <= waited < 1
    assert app.refused == 1


def test_within_the_limit_requests_are_served():
    def app_ok(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    app = AdmissionLimit(app_ok, limit=1, wait=0.1)
    assert [call(app)[0] for _ in range(3)] == ["200 OK"] * 3
    assert app.refused == 0
