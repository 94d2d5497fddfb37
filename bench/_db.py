"""The benchmarks' own PostgreSQL database: created afresh on the server a URL names, dropped at the end.

libpq reads the URL itself (user, percent-encoded password, a Unix socket host, sslmode...),
so every form DATABASE_URL accepts works here too.
"""

import os
from contextlib import contextmanager
from urllib.parse import quote, unquote, urlsplit, urlunsplit


def _run_on_server(admin_url, statement, name):
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True  # CREATE / DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL(statement).format(sql.Identifier(name)))
    finally:
        connection.close()


@contextmanager
def scratch_database(url, name=None, *, keep=False):
    """Drop and re-create database `name` (by default the one `url` names) on `url`'s server and
    yield a URL for it; drop it again on the way out unless `keep`. Connections to it must be
    closed by then (it is dropped WITH (FORCE) anyway)."""
    parts = urlsplit(url)
    name = name or unquote(parts.path.lstrip("/"))
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    _run_on_server(admin_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
    _run_on_server(admin_url, "CREATE DATABASE {}", name)
    try:
        yield urlunsplit(parts._replace(path="/" + quote(name)))
    finally:
        if not keep:
            _run_on_server(admin_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def bench_clinic(url):
    """Django set up on the scratch database at `url` (production-like logging, tasks in-process),
    migrated, the bundled instruments loaded; returns a new clinic to seed."""
    os.environ.update({"DATABASE_URL": url, "DEBUG": "0", "ALLIANCE_ENV": "test", "LOG_LEVEL": "WARNING"})
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Clinic
    from measures.actions.instruments import do_load_bundled_instruments

    call_command("migrate", verbosity=0)
    do_load_bundled_instruments()
    return Clinic.objects.create(name="Bench clinic", slug="bench")
