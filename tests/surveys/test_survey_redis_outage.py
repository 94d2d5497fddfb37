"""An answer is stored whatever Redis does: when the cache is down or hung, the survey's rate
limiter is skipped (logged and counted) and the submission goes on to the database.

Each test runs a private Redis of its own on a free port, started and stopped here: the shared
Redis on 6379 (the broker, and the cache of the other tests) is never stopped or hung.
"""

import logging
import secrets
import shutil
import signal
import socket
import subprocess
import time

import pytest
import redis
from django.test import Client
from django.urls import reverse

from measures.models import Response
from surveys import ratelimit
from tests.builders import RATING_CODES, make_invitation, make_session
from tests.conftest import require_service

pytestmark = [pytest.mark.services, pytest.mark.django_db]

ANSWERS = {**dict.fromkeys(RATING_CODES, "7"), "rupture": "no", "lang": "en"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_redis(settings):
    """A throwaway redis-server as the default cache (with the production socket timeouts)."""
    binary = shutil.which("redis-server")
    require_service(binary is not None, "redis-server on PATH (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        direct = redis.Redis.from_url(url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                direct.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "OPTIONS": settings.REDIS_CACHE_OPTIONS,
            }
        }
        process.direct = direct
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def new_link(case):
    invitation, token = make_invitation(make_session(case), case.participants.get())
    return invitation, token, reverse("surveys:survey", args=[token])


def submit(url):
    client = Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}")
    started = time.monotonic()
    response = client.post(url, ANSWERS)
    return response, time.monotonic() - started


def assert_stored_with_a_thank_you(response, invitation):
    assert response.status_code == 302 and response["Location"] == reverse("surveys:survey_done")
    assert Response.objects.filter(invitation=invitation).count() == 1
    invitation.refresh_from_db()
    assert invitation.completed_at is not None


def test_with_redis_up_the_limiter_counts_in_it(case, private_redis):
    invitation, _, url = new_link(case)
    response, _ = submit(url)
    assert_stored_with_a_thank_you(response, invitation)
    assert len(private_redis.direct.keys("*ratelimit:*")) == 2  # the link's and the address's counter


def test_an_answer_is_stored_when_the_cache_redis_is_down(case, private_redis, caplog):
    warm_invitation, _, warm_url = new_link(case)
    assert_stored_with_a_thank_you(submit(warm_url)[0], warm_invitation)  # the pool holds a live connection
    private_redis.terminate()
    private_redis.wait(timeout=10)
    invitation, token, url = new_link(case)
    skipped_before = ratelimit.skipped_checks
    with caplog.at_level(logging.WARNING, logger="surveys.ratelimit"):
        response, seconds = submit(url)
    assert_stored_with_a_thank_you(response, invitation)
    assert seconds < 5
    assert ratelimit.skipped_checks == skipped_before + 1
    warnings = [r for r in caplog.records if r.name == "surveys.ratelimit"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "rate limit skipped" in warnings[0].getMessage()
    assert token not in caplog.text


def test_an_answer_is_stored_within_seconds_when_the_cache_redis_hangs(case, private_redis, caplog):
    warm_invitation, _, warm_url = new_link(case)
    assert_stored_with_a_thank_you(submit(warm_url)[0], warm_invitation)
    invitation, token, url = new_link(case)
    skipped_before = ratelimit.skipped_checks
    private_redis.send_signal(signal.SIGSTOP)  # the fixture sends SIGCONT before stopping it
    try:
        with caplog.at_level(logging.WARNING, logger="surveys.ratelimit"):
            response, seconds = submit(url)
    finally:
        private_redis.send_signal(signal.SIGCONT)
    assert_stored_with_a_thank_you(response, invitation)
    assert seconds < 3  # one socket timeout (0.5 s), not one per cache call
    assert ratelimit.skipped_checks == skipped_before + 1
    assert "rate limit skipped: cache unavailable (TimeoutError)" in caplog.text
    assert token not in caplog.text


def test_with_redis_up_a_submission_counts_both_limits_in_one_round_trip(case, private_redis, monkeypatch):
    warm_invitation, _, warm_url = new_link(case)
    assert_stored_with_a_thank_you(submit(warm_url)[0], warm_invitation)  # the pool holds a live connection
    round_trips = []
    send = redis.connection.Connection.send_packed_command
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command",
                        lambda self, *args, **kwargs: round_trips.append(1) or send(self, *args, **kwargs))
    address = f"2001:db8::{secrets.token_hex(4)}"
    client = Client(REMOTE_ADDR=address)
    for _ in range(2):
        invitation, _, url = new_link(case)
        round_trips.clear()
        assert_stored_with_a_thank_you(client.post(url, ANSWERS), invitation)
        assert len(round_trips) == 1  # the link's and the address's counter, in one MULTI/EXEC
    (counter,) = private_redis.direct.keys(f"*ratelimit:address:{address}:*")
    assert int(private_redis.direct.get(counter)) == 2  # this address, two submissions
    counters = private_redis.direct.keys("*ratelimit:*")
    assert len(counters) == 5  # the warm-up's link and address, these two links, this address
    assert all(0 < private_redis.direct.ttl(key) <= 605 for key in counters)  # each expires with its window


def test_with_redis_up_the_limits_still_refuse(case, private_redis, settings):
    settings.SURVEY_RATE_LIMIT = {"per_link": 2, "per_address": 3, "unknown_per_address": 1, "window_seconds": 600}
    _, _, url = new_link(case)
    codes = [Client(REMOTE_ADDR=f"2001:db8::{secrets.token_hex(4)}").post(url, {"lang": "en"}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]  # per link
    address = f"2001:db8::{secrets.token_hex(4)}"
    codes = [Client(REMOTE_ADDR=address).post(new_link(case)[2], {"lang": "en"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # per address, each on a link of its own
    unknown = reverse("surveys:survey", args=[secrets.token_urlsafe(24)])
    assert [Client(REMOTE_ADDR=address).get(unknown).status_code for _ in range(2)] == [404, 429]
