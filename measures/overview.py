"""The clinic overview's figures: is the feedback loop working, not only are clients doing well.

`compute_overview(clinic)` reads the clinic's rows in a fixed number of queries (eight, whatever
the number of cases: see `load_rows`), aggregating the per-month response and score figures in
SQL, and returns a JSON-ready dict: one set of figures for the whole clinic and one per therapist
(a therapist's own caseload), so the page reads a cached row and never filters at read time.
The Celery task `measures.tasks.compute_clinic_overviews` stores it in ClinicOverview.

Definitions (the page says them in words too):
- response rate: answered checks / checks sent, by the month of their session; a check whose link
  is still valid (pending) counts in neither; imported history (no link was sent) is left out.
- flags: warning and alert findings only (informational notes ask nothing of the therapist).
- "opened before the next session": among flags raised at a session that was followed by another
  session of the case (not cancelled) that has started, the share opened before it started.
- time to acknowledge / resolve: from the flag's opening to its first acknowledged / resolved action.
- "cleared within two sessions" after a resolve that used a suggestion: once two sessions of the
  case have taken place since the resolve, the flag no longer holds and no new flag of its kind was
  opened for the client in that time. (The moment a resolved flag stops holding is not recorded,
  so "within two sessions" is judged at the time the figures are computed.)
- track record: a dropout "had a warning beforehand" when a flag was opened on the case on or
  before the day it closed; the lead is counted from that first flag's session to the case's last
  session that took place (sessions) and from its opening to that session's date (days).
- case figures are attributed to the case's current therapist.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import User
from sessions_app.models import Case, TherapySession

from . import repairs
from .evaluation import CALIBRATION_MIN_RESPONSES
from .models import ClinicCalibration, Response, Signal, SignalAction, SurveyInvitation

MONTHS = 12
DEFAULT_BUDGET = 8  # percent of checks flagged, until a clinic setting exists
# Open flags by age (days): [low, high) with the page's label.
AGE_BUCKETS = ((0, 7, "under a week"), (7, 14, "1–2 weeks"), (14, 28, "2–4 weeks"), (28, None, "4 weeks or more"))
SUBSCALES = ("goals", "tasks", "bond")
CLEARED_AFTER_SESSIONS = 2
# Sessions that count as "the client's next session": everything but a cancellation in good time.
NEXT_SESSION_STATUSES = tuple(s for s in TherapySession.Status.values if s != TherapySession.Status.CANCELLED)


def month_labels(end, count=MONTHS):
    """The `count` months ending with `end`'s month, oldest first, as "YYYY-MM"."""
    year, month = end.year, end.month
    labels = []
    for _ in range(count):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(labels))


def month_bounds(label, zone):
    """ "YYYY-MM" → (start, end) aware datetimes of that month in `zone`."""
    year, month = (int(part) for part in label.split("-"))
    start = datetime.combine(date(year, month, 1), time.min, tzinfo=zone)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return start, datetime.combine(following, time.min, tzinfo=zone)


def budget_for(clinic):
    """The clinic's flag budget as the page shows it."""
    value = getattr(clinic, "flag_budget", None)
    if value is None:
        return {"percent": DEFAULT_BUDGET, "text": f"{DEFAULT_BUDGET}% (default)"}
    return {"percent": float(value), "text": f"{float(value):g}%"}


