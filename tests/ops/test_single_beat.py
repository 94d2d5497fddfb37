"""Two beats on one Redis: only the holder of the beat lock schedules; the other stands by and takes
over when the first dies (SIGKILL: after the lock's TTL). Real beat processes, a short schedule."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis

from alliance_site.celery import BeatLock
from tests.measures.test_worker import ROOT

# A beat whose schedule is one probe every 0.3 s, sent to a private queue nobody consumes, with its own
# name as the argument; the lock is private to the test and short (TTL 2 s, checked every 0.3 s).
BEAT = """
import sys
from alliance_site.celery import SingleBeatScheduler, app
name, queue, key, schedule = sys.argv[1:5]
SingleBeatScheduler.lock_key, SingleBeatScheduler.lock_ttl, SingleBeatScheduler.renew_every = key, 2.0, 0.3
app.conf.beat_schedule = {"probe": {"task": "tests.ops.beat_probe", "schedule": 0.3, "args": [name],
                                    "options": {"queue": queue}}}
app.Beat(schedule=schedule, loglevel="INFO", max_interval=0.3).run()
"""


@pytest.fixture
def private(redis_url):
    client = redis.Redis.from_url(redis_url)
    names = {"queue": f"test-beat-{uuid.uuid4().hex[:8]}", "key": f"test:beat-lock:{uuid.uuid4().hex[:8]}"}
    yield client, names
    client.delete(names["queue"], names["key"])


def start_beat(name, names, redis_url, tmp_path):
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    env = {**os.environ, "REDIS_URL": redis_url}
    env.pop("DATABASE_URL", None)  # the beat needs no database
    argv = [sys.executable, "-c", BEAT, name, names["queue"], names["key"], str(tmp_path / f"{name}-schedule")]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log


def senders(client, queue):
    """The beat name of every probe queued so far, oldest first (kombu's JSON envelope, protocol 2)."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    return [json.loads(base64.b64decode(message["body"]))[0][0] for message in messages]


def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(private, redis_url, tmp_path):
    client, names = private
    first, first_log = start_beat("first", names, redis_url, tmp_path)
    second = None
    try:
        assert wait_for(lambda: senders(client, names["queue"]).count("first") >= 2, 15), "the first beat never ran"
        second, second_log = start_beat("second", names, redis_url, tmp_path)
        assert wait_for(lambda: "stands by" in (tmp_path / "second.log").read_text(), 15), "second beat not up"
        time.sleep(1.5)  # several of the second beat's ticks
        before_kill = senders(client, names["queue"])
        assert set(before_kill) == {"first"}  # only the holder scheduled
        assert (tmp_path / "first-schedule.alive").exists() and (tmp_path / "second-schedule.alive").exists()

        first.send_signal(signal.SIGKILL)  # no clean release: the lock must lapse on its TTL
        first.wait(timeout=10)
        killed_at = time.monotonic()
        assert wait_for(lambda: "second" in senders(client, names["queue"]), 10), "the standby never took over"
        assert time.monotonic() - killed_at < 2.0 + 2.0  # within the TTL and a tick or two
        after = senders(client, names["queue"])[len(before_kill) :]
        assert set(after) <= {"first", "second"} and after[-1] == "second"
        assert "beat lock taken" in (tmp_path / "second.log").read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        first_log.close()
        if second is not None:
            second_log.close()


def test_the_lock_is_taken_once_renewed_only_by_its_holder_and_released_cleanly(private, redis_url):
    client, names = private
    one, two = BeatLock(redis_url, names["key"], ttl=5), BeatLock(redis_url, names["key"], ttl=5)
    assert one.acquire_or_renew() and not two.acquire_or_renew()
    assert one.acquire_or_renew()  # renewing
    assert two.holder() == one.token
    client.delete(names["key"])  # as if it lapsed while `one` was stopped
    assert two.acquire_or_renew()
    assert not one.acquire_or_renew()  # the old holder can neither renew...
    one.release()  # ...nor release the new holder's lock
    assert two.holder() == two.token
    two.release()
    assert client.get(names["key"]) is None


def test_a_beat_with_redis_unreachable_does_not_schedule():
    assert BeatLock("redis://127.0.0.1:1/0", "test:beat-lock:unreachable", ttl=5).acquire_or_renew() is False
