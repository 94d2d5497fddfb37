"""The record of every export: who took what out of the clinic, and when."""

from django.utils import timezone

from ..models import ExportRecord


def do_record_export(scope, kind, *, acting_user, now=None):
    """Record an export before any of its data leaves. The row count follows (do_finish_export)
    once the whole file is produced; a download broken off keeps its record without one."""
    return ExportRecord.objects.create(
        clinic=scope.clinic,
        user=acting_user,
        kind=kind,
        case=scope.case,
        date_from=scope.date_from,
        date_to=scope.date_to,
        created_at=now or timezone.now(),
    )


def do_finish_export(record, rows, *, now=None):
    """Note how many rows (or FHIR resources) the export held. One UPDATE."""
    record.rows = rows
    record.completed_at = now or timezone.now()
    ExportRecord.objects.filter(pk=record.pk).update(rows=rows, completed_at=record.completed_at)
