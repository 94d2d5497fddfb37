"""The Celery application. Tasks live in <app>/tasks.py; the schedule in settings.

Reliability (README: Reliability) is set here for every task at once, so that tasks.py stays a set of
short adapters: a transient database error is retried with back-off, mail tasks also retry a refused or
unreachable mail server, every failure is logged with the task's name and id (never its arguments),
and the beat scheduler holds a Redis lock so that a second beat only stands by.
"""

import contextlib
import logging
import os
import socket
import uuid
from pathlib import Path

from celery import Celery, Task, signals
from celery.beat import PersistentScheduler
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")

logger = logging.getLogger("alliance.tasks")

# PostgreSQL restarting, a failover, a dropped connection: worth another try in a few seconds.
DATABASE_ERRORS = (OperationalError, InterfaceError)
# smtplib.SMTPException is an OSError, as are refused and timed-out connections to the mail server.
MAIL_ERRORS = (OSError,)
# The tasks that send one email each inside their claim's transaction: a failed send undoes the claim,
# so retrying is safe (and send_due_reminders catches up after the last retry).
MAIL_TASKS = ("measures.tasks.send_invitation", "measures.tasks.send_flag_alert")


class ReliableTask(Task):
    """The base of every task of the app (task_cls): retry transient errors with exponential back-off.

    The delays are 2, 4, 8, 16, 32, then 60 s (each a random fraction of that, "full jitter", so that
    tasks failing together do not come back together), at most 8 retries: about four minutes of
    outage at worst. retry_backoff_max stays well below the broker's visibility timeout, since a
    retry waits in the worker unacknowledged until its countdown ends (settings: CELERY_*).
    """

    autoretry_for = DATABASE_ERRORS
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 8

    def retry(self, *args, exc=None, **kwargs):
        # In-process (the embedded default, tests) there is no broker to hold a retry's countdown, and
        # retrying on the spot would keep a web request waiting: the error propagates, as it did.
        if self.request.is_eager and exc is not None:
            raise exc
        return super().retry(*args, exc=exc, **kwargs)


app = Celery("alliance", task_cls=ReliableTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_annotations = {name: {"autoretry_for": DATABASE_ERRORS + MAIL_ERRORS} for name in MAIL_TASKS}
app.autodiscover_tasks()


@signals.task_failure.connect
def log_task_failure(sender=None, task_id=None, exception=None, **_):
    """The failure record: one line per task that failed for good (after its retries), by name and id.

    The arguments are left out on purpose: they are ids today, but a task's arguments may one day
    carry personal data, and logs are kept longer and more widely than the database.
    """
    name = getattr(sender, "name", sender)
    retries = getattr(getattr(sender, "request", None), "retries", 0)
    logger.error("task failed: %s[%s] %s after %s retries", name, task_id, type(exception).__name__, retries)


@signals.task_retry.connect
def log_task_retry(sender=None, request=None, reason=None, **_):
    exc = getattr(reason, "exc", reason)
    logger.warning("task retry: %s[%s] %s", sender.name, getattr(request, "id", None), type(exc).__name__)


class BeatLock:
    """A Redis lock with a time to live: held by one beat, renewed on its every tick.

    SET NX PX takes it; renewing and releasing compare the holder's token first (one Lua script each),
    so a beat that lost the lock (stopped for longer than the TTL) can never renew or release the
    lock another beat took meanwhile.
    """

    RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
    RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def __init__(self, url, key, ttl):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key, self.ttl_ms = key, int(ttl * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire_or_renew(self):
        """True while this process holds the lock; False if another does or Redis is unreachable."""
        try:
            if self.client.eval(self.RENEW, 1, self.key, self.token, self.ttl_ms):
                return True
            return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        except Exception as exc:  # redis.RedisError, OSError: no lock, so no scheduling (fail safe)
            logger.warning("beat lock: Redis unreachable (%s); not scheduling", type(exc).__name__)
            return False

    def holder(self):
        try:
            value = self.client.get(self.key)
        except Exception:
            return None
        return value.decode() if value else None

    def release(self):
        with contextlib.suppress(Exception):  # unreleased, it lapses after its TTL
            self.client.eval(self.RELEASE, 1, self.key, self.token)


class SingleBeatScheduler(PersistentScheduler):
    """The beat scheduler of the app (beat_scheduler): only the holder of the beat lock sends tasks.

    A second beat (a second host, a container started twice) stands by, checking every
    `renew_every` seconds, and takes over within `lock_ttl` seconds of the first one's death; a
    beat stopped cleanly releases the lock at once. Each tick also touches `<schedule>.alive`,
    the file the container's healthcheck looks at.
    """

    lock_key = "alliance:beat-lock"
    lock_ttl = 60.0
    renew_every = 20.0  # well under the TTL: a holder renews two or three times before it could lapse

    def __init__(self, *args, **kwargs):
        self.lock = None
        self.is_holder = False
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        super().setup_schedule()
        url = self.app.conf.broker_url or ""
        if url.startswith(("redis://", "rediss://")):
            self.lock = BeatLock(url, self.lock_key, self.lock_ttl)
        else:  # the embedded default (memory://): one process, nothing to share a lock with
            logger.warning("beat lock: broker is not Redis; running without the single-beat lock")

    def tick(self, *args, **kwargs):
        self._touch_alive()
        if self.lock is not None:
            holds = self.lock.acquire_or_renew()
            if holds != self.is_holder:
                if holds:
                    logger.warning("beat lock taken: this beat (%s) schedules the periodic jobs", self.lock.token)
                else:
                    logger.warning("beat lock lost: this beat (%s) stops scheduling", self.lock.token)
            elif not holds and not getattr(self, "_told_standby", False):
                logger.warning("beat lock held by %s: this beat stands by", self.lock.holder())
                self._told_standby = True
            self.is_holder = holds
            if not holds:
                return self.renew_every
        return min(super().tick(*args, **kwargs), self.renew_every)

    def close(self):
        super().close()
        if self.lock is not None and self.is_holder:
            self.lock.release()

    def _touch_alive(self):
        if self.schedule_filename:
            with contextlib.suppress(OSError):
                Path(f"{self.schedule_filename}.alive").touch()


# The worker and beat write through Celery's own log handlers: redact survey tokens there too.
from celery.signals import after_setup_logger, after_setup_task_logger  # noqa: E402

from alliance_site.logging import install_redaction_in_celery  # noqa: E402

after_setup_logger.connect(install_redaction_in_celery, weak=False)
after_setup_task_logger.connect(install_redaction_in_celery, weak=False)
