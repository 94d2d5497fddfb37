"""Access log entries are never changed or removed: not through the ORM, not by raw SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from audit.actions import do_record_access
from audit.models import AccessEvent, AppendOnlyError


@pytest.fixture
def event(therapist, case):
    return do_record_access(
        user=therapist,
        route="dashboard:case",
        key="case_id",
        value=case.pk,
        action="read",
        outcome="allowed",
        status_code=200,
        address="192.0.2.1",
    )


def test_the_entry_finds_its_case_and_clinic_in_one_insert(therapist, case, django_assert_num_queries):
    with django_assert_num_queries(1):  # INSERT ... (SELECT the case), (SELECT its clinic)
        event = do_record_access(
            user=therapist,
            route="dashboard:record_session",
            key="session_id",
            value=0,
            action="change",
            outcome="denied",
            status_code=404,
            address="192.0.2.1",
        )
    event = AccessEvent.objects.get(pk=event.pk)
    assert (event.case_id, event.clinic_id) == (None, therapist.clinic_id)


def test_saving_an_entry_again_is_refused(event):
    event.outcome = "denied"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AccessEvent.objects.get().outcome == "allowed"


def test_deleting_an_entry_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.all().update(outcome="denied")
    assert AccessEvent.objects.filter(outcome="allowed").count() == 1


def raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: the test goes on
        cursor.execute(sql, params)


def test_a_raw_update_is_refused_by_the_database(event):
    # A trigger on both PostgreSQL and SQLite (migration audit 0001).
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE audit_accessevent SET outcome = 'denied' WHERE id = %s", [event.pk])
    assert AccessEvent.objects.get().outcome == "allowed"


def test_a_raw_delete_is_refused_by_postgresql(postgres, event):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM audit_accessevent WHERE id = %s", [event.pk])
    assert AccessEvent.objects.count() == 1
