"""Importing a clinic's cases, clients and (optionally) past sessions with their scores from CSV.

check_case_import parses and validates both files completely and returns the plan of what
would be created; do_import_cases re-checks and writes it in one transaction (nothing is
written when any line is bad). Both are idempotent: a row that already exists — a case by its
reference in the clinic, a client by (case reference, client_id), a session by its case and
day, a check by its session and client — is left alone, so a re-import creates nothing twice.

Cases file, one row per client (header names in any order, case-insensitive; extra columns are
ignored): case_reference, kind (individual / couple / family), therapist_email (empty: nobody
yet), client_id (the clinic's own id for the client), display_name, email (optional),
language (en / es; empty: en), phone (optional), opened_on (optional, YYYY-MM-DD; empty: the
first imported session's date, or today).

History file: the replay format (measures.engine.replay.read_replay parses and validates it),
case_id being the case_reference and client_id the cases file's client_id.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from sessions_app.actions import do_create_case, record_case_event
from sessions_app.models import Case, CaseEvent, Participant, TherapySession

from ..engine import EngineSettings
from ..engine.replay import ReplayError, read_replay
from ..models import Instrument, Response
from ..queue import queue_on_commit

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 20_000
CASE_COLUMNS = ("case_reference", "kind", "therapist_email", "client_id", "display_name")
OPTIONAL_CASE_COLUMNS = ("email", "language", "phone", "opened_on")
PHONE = re.compile(r"\+?[0-9 ().-]{3,32}", re.ASCII)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Imported sessions have a day, not a time: they are placed at noon, clinic time.
IMPORTED_SESSION_TIME = time(12, 0)
SHOWN = 40


class ImportRefused(ValueError):
    """The files cannot be imported; `errors` lists every reason found ("line 7: ...")."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class PlannedCase:
    reference: str
    kind: str
    therapist: User | None
    opened_on: date | None
    line: int
    existing: Case | None = None
    # client_id -> participant fields (new clients only)
    new_participants: dict = field(default_factory=dict)
    # client_id -> existing Participant
    known_participants: dict = field(default_factory=dict)
    # session day -> {"attended": bool, "checks": {client_id: Observation}}
    sessions: dict = field(default_factory=dict)


@dataclass
class ImportPlan:
    cases: list
    counts: dict

    def preview_rows(self, limit=10):
        """The first new clients, for the preview page: (case reference, kind, name, therapist)."""
        rows = []
        for planned in self.cases:
            for data in planned.new_participants.values():
                if len(rows) == limit:
                    return rows
                therapist = planned.existing.therapist if planned.existing else planned.therapist
                rows.append((planned.reference, Case.Kind(planned.kind).label, data["display_name"], therapist))
        return rows


def _shown(text):
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "…")


def decode_upload(content, label):
    """The text of an uploaded file, or ImportRefused with a clear reason (size, encoding, lines)."""
    if len(content) > MAX_BYTES:
        raise ImportRefused([f"{label}: the file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it in parts."])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(
            [f"{label}: the file is not UTF-8 text; save it from your spreadsheet as “CSV UTF-8”."]
        ) from None
    if "\x00" in text:
        raise ImportRefused([f"{label}: this is not a CSV text file."])
    if text.count("\n") + (not text.endswith("\n")) > MAX_LINES:
        raise ImportRefused([f"{label}: the file has more than {MAX_LINES:,} lines; split it in parts."])
    return text


