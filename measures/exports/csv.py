"""The clinic's records as CSV tables: item-level answers, subscale scores, flags, flag actions.

Each builder returns (header, rows): rows is a lazy iterator over one joined query, so the view
can stream a clinic of any size. Clients appear by id and the clinic's own reference
(client_ref), never by name or contact details.
"""

import datetime
import json

from ..models import Answer, Response, Signal, SignalAction

CHUNK = 2000
# (column, field path) per table; the order is the file's.
RESPONSE_FIELDS = (
    ("case_id", "response__session__case_id"),
    ("case_reference", "response__session__case__reference"),
    ("client_id", "response__participant_id"),
    ("client_ref", "response__participant__client_ref"),
    ("session_id", "response__session_id"),
    ("session_start", "response__session__scheduled_start"),
    ("response_id", "response_id"),
    ("submitted_at", "response__submitted_at"),
    ("instrument", "response__instrument__code"),
    ("instrument_version", "response__instrument__version"),
    ("item", "item__code"),
    ("subscale", "item__subscale"),
    ("value", "value"),
    ("text", "text"),
)
SCORE_FIELDS = (
    ("case_id", "session__case_id"),
    ("case_reference", "session__case__reference"),
    ("client_id", "participant_id"),
    ("client_ref", "participant__client_ref"),
    ("session_id", "session_id"),
    ("session_start", "session__scheduled_start"),
    ("response_id", "pk"),
    ("submitted_at", "submitted_at"),
    ("goals", "goals"),
    ("tasks", "tasks"),
    ("bond", "bond"),
    ("total", "total"),
    ("shared", "shared"),
    ("rupture", "rupture"),
    ("is_imported", "is_imported"),
)
FLAG_FIELDS = (
    ("flag_id", "pk"),
    ("case_id", "case_id"),
    ("case_reference", "case__reference"),
    ("client_id", "participant_id"),
    ("client_ref", "participant__client_ref"),
    ("session_start", "session__scheduled_start"),
    ("kind", "kind"),
    ("severity", "severity"),
    ("subscale", "subscale"),
    ("status", "status"),
    ("opened_at", "opened_at"),
    ("closed_at", "closed_at"),
    ("message", "message"),
    ("evidence", "evidence"),
)
REPAIR_FIELDS = (
    ("flag_id", "signal_id"),
    ("case_id", "signal__case_id"),
    ("case_reference", "signal__case__reference"),
    ("client_id", "signal__participant_id"),
    ("kind", "signal__kind"),
    ("action", "action"),
    ("severity", "severity"),
    ("repair", "repair"),
    ("note", "note"),
    ("actor", "actor__full_name"),
    ("at", "created_at"),
)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def _table(queryset, fields, *, order_by, label=None):
    """(header, rows) for `fields` of `queryset`; `label` = (after column, its labels) adds a column
    of plain words for the code in that column."""
    header = [name for name, _path in fields]
    rows = queryset.order_by(*order_by).values_list(*(path for _name, path in fields)).iterator(chunk_size=CHUNK)
    cells = (tuple(_cell(value) for value in row) for row in rows)
    if label is None:
        return header, cells
    column, labels = label
    at = header.index(column) + 1
    header.insert(at, f"{column}_label")
    return header, ((*row[:at], labels.get(row[at - 1], ""), *row[at:]) for row in cells)


def response_table(scope):
    """One row per stored answer (imported checks have none), in case, session, item order."""
    return _table(
        Answer.objects.filter(scope.answers_q()),
        RESPONSE_FIELDS,
        order_by=("response__session__case_id", "response__session__scheduled_start", "response_id", "item__position"),
    )


def score_table(scope):
    """One row per answered check: the stored subscale scores on the 0–10 scale."""
    return _table(
        Response.objects.filter(scope.sessions_q("session")),
        SCORE_FIELDS,
        order_by=("session__case_id", "session__scheduled_start", "participant_id"),
    )


def flag_table(scope):
    """One row per flag, open or closed (the date range is when it opened)."""
    return _table(
        Signal.objects.filter(scope.flags_q()),
        FLAG_FIELDS,
        order_by=("case_id", "opened_at", "pk"),
        label=("kind", dict(Signal.Kind.choices)),
    )


def repair_table(scope):
    """Every flag's history: opened, escalated, acknowledged, resolved with its repair and note.
    An empty actor is the system (the engine opened, escalated or cleared the flag)."""
    return _table(
        SignalAction.objects.filter(scope.flags_q("signal__")),
        REPAIR_FIELDS,
        order_by=("signal__case_id", "signal_id", "created_at", "pk"),
        label=("repair", dict(SignalAction.Repair.choices)),
    )
