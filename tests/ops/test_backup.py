"""The README's backup and restore, run for real: pg_dump -Fc of a database with submissions and flags,
pg_restore into a new empty database, and every response, answer and flag is found there, unchanged."""

import os
import shutil
import subprocess
import uuid

import psycopg2
import pytest
from django.db import connection

from measures.evaluation import do_evaluate_case
from measures.models import Answer, CaseEvaluation, Response, Signal
from tests.builders import make_case, make_clinic, make_response, make_session, make_user
from tests.conftest import require_service

# Per table: the key columns whose values must come back exactly, in id order.
CHECKED = {
    Response: "id, invitation_id, session_id, participant_id, instrument_id, submitted_at",
    Answer: "id, response_id, item_id, value, text",
    Signal: "id, case_id, participant_id, kind, severity, status, opened_at",
    CaseEvaluation: "id, case_id, risk_score, evaluated_at",
}


def fingerprint(cursor):
    """Row count and an md5 over the key columns of every checked table, plus the applied migrations."""
    found = {}
    for model, columns in CHECKED.items():
        table = model._meta.db_table
        rows = f"coalesce(string_agg(row({columns})::text, '|' ORDER BY id), '')"
        cursor.execute(f"SELECT count(*), md5({rows}) FROM {table}")
        found[table] = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM django_migrations")
    found["django_migrations"] = cursor.fetchone()
    return found


def client_env(settings_dict):
    env = {**os.environ}
    if settings_dict["PASSWORD"]:
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    return env


def connection_args(settings_dict):
    args = ["-h", settings_dict["HOST"] or "127.0.0.1", "-p", str(settings_dict["PORT"] or 5432)]
    return [*args, "-U", settings_dict["USER"] or "postgres"]


@pytest.fixture
def restored_database(postgres, transactional_db):
    """The name of a new, empty database on the same server; dropped afterwards."""
    tools = shutil.which("pg_dump") and shutil.which("pg_restore")
    require_service(tools, "pg_dump and pg_restore (postgresql-client)")
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:6]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def submissions_and_flags():
    """Three cases: one steady, two whose alliance falls (the engine flags them)."""
    therapist = make_user(make_clinic("Backup Clinic"), name="Bea Backup")
    for falls in (False, True, True):
        case = make_case(therapist)
        participant = case.participants.get()
        scores = [9, 9, 9, 9, 3, 2] if falls else [8, 8, 9, 8, 8, 9]
        for days_ago, value in zip(range(42, 0, -7), scores, strict=True):
            make_response(make_session(case, days_ago=days_ago), participant, goals=value, tasks=value, bond=value)
        do_evaluate_case(case.pk, notify=False)


def test_a_dump_restored_into_an_empty_database_has_every_response_and_flag(restored_database, tmp_path):
    submissions_and_flags()
    assert Response.objects.count() == 18 and Signal.objects.exists()  # there is something to lose
    source = connection.settings_dict
    dump = tmp_path / "alliance.dump"

    subprocess.run(
        ["pg_dump", "-Fc", *connection_args(source), "-d", source["NAME"], "-f", str(dump)],
        env=client_env(source),
        check=True,
        capture_output=True,
        timeout=120,
    )
    restore = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", *connection_args(source), "-d", restored_database, str(dump)],
        env=client_env(source),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restore.returncode == 0, restore.stderr

    with connection.cursor() as cursor:
        expected = fingerprint(cursor)
    restored = psycopg2.connect(
        dbname=restored_database,
        host=source["HOST"] or "127.0.0.1",
        port=source["PORT"] or 5432,
        user=source["USER"] or "postgres",
        password=source["PASSWORD"] or None,
    )
    try:
        with restored.cursor() as cursor:
            assert fingerprint(cursor) == expected
    finally:
        restored.close()
    assert expected[Response._meta.db_table][0] == 18
    assert expected[Answer._meta.db_table][0] >= 18 * 6