def _case_rows(text):
    """(line, {column: value}) for each non-empty record of the cases file; ImportRefused if malformed."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows, header = [], None
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":
                raise ImportRefused([f"line {start}: a quoted field is never closed"]) from None
            raise ImportRefused([f"line {start}: malformed CSV ({exc})"]) from None
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [name.strip().lower() for name in record]
            missing = [column for column in CASE_COLUMNS if column not in header]
            if missing:
                raise ImportRefused([f"line {start}: missing column(s): {', '.join(missing)}"])
            repeated = sorted({name for name in header if name and header.count(name) > 1})
            if repeated:
                raise ImportRefused([f"line {start}: duplicate column(s): {', '.join(repeated)}"])
            continue
        if len(record) < len(header):
            raise ImportRefused([f"line {start}: expected {len(header)} fields, found {len(record)}"])
        rows.append((start, {name: record[i].strip() for i, name in enumerate(header) if name}))
    if header is None:
        raise ImportRefused(["line 1: the file is empty; expected a header row"])
    return rows


def _check_row(line, row, therapists, errors):
    """Field-level checks of one cases-file row; appends "line N: reason" to errors."""
    before = len(errors)
    if not row["case_reference"] or len(row["case_reference"]) > 40:
        errors.append(f"line {line}: case_reference must be 1 to 40 characters")
    if row["kind"].lower() not in Case.Kind.values:
        errors.append(f"line {line}: kind {_shown(row['kind'])} is not individual, couple or family")
    email = row["therapist_email"].lower()
    if email and email not in therapists:
        errors.append(f"line {line}: therapist_email {_shown(email)} is not an active therapist of this clinic")
    if not row["client_id"] or len(row["client_id"]) > 64:
        errors.append(f"line {line}: client_id must be 1 to 64 characters")
    if not row["display_name"] or len(row["display_name"]) > 80:
        errors.append(f"line {line}: display_name must be 1 to 80 characters")
    if row.get("email"):
        try:
            validate_email(row["email"])
        except ValidationError:
            errors.append(f"line {line}: email {_shown(row['email'])} is not an email address")
    language = (row.get("language") or "en").lower()
    if language not in Participant.Language.values:
        errors.append(
            f"line {line}: language {_shown(row['language'])} is not one of {', '.join(Participant.Language.values)}"
        )
    if row.get("phone") and not PHONE.fullmatch(row["phone"]):
        errors.append(f"line {line}: phone {_shown(row['phone'])} is not a phone number")
    opened_on = row.get("opened_on") or ""
    if opened_on:
        try:
            if not ISO_DATE.fullmatch(opened_on):
                raise ValueError
            date.fromisoformat(opened_on)
        except ValueError:
            errors.append(f"line {line}: opened_on is not a date (YYYY-MM-DD): {_shown(opened_on)}")
    return len(errors) == before


def check_case_import(clinic, cases_text, history_text=""):
    """Validate the files for `clinic` and return the ImportPlan of what is new.

    Raises ImportRefused listing every line-numbered reason (the history file's reader stops at
    its first bad line). Reads the clinic's existing cases, clients, sessions and checks to
    leave alone what exists already.
    """
    errors = []
    therapists = {
        user.email.lower(): user
        for user in User.objects.filter(clinic=clinic, role=User.Role.THERAPIST, is_active=True)
    }
    existing = {
        case.reference.lower(): case
        for case in Case.objects.filter(clinic=clinic).select_related("therapist").prefetch_related("participants")
    }
    planned = {}
    client_lines = {}
    for line, row in _case_rows(cases_text):
        if not _check_row(line, row, therapists, errors):
            continue
        key = row["case_reference"].lower()
        kind = row["kind"].lower()
        therapist = therapists.get(row["therapist_email"].lower())
        opened_on = date.fromisoformat(row["opened_on"]) if row.get("opened_on") else None
        case = planned.get(key)
        if case is None:
            case = planned[key] = PlannedCase(
                row["case_reference"], kind, therapist, opened_on, line, existing.get(key)
            )
            if case.existing and case.existing.kind != kind:
                errors.append(
                    f"line {line}: case {_shown(case.reference)} exists already as a "
                    f"{case.existing.get_kind_display().lower()} case"
                )
        elif (kind, therapist, opened_on) != (case.kind, case.therapist, case.opened_on):
            errors.append(
                f"line {line}: case {_shown(case.reference)} has another kind, therapist or opening date "
                f"on line {case.line}"
            )
            continue
        client_id = row["client_id"]
        if (key, client_id) in client_lines:
            errors.append(f"line {line}: client_id {_shown(client_id)} repeats line {client_lines[key, client_id]}")
            continue
        client_lines[key, client_id] = line
        known = {p.client_ref: p for p in case.existing.participants.all()} if case.existing else {}
        if client_id in known:
            case.known_participants[client_id] = known[client_id]
            continue
        names = {p.display_name.lower() for p in (case.existing.participants.all() if case.existing else [])}
        names |= {data["display_name"].lower() for data in case.new_participants.values()}
        if row["display_name"].lower() in names:
            errors.append(
                f"line {line}: case {_shown(case.reference)} already has a client called {row['display_name']}"
            )
            continue
        case.new_participants[client_id] = {
            "display_name": row["display_name"],
            "email": row.get("email", "").lower(),
            "phone": row.get("phone", ""),
            "language": (row.get("language") or "en").lower(),
            "client_ref": client_id,
        }
    for case in planned.values():
        if case.existing is None:
            count_error = Case.participant_count_error(case.kind, len(case.new_participants))
        elif case.new_participants:
            active = sum(p.is_active for p in case.existing.participants.all())
            if case.kind != Case.Kind.FAMILY:
                count_error = f"{case.existing.get_kind_display()} cases take no new clients"
            else:
                count_error = Case.participant_count_error(case.kind, active + len(case.new_participants))
        else:
            count_error = ""
        if count_error:
            errors.append(f"line {case.line}: case {_shown(case.reference)}: {count_error.rstrip('.')}")
    if errors:
        raise ImportRefused(errors)
    if history_text.strip():
        _plan_history(clinic, planned, history_text)
    return ImportPlan(list(planned.values()), _counts(clinic, planned))


def _plan_history(clinic, planned, history_text):
    """Attach the history file's sessions and checks to the planned cases (ImportRefused if bad)."""
    try:
        series = read_replay(io.StringIO(history_text), EngineSettings())
    except ReplayError as exc:
        raise ImportRefused([f"history file, {exc}"]) from None
    # read_replay has validated the file; one more pass finds the line of each row for our own checks.
    lines = {}
    reader = csv.DictReader(io.StringIO(history_text))
    reader.fieldnames = [name.strip().lower().removeprefix("\ufeff") for name in reader.fieldnames]
    for row in reader:
        if any((value or "").strip() for value in row.values()):
            lines.setdefault((row["case_id"].strip(), row["client_id"].strip()), reader.line_num)
    errors = []
    today = timezone.localdate()
    for case_id, clients in series.items():
        case = planned.get(case_id.lower())
        for client_id, observations in clients.items():
            line = lines.get((case_id, client_id), "?")
            if case is None:
                errors.append(f"history file, line {line}: case_id {_shown(case_id)} is not in the cases file")
                break
            if client_id not in case.new_participants and client_id not in case.known_participants:
                errors.append(
                    f"history file, line {line}: client_id {_shown(client_id)} is not a client of case"
                    f" {_shown(case_id)}"
                    " in the cases file"
                )
                continue
            for obs in observations:
                if obs.session_date > today:
                    errors.append(f"history file, line {line}: client {_shown(client_id)} has a session in the future")
                    break
                day = case.sessions.setdefault(obs.session_date, {"attended": False, "checks": {}, "numbers": set()})
                day["numbers"].add(obs.session_number)
                day["attended"] |= obs.attended
                if obs.is_answered:
                    day["checks"][client_id] = obs
        if case is not None:
            for day, session in case.sessions.items():
                if len(session["numbers"]) > 1:
                    errors.append(
                        f"history file: case {_shown(case_id)} has sessions {sorted(session['numbers'])} "
                        f"on the same day ({day}); one session a day is imported"
                    )
            first = min(case.sessions, default=None)
            opened_on = case.existing.opened_on if case.existing else case.opened_on
            if first and opened_on and first < opened_on:
                errors.append(f"history file: case {_shown(case_id)} has a session before it opened ({opened_on})")
    if errors:
        raise ImportRefused(errors)