def load_rows(clinic, *, now, period=None):
    """The clinic's rows for the overview. Eight queries:

    1. cases; 2. staff names; 3. sessions; 4. checks sent and answered per month and therapist
    (grouped in SQL); 5. answered checks' subscale sums per month and therapist (grouped in SQL);
    6. flags (warning/alert); 7. their acknowledged and resolved actions; 8. the calibration.
    `period` (start, end) limits checks and flags to that window (a monthly report) and the
    monthly series to the twelve months ending with it.
    """
    zone = ZoneInfo(clinic.time_zone)
    start, end = period or (None, now)
    first_month = month_bounds(month_labels(timezone.localtime(min(end, now) - timedelta(seconds=1), zone))[0], zone)[0]
    in_series = Q(session__scheduled_start__gte=first_month, session__scheduled_start__lt=end)
    clinic_checks = Q(session__case__clinic=clinic)
    month = TruncMonth("session__scheduled_start", tzinfo=zone)
    rows = {
        "cases": list(
            Case.objects.filter(clinic=clinic).values_list("pk", "therapist_id", "status", "outcome", "closed_on")
        ),
        "staff": dict(User.objects.filter(clinic=clinic).values_list("pk", "full_name")),
        "sessions": list(
            TherapySession.objects.filter(case__clinic=clinic)
            .order_by("scheduled_start")
            .values_list("pk", "case_id", "scheduled_start", "status")
        ),
        "sent": list(
            SurveyInvitation.objects.filter(clinic_checks & in_series)
            .exclude(completed_at__isnull=True, expires_at__gt=now)  # pending: neither answered nor skipped
            .annotate(month=month)
            .values("month", "session__case__therapist_id")
            .annotate(sent=Count("pk"), answered=Count("pk", filter=Q(completed_at__isnull=False)))
            .order_by()
            .values_list("month", "session__case__therapist_id", "sent", "answered")
        ),
        "scores": list(
            Response.objects.filter(clinic_checks & in_series)
            .annotate(month=month)
            .values("month", "session__case__therapist_id")
            .annotate(n=Count("pk"), goals=Sum("goals"), tasks=Sum("tasks"), bond=Sum("bond"))
            .order_by()
            .values_list("month", "session__case__therapist_id", "n", "goals", "tasks", "bond")
        ),
    }
    flags = Signal.objects.filter(case__clinic=clinic, opened_at__lt=end).exclude(severity=Signal.Severity.INFO)
    rows["flags"] = list(
        flags.values_list(
            "pk", "case_id", "participant_id", "session_id", "kind", "status", "opened_at", "closed_at", "holds"
        )
    )
    rows["actions"] = list(
        SignalAction.objects.filter(
            signal__in=flags.values("pk"),
            action__in=[SignalAction.Action.ACKNOWLEDGED, SignalAction.Action.RESOLVED],
            created_at__lt=end,
        )
        .order_by("created_at", "pk")
        .values_list("signal_id", "action", "created_at", "note", "suggestion")
    )
    rows["calibration"] = (
        ClinicCalibration.objects.filter(clinic=clinic)
        .values("alpha", "reliability", "responses", "first_sessions", "computed_at")
        .first()
    )
    rows["period_start"] = start
    return rows


def compute_overview(clinic, *, now=None, period=None):
    """The overview's figures for `clinic` as a JSON-ready dict (see the module docstring).

    {"computed_at", "months", "budget", "reliability", "therapists": {id: name},
     "clinic": figures, "by_therapist": {id: figures}}; `period` (start, end) gives a monthly
    report's figures (checks and flags of that window, cases closed in it)."""
    now = now or timezone.now()
    zone = ZoneInfo(clinic.time_zone)
    rows = load_rows(clinic, now=now, period=period)
    end = period[1] if period else now
    as_of = min(end, now)
    months = month_labels(timezone.localtime(as_of - timedelta(seconds=1), zone))
    case_therapist = {pk: therapist for pk, therapist, *_ in rows["cases"]}
    therapists = sorted(
        {t for t in case_therapist.values() if t is not None}, key=lambda t: (rows["staff"].get(t, ""), t)
    )
    context = _Context(rows, months, zone, as_of, period)
    figures = {"clinic": context.figures(None)}
    figures["by_therapist"] = {str(t): context.figures(t) for t in therapists}
    return {
        "computed_at": now.isoformat(),
        "period": [period[0].isoformat(), period[1].isoformat()] if period else None,
        "months": months,
        "budget": budget_for(clinic),
        "reliability": _reliability(rows["calibration"]),
        "therapists": {str(t): rows["staff"].get(t, "") for t in therapists},
        **figures,
    }


def _reliability(calibration):
    if calibration is None:
        return {"ready": False, "minimum": CALIBRATION_MIN_RESPONSES}
    return {
        "ready": True,
        "alpha": calibration["alpha"],
        "reliability": calibration["reliability"],
        "responses": calibration["responses"],
        "first_sessions": calibration["first_sessions"],
        "computed_at": calibration["computed_at"].isoformat(),
    }


def _month(value, zone):
    return f"{timezone.localtime(value, zone):%Y-%m}" if isinstance(value, datetime) else f"{value:%Y-%m}"


def _hours(delta):
    return round(delta.total_seconds() / 3600, 1)


def _median(values):
    return round(median(values), 1) if values else None


