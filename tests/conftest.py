"""Shared fixtures: the personas every view test uses, the service gate, and the test levels.

Every test gets exactly one level marker, derived from the fixtures it uses (see `level_of`):
`browser` (drives Chromium), `services` (needs real PostgreSQL / Redis / a Celery worker),
`db` (uses the test database) or `unit` (none of these: `pytest -m unit` runs in seconds).

A test that needs a real service (PostgreSQL, Redis, a Celery worker, Chromium) calls
`require_service`: on a laptop without it the test is skipped with the reason; with
ALLIANCE_REQUIRE_SERVICES=1 (set by .ci/run) the same situation fails the test.
"""

import os
import shutil
import socket
import threading
from urllib.parse import urlsplit

import pytest

from accounts.models import User
from alliance_site.celery import app as celery_app
from tests.builders import PASSWORD, make_case, make_clinic, make_user, own_address_client, verified_login

# Tests run tasks in-process unless a test starts a real worker; send_task still uses the broker.
celery_app.conf.task_always_eager = True

REQUIRE_SERVICES = os.environ.get("ALLIANCE_REQUIRE_SERVICES", "") in {"1", "true", "yes"}
CHROMIUM = os.environ.get("ALLIANCE_CHROMIUM", "/usr/bin/chromium")


LEVELS = ("unit", "db", "browser", "services")
BROWSER_FIXTURES = {"page", "browser", "chromium_path", "chromium_session_path"}
SERVICE_FIXTURES = {"postgres", "redis_url", "worker", "private_redis"}
DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def level_of(fixturenames, uses_django_db_marker):
    """A test's level from the fixtures it uses (its whole closure) and its django_db marker."""
    names = set(fixturenames)
    if names & BROWSER_FIXTURES:
        return "browser"
    if names & SERVICE_FIXTURES:
        return "services"
    if uses_django_db_marker or names & DB_FIXTURES:
        return "db"
    return "unit"


def pytest_collection_modifyitems(config, items):
    """Mark every test with its level; a hand-written level marker must agree with the derived one."""
    for item in items:
        level = level_of(item.fixturenames, item.get_closest_marker("django_db") is not None)
        written = {mark.name for mark in item.iter_markers() if mark.name in LEVELS}
        if written - {level}:
            raise pytest.UsageError(
                f"{item.nodeid} is marked {sorted(written)} but its fixtures make it {level!r}: drop the marker"
            )
        item.add_marker(getattr(pytest.mark, level))


def require_service(available, reason):
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason} (ALLIANCE_REQUIRE_SERVICES=1)")
    pytest.skip(f"service missing: {reason}")


def tcp_reachable(url, default_port):
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


_running = {"test": "(no test yet)"}
# Every connection object the tests saw in the main thread. After the first Playwright test, the
# later tests run in a context of their own (the sync API's greenlets), where Django's connection
# is another object than the one pytest-django set up with: its session is closed at the end too.
_main_connections = []


@pytest.fixture(autouse=True)
def _test_named_in_sessions(request):
    """Keeps the running test's id for ``_name_session``, and the connection object it uses."""
    from django.db import connections

    _running["test"] = request.node.nodeid
    wrapper = connections["default"]
    if not any(wrapper is seen for seen in _main_connections):
        _main_connections.append(wrapper)
    yield


def _name_session(sender, connection, **kwargs):
    """Names each PostgreSQL session this process opens after its thread and the test that was
    running, so that a session left on the test database is named by the warning below. (A
    session with no name comes from another process: a worker or a server the test started.)"""
    if connection.vendor != "postgresql":
        return
    thread = threading.current_thread().name[:24]
    test = _running["test"].rsplit("/", 1)[-1]
    name = f"{thread} {test[-(62 - len(thread)):]}"  # PostgreSQL keeps 63 bytes of a name
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('application_name', %s, false)", [name])


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and at its end no session left holding it: a connection that
    a test's thread or subprocess left open made DROP DATABASE fail ("is being accessed by other
    users"), so the test database stayed behind. Those sessions are ended, and named in a warning
    (their application and last statement), so that the test that leaked them can be found."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    connection_created.connect(_name_session, dispatch_uid="tests-name-session")
    yield
    connection_created.disconnect(dispatch_uid="tests-name-session")
    for wrapper in _main_connections:
        wrapper.close()
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, left(query, 120), pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        stray = cursor.fetchall()
    connection.close()
    if stray:
        import warnings

        warnings.warn(f"ended {len(stray)} session(s) left on the test database: {stray}", stacklevel=1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users need a password, not a slow one (the default hasher costs ~0.5 s per user)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def postgres(settings):
    """Skips (or fails under ALLIANCE_REQUIRE_SERVICES) unless the suite runs on PostgreSQL."""
    require_service(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql",
        "PostgreSQL (set DATABASE_URL=postgres://...)",
    )


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    require_service(bool(url) and tcp_reachable(url, 6379), "Redis (set REDIS_URL=redis://...)")
    return url


@pytest.fixture
def chromium_path():
    require_service(shutil.which(CHROMIUM) is not None, f"Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def clinic(db):
    return make_clinic("Northside Therapy")


@pytest.fixture
def therapist(clinic):
    return make_user(clinic, name="Tess Therapist")


@pytest.fixture
def colleague(clinic):
    """A second therapist of the same clinic: sees nothing of the first one's cases."""
    return make_user(clinic, name="Colin Colleague")


@pytest.fixture
def clinic_admin(clinic):
    return make_user(clinic, role=User.Role.CLINIC_ADMIN, name="Ada Admin")


@pytest.fixture
def outsider(db):
    """Staff of another clinic."""
    return make_user(make_clinic("Elsewhere Clinic"), name="Otto Outsider")


@pytest.fixture
def case(therapist):
    return make_case(therapist)


@pytest.fixture
def couple_case(therapist):
    return make_case(therapist, kind="couple", participants=["Robin Rivera", "Jordan Rivera"])


@pytest.fixture
def client():
    """pytest-django's client, with an address of its own (see `own_address_client`)."""
    return own_address_client()


@pytest.fixture
def login(client):
    """Signs a user in on `client` with the second factor verified (tests.builders.verified_login)."""

    def _login(user):
        return verified_login(client, user)

    return _login


__all__ = ["PASSWORD", "require_service"]