def _session_start(clinic, day):
    return datetime.combine(day, IMPORTED_SESSION_TIME, tzinfo=ZoneInfo(clinic.time_zone))


def _counts(clinic, planned):
    """How many cases, clients, sessions and checks are new (the existing ones read in two queries)."""
    existing_ids = [case.existing.pk for case in planned.values() if case.existing]
    sessions = set(TherapySession.objects.filter(case_id__in=existing_ids).values_list("case_id", "scheduled_start"))
    checks = set(
        Response.objects.filter(session__case_id__in=existing_ids).values_list(
            "session__case_id", "session__scheduled_start", "participant__client_ref"
        )
    )
    counts = {"cases": 0, "participants": 0, "sessions": 0, "responses": 0}
    for case in planned.values():
        case_id = case.existing.pk if case.existing else None
        counts["cases"] += case.existing is None
        counts["participants"] += len(case.new_participants)
        for day, session in case.sessions.items():
            start = _session_start(clinic, day)
            session["is_new"] = (case_id, start) not in sessions
            counts["sessions"] += session["is_new"]
            session["new_checks"] = [c for c in session["checks"] if (case_id, start, c) not in checks]
            counts["responses"] += len(session["new_checks"])
    return counts


@transaction.atomic
def do_import_cases(clinic, cases_text, history_text="", *, acting_user):
    """Check the files again and write what is new, all or nothing: cases (with an ASSIGNED
    therapist when given), clients, past sessions (attended when any client attended, else
    no-show) and imported checks (subscale scores only, Response.is_imported, no invitation).
    Records OPENED / IMPORTED CaseEvents and queues each case with history for evaluation on
    commit. Returns the counts written. Raises ImportRefused (and writes nothing) when a line is bad.
    """
    plan = check_case_import(clinic, cases_text, history_text)
    instrument = Instrument.objects.for_clinic(clinic) if plan.counts["responses"] else None
    now = timezone.now()
    for planned in plan.cases:
        case = planned.existing
        if case is None:
            first = min(planned.sessions, default=None)
            case = do_create_case(
                clinic=clinic,
                reference=planned.reference,
                kind=planned.kind,
                therapist=planned.therapist,
                participants=list(planned.new_participants.values()),
                opened_on=planned.opened_on or first or timezone.localdate(),
                acting_user=acting_user,
                event_detail={"source": "import"},
            )
        else:
            for data in planned.new_participants.values():
                Participant.objects.create(case=case, **data)
        people = {p.client_ref: p for p in Participant.objects.filter(case=case).exclude(client_ref="")}
        sessions = responses = 0
        for day, session in sorted(planned.sessions.items()):
            start = _session_start(clinic, day)
            status = TherapySession.Status.ATTENDED if session["attended"] else TherapySession.Status.NO_SHOW
            row, created = TherapySession.objects.get_or_create(
                case=case, scheduled_start=start, defaults={"status": status, "status_changed_at": now}
            )
            sessions += created
            for client_id in session["new_checks"]:
                obs = session["checks"][client_id]
                Response.objects.create(
                    session=row,
                    participant=people[client_id],
                    instrument=instrument,
                    submitted_at=start + timedelta(hours=1),
                    goals=Decimal(f"{obs.goals:.2f}"),
                    tasks=Decimal(f"{obs.tasks:.2f}"),
                    bond=Decimal(f"{obs.bond:.2f}"),
                    total=Decimal(f"{obs.total:.2f}"),
                    rupture=obs.rupture,
                    is_imported=True,
                )
                responses += 1
        if sessions or responses or planned.new_participants:
            record_case_event(
                case.pk,
                CaseEvent.Action.IMPORTED,
                acting_user=acting_user,
                participants=len(planned.new_participants),
                sessions=sessions,
                responses=responses,
            )
        if sessions or responses:
            queue_on_commit("measures.tasks.evaluate_case", case.pk)
    return plan.counts