class _Context:
    """The loaded rows indexed once; `figures(therapist_id)` for the clinic (None) or one caseload."""

    def __init__(self, rows, months, zone, as_of, period):
        self.rows, self.months, self.zone, self.as_of, self.period = rows, months, zone, as_of, period
        self.case_therapist = {pk: therapist for pk, therapist, *_ in rows["cases"]}
        self.sessions_by_case = defaultdict(list)  # in time order (the query orders them)
        self.session_start = {}
        for pk, case_id, start, status in rows["sessions"]:
            self.sessions_by_case[case_id].append((pk, start, status))
            self.session_start[pk] = start
        self.by_person_kind = defaultdict(list)
        for row in rows["flags"]:
            self.by_person_kind[(row[2], row[4])].append(row)
        self.actions = defaultdict(list)
        for signal_id, action, created_at, note, suggestion in rows["actions"]:
            self.actions[signal_id].append((action, created_at, note, suggestion))

    def _mine(self, therapist_id, case_id):
        return therapist_id is None or self.case_therapist.get(case_id) == therapist_id

    def figures(self, therapist_id):
        mine = [row for row in self.rows["flags"] if self._mine(therapist_id, row[1])]
        start = self.rows["period_start"]
        in_period = [row for row in mine if start is None or row[6] >= start]
        return {
            "cases": self._cases(therapist_id),
            "response": self._response(therapist_id),
            "scores": self._scores(therapist_id),
            "open_flags_by_age": self._open_by_age(mine),
            "fidelity": self._fidelity(in_period),
            "track_record": self._track_record(therapist_id, mine),
        }

    def _cases(self, therapist_id):
        cases = [row for row in self.rows["cases"] if therapist_id is None or row[1] == therapist_id]
        return {
            "active": sum(1 for row in cases if row[2] == Case.Status.ACTIVE),
            "closed": sum(1 for row in cases if row[2] == Case.Status.CLOSED),
        }

    def _response(self, therapist_id):
        by_month = {label: [0, 0] for label in self.months}
        for month, therapist, sent, answered in self.rows["sent"]:
            label = _month(month, self.zone)
            if label in by_month and (therapist_id is None or therapist == therapist_id):
                by_month[label][0] += sent
                by_month[label][1] += answered
        sent = sum(v[0] for v in by_month.values())
        answered = sum(v[1] for v in by_month.values())
        return {
            "sent": sent,
            "answered": answered,
            "rate": round(100 * answered / sent, 1) if sent else None,
            "by_month": [
                {"month": m, "sent": s, "answered": a, "rate": round(100 * a / s, 1) if s else None}
                for m, (s, a) in by_month.items()
            ],
        }

    def _scores(self, therapist_id):
        sums = {label: [0, 0.0, 0.0, 0.0] for label in self.months}
        for month, therapist, n, *values in self.rows["scores"]:
            label = _month(month, self.zone)
            if label in sums and (therapist_id is None or therapist == therapist_id):
                sums[label][0] += n
                for index, value in enumerate(values, start=1):
                    sums[label][index] += float(value)
        result = {"answered": [sums[m][0] for m in self.months]}
        for index, name in enumerate(SUBSCALES, start=1):
            result[name] = [round(sums[m][index] / sums[m][0], 2) if sums[m][0] else None for m in self.months]
        return result

    def _open_by_age(self, flags):
        counts = [0] * len(AGE_BUCKETS)
        for _pk, _case, _person, _session, _kind, _status, opened_at, closed_at, _holds in flags:
            if closed_at is not None and closed_at <= self.as_of:
                continue  # closed by then (an open flag has no closed_at)
            age = (self.as_of - opened_at).total_seconds() / 86400
            for index, (low, high, _label) in enumerate(AGE_BUCKETS):
                if age >= low and (high is None or age < high):
                    counts[index] += 1
        return [{"label": label, "count": count} for (_l, _h, label), count in zip(AGE_BUCKETS, counts, strict=True)]

    def _next_session_start(self, case_id, session_id):
        sessions = self.sessions_by_case.get(case_id, [])
        after = False
        for pk, start, status in sessions:
            if after and status in NEXT_SESSION_STATUSES:
                return start
            after = after or pk == session_id
        return None

    def _sessions_after(self, case_id, moment):
        """Starts of the case's sessions that took place (counted) after `moment`, up to as_of."""
        return [
            start
            for _pk, start, status in self.sessions_by_case.get(case_id, [])
            if status in TherapySession.COUNTED and moment < start <= self.as_of
        ]

    def _fidelity(self, flags):
        timely = judged = 0
        to_ack, to_resolve = [], []
        resolved = with_note = 0
        suggestions = {}
        for pk, case_id, person, session_id, kind, _status, opened_at, _closed, holds in flags:
            if session_id is not None:
                following = self._next_session_start(case_id, session_id)
                if following is not None and following <= self.as_of:
                    judged += 1
                    timely += opened_at < following
            actions = self.actions.get(pk, [])
            acked = next((a for a in actions if a[0] == SignalAction.Action.ACKNOWLEDGED), None)
            resolve = next((a for a in actions if a[0] == SignalAction.Action.RESOLVED), None)
            if acked:
                to_ack.append(_hours(acked[1] - opened_at))
            if resolve is None:
                continue
            resolved += 1
            with_note += bool(resolve[2].strip())
            to_resolve.append(_hours(resolve[1] - opened_at))
            if not resolve[3]:
                continue
            entry = suggestions.setdefault(resolve[3], {"used": 0, "judged": 0, "cleared": 0})
            entry["used"] += 1
            after = self._sessions_after(case_id, resolve[1])
            if len(after) < CLEARED_AFTER_SESSIONS:
                continue  # too early to say
            entry["judged"] += 1
            window_end = after[CLEARED_AFTER_SESSIONS - 1] + timedelta(days=1)
            reopened = any(
                other[0] != pk and resolve[1] < other[6] <= window_end for other in self.by_person_kind[(person, kind)]
            )
            entry["cleared"] += (not holds) and not reopened
        return {
            "opened_before_next_session": timely,
            "judged_for_timeliness": judged,
            "timely_share": round(100 * timely / judged, 1) if judged else None,
            "acknowledged": len(to_ack),
            "median_hours_to_acknowledge": _median(to_ack),
            "resolved": resolved,
            "median_hours_to_resolve": _median(to_resolve),
            "resolved_with_note": with_note,
            "note_share": round(100 * with_note / resolved, 1) if resolved else None,
            "flags": len(flags),
            "suggestions": sorted(
                (
                    {"key": key, "label": repairs.suggestion_label(key) or key, **entry}
                    for key, entry in suggestions.items()
                ),
                key=lambda e: (-e["used"], e["key"]),
            ),
        }

    def _track_record(self, therapist_id, flags):
        first_flag = {}
        for _pk, case_id, _person, session_id, _kind, _status, opened_at, _closed, _holds in flags:
            if case_id not in first_flag or opened_at < first_flag[case_id][0]:
                first_flag[case_id] = (opened_at, session_id)
        start = self.rows["period_start"]
        dropouts, completers = [], []
        for pk, therapist, status, outcome, closed_on in self.rows["cases"]:
            if status != Case.Status.CLOSED or not (therapist_id is None or therapist == therapist_id):
                continue
            if start is not None and not (start.astimezone(self.zone).date() <= closed_on):
                continue
            if closed_on > timezone.localtime(self.as_of, self.zone).date():
                continue
            if outcome == Case.Outcome.DROPPED_OUT:
                dropouts.append((pk, closed_on))
            elif outcome == Case.Outcome.COMPLETED:
                completers.append(pk)
        leads = []
        for case_id, closed_on in dropouts:
            flag = first_flag.get(case_id)
            if flag is None or timezone.localtime(flag[0], self.zone).date() > closed_on:
                continue
            counted = [
                (pk, s) for pk, s, status in self.sessions_by_case.get(case_id, []) if status in TherapySession.COUNTED
            ]
            numbers = {pk: index for index, (pk, _s) in enumerate(counted)}
            last = counted[-1][1] if counted else None
            sessions = len(counted) - 1 - numbers[flag[1]] if flag[1] in numbers else None
            days = (
                (timezone.localtime(last, self.zone).date() - timezone.localtime(flag[0], self.zone).date()).days
                if last
                else None
            )
            leads.append({"sessions": sessions, "days": max(days, 0) if days is not None else None})
        return {
            "dropouts": len(dropouts),
            "dropouts_flagged": len(leads),
            "median_sessions_before": _median([lead["sessions"] for lead in leads if lead["sessions"] is not None]),
            "median_days_before": _median([lead["days"] for lead in leads if lead["days"] is not None]),
            "leads": leads,
            "completers": len(completers),
            "completers_flagged": sum(1 for pk in completers if pk in first_flag),
        }
