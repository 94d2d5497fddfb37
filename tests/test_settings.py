"""The environment switches between the embedded default and production, safely."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from alliance_site.settings import env_bool, parse_database_url, parse_email_url

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "ALLIANCE_ENV": "production",
    "SECRET_KEY": "k3Y-for-tests-only-5b1f0e9a7c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f",
    "ALLOWED_HOSTS": "alliance.example.org",
    "DATABASE_URL": "postgres://alliance:secret@db.internal:5432/alliance",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp://mailer:pw@smtp.example.org:587",
}


def run_manage(*args, env):
    inherited = {"DATABASE_URL", "REDIS_URL", "DEBUG", "ALLIANCE_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_passes_the_deployment_check_with_no_warning():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_debug():
    result = run_manage("check", env={**PRODUCTION_ENV, "DEBUG": "1"})
    assert result.returncode != 0
    assert "DEBUG cannot be on" in result.stderr


def test_the_embedded_default_needs_no_variable():
    result = run_manage("check", env={})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "postgres://u:p%40ss@h:5433/db?sslmode=require",
            {"NAME": "db", "USER": "u", "PASSWORD": "p@ss", "HOST": "h", "PORT": "5433"},
        ),
        ("postgresql://h/db", {"NAME": "db", "HOST": "h", "PORT": ""}),
        # A Unix socket directory, percent-encoded in the host part: decoded, case kept.
        (
            "postgres://alliance@%2Fvar%2Frun%2Fpostgresql/alliance",
            {"NAME": "alliance", "USER": "alliance", "HOST": "/var/run/postgresql", "PORT": "", "OPTIONS": {}},
        ),
        ("postgres://u@%2Ftmp%2FPgSocket:5433/db", {"HOST": "/tmp/PgSocket", "PORT": "5433"}),
        # ... or as libpq's host (and port) query options, which then are not passed on as OPTIONS.
        (
            "postgres:///alliance?host=/run/postgresql&port=5434&sslmode=disable",
            {"NAME": "alliance", "HOST": "/run/postgresql", "PORT": "5434", "OPTIONS": {"sslmode": "disable"}},
        ),
        ("postgres://db.internal:6543/db", {"HOST": "db.internal", "PORT": "6543"}),
        ("postgres://u@[::1]:5432/db", {"HOST": "::1", "PORT": "5432"}),
        # Every reserved character of a password, percent-encoded; '+' is a plus, not a space.
        (
            "postgres://us%40er:p%40%3A%2F%3F%23%5B%5D%25%20+x@h/db",
            {"USER": "us@er", "PASSWORD": "p@:/?#[]% +x", "HOST": "h"},
        ),
        (
            "postgres://h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5&sslmode=require",
            {"OPTIONS": {"sslmode": "require", "sslrootcert": "/etc/ca.pem", "connect_timeout": "5"}},
        ),
    ],
)
def test_database_url_is_parsed(url, expected):
    parsed = parse_database_url(url)
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert {key: parsed[key] for key in expected} == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "postgres://h/", "nonsense", "postgres://h:99999/db", "postgres://h:x/db"])
def test_malformed_database_url_is_refused(url):
    with pytest.raises(ImproperlyConfigured):
        parse_database_url(url)


def test_email_url_selects_smtp_with_tls():
    parsed = parse_email_url("smtp://user:pw@mail.example.org:2525")
    assert parsed["EMAIL_HOST"] == "mail.example.org" and parsed["EMAIL_PORT"] == 2525 and parsed["EMAIL_USE_TLS"]


def test_malformed_boolean_is_refused(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG")


def test_migrations_are_complete():
    result = run_manage("makemigrations", "--check", "--dry-run", env={})
    assert result.returncode == 0, result.stdout + result.stderr
