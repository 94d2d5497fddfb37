"""Running the early-warning engine on a case and reconciling its Signal rows.

The engine (measures.engine) is pure; this module is its only adapter to the database:
load a case's whole series in a fixed number of queries, compute, then bring the open flags
in line with what the engine finds now — idempotently, so a retried or concurrent task changes
nothing the second time.
"""

import dataclasses
import logging
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from sessions_app.models import Case, CaseEvent, Participant, TherapySession

from . import engine
from .actions.invitations import takes_new_checks
from .definitions import SERIES
from .engine.budget import COURSES, at_strictness, calibrate_strictness
from .engine.calibration import compute_calibration
from .engine.risk import RiskTable, compute_clinic_table
from .models import (
    Answer,
    CaseEvaluation,
    ClinicCalibration,
    Instrument,
    Response,
    Signal,
    SignalAction,
    SurveyInvitation,
)
from .outcomes import completed_flag_counts, correct_budget
from .queue import queue_on_commit

logger = logging.getLogger(__name__)

# Sessions that count in a participant's series: those that took place or were missed.
COUNTED = TherapySession.COUNTED


def _float(value):
    return None if value is None else float(value)


def is_check_pending(session, invitation, now):
    """Whether an attended session's unanswered check of one participant may still be answered:
    its link is valid (not completed, not expired), or it has no invitation yet while one may
    still be created (the one rule of which sessions get a check, takes_new_checks: the nightly
    sweep creates it). A pending check is neither answered nor skipped (DESIGN.md)."""
    if session.status != TherapySession.Status.ATTENDED:
        return False
    if invitation is None:
        return takes_new_checks(session, now)
    return invitation.completed_at is None and invitation.expires_at > now


def _open_checks(invitations, now):
    """(participant id, session id) of invitations still open at ``now``, and of every
    invitation at all (to tell "not created yet" from "expired")."""
    known, still_open = set(), set()
    for participant_id, session_id, completed_at, expires_at in invitations.values_list(
        "participant_id", "session_id", "completed_at", "expires_at"
    ):
        known.add((participant_id, session_id))
        if completed_at is None and expires_at > now:
            still_open.add((participant_id, session_id))
    return known, still_open


def load_observations(case, *, now=None):
    """participant id (str) → list[engine.Observation], in session order. Four queries:
    participants, sessions, responses, invitations (for the pending checks)."""
    now = now or timezone.now()
    participants = list(case.participants.filter(is_active=True))
    sessions = TherapySession.counted(case.sessions.filter(status__in=COUNTED, scheduled_start__lte=now), now)
    responses = {
        (r.participant_id, r.session_id): r
        for r in Response.objects.filter(session__case=case).only(
            "participant_id", "session_id", "goals", "tasks", "bond", "rupture", "rupture_type"
        )
    }
    checks = _open_checks(SurveyInvitation.objects.filter(session__case=case), now)
    return participants, sessions, _series(participants, sessions, responses, checks, now)


def load_clinic_observations(clinic, *, now=None):
    """Every participant's series in the clinic (for calibration). Four queries in all."""
    return [obs for _case, people in load_case_series(clinic=clinic, now=now) for _p, obs in people]


def load_case_series(*, clinic, case=None, now=None):
    """[(case, [(participant, observations)])] for one case or the whole clinic, cases and their
    participants in id order: exactly what the engine is given (exports, calibration). Four queries."""
    now = now or timezone.now()
    scope = {"case__clinic": clinic} if case is None else {"case": case}
    participants = list(Participant.objects.filter(is_active=True, **scope).select_related("case").order_by("pk"))
    sessions_by_case = {}
    for session in TherapySession.objects.filter(
        status__in=COUNTED, scheduled_start__lte=now, **scope
    ).order_by("scheduled_start"):
        sessions_by_case.setdefault(session.case_id, []).append(session)
    responses = {
        (r.participant_id, r.session_id): r
        for r in Response.objects.filter(**{f"session__{k}": v for k, v in scope.items()}).only(
            "participant_id", "session_id", "goals", "tasks", "bond", "rupture", "rupture_type"
        )
    }
    checks = _open_checks(SurveyInvitation.objects.filter(**{f"session__{k}": v for k, v in scope.items()}), now)
    by_case = {}
    for participant in participants:
        sessions = TherapySession.counted(sessions_by_case.get(participant.case_id, []), now)
        observations = _series([participant], sessions, responses, checks, now)[str(participant.pk)]
        by_case.setdefault(participant.case_id, (participant.case, []))[1].append((participant, observations))
    return [by_case[case_id] for case_id in sorted(by_case)]


def _series(participants, sessions, responses, checks, now):
    known, still_open = checks
    series = {}
    for participant in participants:
        observations = []
        for number, session in enumerate(sessions, start=1):
            key = (participant.pk, session.pk)
            response = responses.get(key)
            # the same rule as is_check_pending, on the preloaded invitations
            pending = (
                response is None
                and session.status == TherapySession.Status.ATTENDED
                and (key in still_open or (key not in known and takes_new_checks(session, now)))
            )
            observations.append(
                engine.Observation(
                    session_number=number,
                    session_date=session.scheduled_start.date(),
                    attended=session.status == TherapySession.Status.ATTENDED,
                    goals=_float(response.goals) if response else None,
                    tasks=_float(response.tasks) if response else None,
                    bond=_float(response.bond) if response else None,
                    rupture=response.rupture if response else None,
                    pending=pending,
                    rupture_type=response.rupture_type if response else None,
                )
            )
        series[str(participant.pk)] = observations
    return series


# The clinic's flag sensitivity (accounts.Clinic.sensitivity) → how strong a confirmed drop must
# be (the engine's z_confirm; its default 2.6 is "standard"). Sensitive flags earlier and more
# often wrongly; cautious waits for clearer drops. Must stay above z_drop (1.96).
Z_CONFIRM_BY_SENSITIVITY = {"cautious": 3.0, "standard": 2.6, "sensitive": 2.2}


def engine_settings_for(clinic):
    """The clinic's cutoff and flag sensitivity, with reliability and spread from its own data
    when it has enough, at the strictness that keeps its false-flag budget once calibrated."""
    settings, strictness = engine_settings_parts(clinic)
    return settings if strictness is None else at_strictness(settings, strictness)


def engine_settings_parts(clinic):
    """(the settings before the budget's strictness, the stored strictness or None): what
    engine_settings_for combines, apart, so that an export can name both to `replay`."""
    try:
        calibration = clinic.calibration  # select_related by do_evaluate_case: no extra query there
    except ClinicCalibration.DoesNotExist:
        calibration = None
    strictness = calibration.strictness if calibration is not None else None
    return _psychometric_settings(clinic, calibration), strictness


def _psychometric_settings(clinic, calibration):
    """The settings before the budget's strictness: what calibrate_strictness searches from."""
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    psychometrics = instrument.psychometrics if instrument else {}
    reliability = dict(psychometrics.get("reliability", {}))
    spread = dict(psychometrics.get("spread", {}))
    if calibration is not None:
        reliability.update({k: v for k, v in calibration.reliability.items() if k in SERIES})
        spread.update({k: v for k, v in calibration.spread.items() if k in SERIES})
    defaults = engine.EngineSettings()
    settings = engine.EngineSettings(
        cutoff=float(clinic.alliance_cutoff),
        z_confirm=Z_CONFIRM_BY_SENSITIVITY.get(clinic.sensitivity, defaults.z_confirm),
        reliability={**defaults.reliability, **reliability},
        spread={**defaults.spread, **spread},
    )
    if calibration is not None and calibration.engagement_rate is not None:
        settings = dataclasses.replace(settings, engagement_prior_rate=calibration.engagement_rate)
    return settings


def risk_table_for(clinic):
    """The clinic's own risk calibration once refitted (do_calibrate_clinic), else None (shipped)."""
    try:
        stored = clinic.calibration.risk_calibration  # select_related by do_evaluate_case
    except ClinicCalibration.DoesNotExist:
        return None
    return RiskTable.from_json(stored) if stored else None


def do_evaluate_case(case_id, *, now=None, notify=True, if_needed=False):
    """Re-evaluate one case and reconcile its flags. Returns the CaseResult, or None if gone
    (or, with if_needed, already up to date).

    The case's "needs evaluation" mark (Case.needs_evaluation_since) is cleared by the run that
    saw it, compare-and-clear: a change marked after this run read the case keeps its mark.
    With if_needed (the evaluate_case task), an evaluated case without a mark returns at once:
    repeated evaluations queued close together run once, the first one covering all of them.

    The engine acts here, not a person: its SignalAction rows have no actor (the system).
    Contract: at most one open flag per participant and kind (also enforced by a constraint);
    a stronger finding escalates the open flag in place; a flag whose finding no longer holds
    is closed as 'cleared' and kept; a flag the therapist resolved while its condition persists
    is reopened only by a more severe finding. Running it again changes nothing.
    New or escalated alerts are emailed to the therapist on commit unless notify is False
    (the demo seeding: history is not news).
    """
    given_now = now
    for attempt in range(2):
        try:
            with transaction.atomic():
                # Lock the case first, then read: an evaluation that started before a newer one
                # committed would otherwise apply its older verdict on top (flags flicker, alerts
                # are emailed twice). PostgreSQL row lock; SQLite serialises writers anyway.
                case = (
                    Case.objects.select_for_update(of=("self",))
                    .select_related("clinic", "clinic__calibration", "evaluation")
                    .filter(pk=case_id)
                    .first()
                )
                if case is None:
                    return None
                # The clock is read once the lock is held: evaluated_at is then later than every
                # change this run sees (one committed while it waited for the lock included).
                now = given_now or timezone.now()
                marked = case.needs_evaluation_since
                if if_needed and marked is None and _has_evaluation(case):
                    return None  # an earlier run already saw every change (coalesced)
                participants, sessions, series = load_observations(case, now=now)
                labels = {str(p.pk): p.first_name for p in participants}
                result = engine.compute_case(
                    series, engine_settings_for(case.clinic), labels, risk_table=risk_table_for(case.clinic)
                )
                _reconcile(case, result, sessions, now, notify, correction=_correction_note(case))
                if marked is not None:
                    Case.objects.filter(pk=case.pk, needs_evaluation_since=marked).update(needs_evaluation_since=None)
            return result
        except IntegrityError:
            # A concurrent evaluation of the same case won on SQLite (no row locks); its
            # outcome is the same as ours, so one retry sees it and changes nothing.
            if attempt:
                raise
    return None


def _has_evaluation(case):
    try:
        return case.evaluation is not None  # select_related: no query
    except CaseEvaluation.DoesNotExist:
        return False


def _correction_note(case):
    """What was corrected since the case's last evaluation, in words ("" when nothing was).

    A correction is a change to a session already recorded (its status changed, it was moved or
    removed): sessions_app marks its CaseEvent {"correction": true}. One query: the last
    evaluation came with the locked case (select_related).
    """
    if not _has_evaluation(case):
        return ""  # never evaluated: no flag to correct
    last = case.evaluation.evaluated_at
    # >=: under a frozen clock (time-machine) a correction and the last run share an instant;
    # reading one correction twice only labels an unchanged verdict, it changes nothing.
    corrections = CaseEvent.objects.filter(case=case, created_at__gte=last, detail__correction=True)
    events = corrections.select_related("session")
    zone = ZoneInfo(case.clinic.time_zone)
    return "; ".join(_describe_correction(event, zone) for event in events)


def _describe_correction(event, zone):
    detail = event.detail
    if event.action == CaseEvent.Action.SESSION_SCHEDULED:  # moved
        moved_from, moved_to = (datetime.fromisoformat(detail[key]).astimezone(zone) for key in ("from", "to"))
        return f"session of {moved_from:%-d %b %Y} moved to {moved_to:%-d %b %Y}"
    start = event.session.scheduled_start if event.session else datetime.fromisoformat(detail["scheduled_start"])
    before = _status_label(detail["from"])
    if detail["to"] == "deleted":
        return f"session of {start.astimezone(zone):%-d %b %Y} ({before}) removed"
    return f"session of {start.astimezone(zone):%-d %b %Y} changed from {before} to {_status_label(detail['to'])}"


def _status_label(status):
    return TherapySession.Status(status).label.lower() if status in TherapySession.Status.values else status


def _closed_by_correction(case):
    """Flags a correction closed (their last line is 'corrected' and their condition no longer
    holds): undoing the correction restores them in place. key → the latest such flag. One query."""
    latest = SignalAction.objects.filter(signal=OuterRef("pk")).order_by("-created_at", "-pk")
    workflow = latest.filter(
        action__in=(SignalAction.Action.OPENED, SignalAction.Action.ESCALATED, SignalAction.Action.ACKNOWLEDGED)
    )
    closed = (
        Signal.objects.filter(case=case, holds=False, status__in=(Signal.Status.CLEARED, Signal.Status.RESOLVED))
        .annotate(
            last_action=Subquery(latest.values("action")[:1]), last_workflow=Subquery(workflow.values("action")[:1])
        )
        .filter(last_action=SignalAction.Action.CORRECTED)
        .order_by("pk")
    )
    return {(signal.participant_id, signal.kind): signal for signal in closed}


def _reconcile(case, result, sessions, now, notify, correction=""):
    """Bring the case's Signal rows in line with `result`.

    `correction` (a description, or "") says the record itself changed since the last run. Then
    the changes are the record's, not the client's, and each flag they touch gets exactly one
    CORRECTED line (with the description as its note) instead of opened / escalated / cleared:
    an open flag follows the finding's severity up or down in place; a flag whose finding goes
    away is closed as cleared; a resolved flag stops holding; and a finding that comes back
    restores, in place, the flag a correction closed (open or acknowledged as it was, or resolved
    and holding again), so undoing a mis-click leaves the same flags as before. A resolved flag
    re-opens (as a new flag) only for a finding more severe than when it was resolved.

    Beyond the active findings, every finding the engine raises (result.findings) is set against
    what the history records (_Ledger): a check that settled after a later session was judged
    re-dates an open flag to the earlier onset, or records a finding that had already passed as
    a flag that opened and cleared; neither is emailed. Under a correction they are the
    correction's and only noted as recorded.
    """
    session_by_number = dict(enumerate(sessions, start=1))
    active = {(int(f.participant_id), f.kind): f for f in result.active}
    signals = list(Signal.objects.filter(case=case).open_or_holding())
    open_by_key = {(s.participant_id, s.kind): s for s in signals if s.is_open}
    resolved_holding = {}
    for signal in signals:
        if signal.status == Signal.Status.RESOLVED and signal.holds:
            key = (signal.participant_id, signal.kind)
            current = resolved_holding.get(key)
            if current is None or signal.severity_rank > current.severity_rank:
                resolved_holding[key] = signal
    restorable = _closed_by_correction(case) if correction else {}
    number_of = {session.pk: number for number, session in session_by_number.items()}
    ledger = _Ledger(case, result, session_by_number, active, open_by_key)
    if not correction:
        ledger.redate(open_by_key, number_of, now)

    def corrected(signal, severity=""):
        SignalAction.objects.create(
            signal=signal, action=SignalAction.Action.CORRECTED, severity=severity, note=correction, created_at=now
        )

    to_notify = []
    for key, finding in active.items():
        session = session_by_number.get(finding.session_number)
        rank = Signal.SEVERITY_RANK[finding.severity]
        signal = open_by_key.get(key)
        if signal is not None and not correction and ledger.is_new_episode(finding, session, signal):
            # A late check showed the flag's episode ended and a new one began since: it closes
            # (saying so), and the new episode opens as any new finding does.
            Signal.objects.filter(pk=signal.pk).update(
                status=Signal.Status.CLEARED, closed_at=now, updated_at=now, holds=False
            )
            SignalAction.objects.create(
                signal=signal, action=SignalAction.Action.CLEARED, note=ENDED_NOTE, created_at=now
            )
            signal = None
        if signal is not None:
            if correction and rank != signal.severity_rank:
                _update(signal, finding, session, now, severity=finding.severity)
                corrected(signal, finding.severity)
                if signal.status == Signal.Status.OPEN and signal.notified_at is None:
                    to_notify.append(signal)
            elif rank > signal.severity_rank:
                # A worse finding reopens an acknowledged flag: it needs a fresh look (and an alert email).
                _update(
                    signal, finding, session, now, severity=finding.severity, seen_at=None, status=Signal.Status.OPEN
                )
                SignalAction.objects.create(
                    signal=signal, action=SignalAction.Action.ESCALATED, severity=finding.severity, created_at=now
                )
                to_notify.append(signal)
            elif signal.session_id != (session.pk if session else None) or signal.message != finding.message:
                _update(signal, finding, session, now)
            continue
        resolved = resolved_holding.get(key)
        if resolved is not None and rank <= resolved.severity_rank:
            continue  # the therapist dealt with this; only a worse finding reopens it
        closed = restorable.get(key)
        if closed is not None and closed.status == Signal.Status.RESOLVED and rank <= closed.severity_rank:
            Signal.objects.filter(pk=closed.pk).update(holds=True)
            corrected(closed)
            continue
        if closed is not None and closed.status == Signal.Status.CLEARED:
            was_acknowledged = closed.last_workflow == SignalAction.Action.ACKNOWLEDGED
            status = Signal.Status.ACKNOWLEDGED if was_acknowledged else Signal.Status.OPEN
            _update(closed, finding, session, now, severity=finding.severity, status=status, closed_at=None, holds=True)
            corrected(closed, finding.severity)
            if status == Signal.Status.OPEN and closed.notified_at is None:
                to_notify.append(closed)
            continue
        signal = Signal.objects.create(
            case=case,
            participant_id=key[0],
            session=session,
            kind=finding.kind,
            severity=finding.severity,
            subscale=finding.subscale,
            evidence=finding.evidence,
            message=finding.message,
            opened_at=now,
            updated_at=now,
        )
        if correction:
            corrected(signal, finding.severity)
        else:
            SignalAction.objects.create(
                signal=signal, action=SignalAction.Action.OPENED, severity=finding.severity, created_at=now
            )
        to_notify.append(signal)
        open_by_key[key] = signal

    ledger.record_active(open_by_key, correction)
    if not correction:
        ledger.record_seen_late(case, session_by_number, now)

    for signal in signals:
        key = (signal.participant_id, signal.kind)
        if key in active:
            continue
        if signal.is_open:
            Signal.objects.filter(pk=signal.pk).update(
                status=Signal.Status.CLEARED, closed_at=now, updated_at=now, holds=False
            )
            if correction:
                corrected(signal)
            else:
                SignalAction.objects.create(signal=signal, action=SignalAction.Action.CLEARED, created_at=now)
        elif signal.holds:
            Signal.objects.filter(pk=signal.pk).update(holds=False)
            if correction:
                corrected(signal)  # marks it: undoing the correction makes it hold again

    summary = {pid: _summary_json(summary) for pid, summary in result.summaries.items()}
    for pid, entries in ledger.entries.items():
        summary.setdefault(pid, {})[RECORDED] = entries
    verdict = {
        "risk_score": result.risk_score,
        "summary": summary,
        "evaluated_at": now,
    }
    # One UPDATE in the usual case (the row exists); the case lock above makes the create safe.
    if not CaseEvaluation.objects.filter(case=case).update(**verdict):
        CaseEvaluation.objects.create(case=case, **verdict)
    alerts = [s.pk for s in to_notify if s.severity == Signal.Severity.ALERT]
    if alerts and not notify:
        Signal.objects.filter(pk__in=alerts).update(notified_at=now)
    elif alerts:
        for pk in alerts:
            queue_on_commit("measures.tasks.send_flag_alert", pk)


# The findings the flag history accounts for, per participant in CaseEvaluation.summary:
# [kind, session id, severity, signal id] for each onset or escalation a flag recorded.
RECORDED = "recorded"
REDATED_NOTE = "An earlier check arrived late: this finding now dates from the session of {day} (it was put at {was})."
REJUDGED_NOTE = (
    "An earlier check arrived late: with it, this finding is a {severity} from the session of {day} "
    "(it was put at {was} as {had})."
)
ENDED_NOTE = "An earlier check arrived late: this finding had ended, and a new one began since."
SEEN_LATE_NOTE = (
    "Seen late: an earlier check arrived after later sessions had been judged, and this finding "
    "of the session of {day} had already passed."
)


class _Ledger:
    """What the flag history records, set against every finding the engine raises now.

    The engine's findings (result.findings) are every onset and escalation at every session. A
    check that settles after a later session was judged can change what the engine says about
    earlier sessions: an episode starts one session earlier than the open flag says, or a finding
    that held for one session only appears after it passed. The live app does not wait for the
    slow check (a drop at the latest session opens at once); it brings the history in line
    afterwards: an open flag is re-dated to the engine's onset (one 'updated' line, no email),
    and a finding that already passed is recorded as a flag that opened and cleared (no email,
    no badge). Each recorded finding is kept here, so a second run recognises it and changes
    nothing; an entry the engine no longer raises stays (the flag did open then).
    """

    def __init__(self, case, result, session_by_number, active, open_by_key):
        self.active = active
        self.zone = ZoneInfo(case.clinic.time_zone)
        self.session_by_id = {session.pk: session for session in session_by_number.values()}
        stored = CaseEvaluation.objects.filter(case=case).values_list("summary", flat=True).first() or {}
        self.entries = {pid: list(figures.get(RECORDED, [])) for pid, figures in stored.items() if RECORDED in figures}
        self.found = Counter()
        self.finding = {}
        for finding in result.findings:
            session = session_by_number.get(finding.session_number)
            if session is None:
                continue
            entry = (finding.participant_id, finding.kind, session.pk, finding.severity)
            self.found[entry] += 1
            self.finding[entry] = finding
        active_entries = set()
        for finding in active.values():
            session = session_by_number.get(finding.session_number)
            if session is not None:
                active_entries.add((finding.participant_id, finding.kind, session.pk, finding.severity))
        self.active_entries = active_entries
        # A participant without a ledger yet (first evaluation, or data from before it): what
        # the engine finds in the past counts as known; only what is revealed later is recorded.
        # An active finding counts as known when its flag is open (it is that flag's); without
        # one, the reconcile opens it and records it then.
        for pid in {*result.summaries, *(f.participant_id for f in result.findings)} - set(self.entries):
            rows = self.entries[pid] = []
            for (p, kind, session_id, severity), count in self.found.items():
                flag = open_by_key.get((int(p), kind))
                if p != pid or ((p, kind, session_id, severity) in active_entries and flag is None):
                    continue
                is_flags = (p, kind, session_id, severity) in active_entries
                rows.extend([kind, session_id, severity, flag.pk if is_flags else None] for _ in range(count))

    def is_new_episode(self, finding, session, signal):
        """Whether the active finding is a new episode after the open flag's: not recorded yet, at
        another session, no worse, while the flag's own finding still stands (a late check showed
        that the flag's episode ended in between). A worse one escalates the flag instead."""
        if session is None or session.pk == signal.session_id:
            return False
        if Signal.SEVERITY_RANK[finding.severity] > signal.severity_rank:
            return False
        entry = (finding.participant_id, finding.kind, session.pk, finding.severity)
        own = (str(signal.participant_id), signal.kind, signal.session_id, signal.severity)
        return bool(self.missing()[entry]) and bool(self.found[own])

    def day(self, session_id):
        """A session's date in the clinic's time zone, as the notes name it."""
        session = self.session_by_id.get(session_id)
        if session is None:  # removed since (a correction): say so rather than fail
            return "a session since removed"
        return f"{session.scheduled_start.astimezone(self.zone):%-d %b %Y}"

    def recorded(self):
        return Counter(
            (pid, kind, session_id, severity)
            for pid, rows in self.entries.items()
            for kind, session_id, severity, _signal in rows
        )

    def missing(self):
        return self.found - self.recorded()

    def add(self, entry, signal_pk):
        pid, kind, session_id, severity = entry
        self.entries.setdefault(pid, []).append([kind, session_id, severity, signal_pk])

    def redate(self, open_by_key, number_of, now):
        """Move each open flag's recorded finding the engine no longer raises to the finding of the
        same kind it raises instead, at the same severity (nearest session) or else a lower one:
        one 'updated' line each, no email. A higher one is left to the reconcile: an escalation,
        emailed as any alert."""
        missing = self.missing()
        stale = self.recorded() - self.found
        rank = Signal.SEVERITY_RANK
        for (participant_id, kind), signal in open_by_key.items():
            pid = str(participant_id)
            for row in self.entries.get(pid, []):
                old = (pid, kind, row[1], row[2])
                if row[0] != kind or row[3] != signal.pk or not stale[old]:
                    continue
                candidates = [
                    e for e in missing if missing[e] and e[:2] == (pid, kind) and rank[e[3]] <= rank[row[2]]
                ]
                if not candidates:
                    continue
                was = number_of.get(row[1]) or 0

                def nearness(entry, was=was, severity=row[2]):
                    number = number_of.get(entry[2]) or 0
                    return (entry[3] != severity, abs(number - was), number)

                new = min(candidates, key=nearness)
                stale[old] -= 1
                missing[new] -= 1
                row[1], row[2] = new[2], new[3]
                finding = self.finding[new]
                if signal.session_id == old[2] and signal.severity == old[3]:
                    _update(signal, finding, self.session_by_id[new[2]], now, severity=new[3])
                note = REDATED_NOTE if new[3] == old[3] else REJUDGED_NOTE
                SignalAction.objects.create(
                    signal=signal,
                    action=SignalAction.Action.UPDATED,
                    severity=new[3],
                    note=note.format(day=self.day(new[2]), was=self.day(old[2]), severity=new[3], had=old[3]),
                    created_at=now,
                )

    def record_active(self, open_by_key, correction):
        """The active findings are the reconcile's own (opened, escalated, or left to a resolved
        flag); after a correction every finding is the correction's. Either way: accounted for."""
        missing = self.missing()
        for entry, count in missing.items():
            if correction or entry in self.active_entries:
                signal = open_by_key.get((int(entry[0]), entry[1]))
                for _ in range(count):
                    self.add(entry, signal.pk if signal else None)

    def record_seen_late(self, case, session_by_number, now):
        """Each finding the engine raises at an earlier session that no flag recorded (a check
        arrived late and it had already passed): a flag that opened and cleared, no email."""
        by_key = {}
        for entry, count in self.missing().items():
            by_key.setdefault(entry[:2], []).extend([entry] * count)
        numbers = {session.pk: number for number, session in session_by_number.items()}
        for (pid, kind), entries in sorted(by_key.items()):
            entries.sort(key=lambda e: numbers[e[2]])
            signal = None
            for entry in entries:
                finding = self.finding[entry]
                session = session_by_number[finding.session_number]
                rank = Signal.SEVERITY_RANK[finding.severity]
                note = SEEN_LATE_NOTE.format(day=self.day(session.pk))
                if signal is not None and rank > signal.severity_rank:
                    _update(signal, finding, session, now, severity=finding.severity)
                    action = SignalAction.Action.ESCALATED
                else:
                    if signal is not None:
                        SignalAction.objects.create(signal=signal, action=SignalAction.Action.CLEARED, created_at=now)
                    signal = Signal.objects.create(
                        case=case,
                        participant_id=int(pid),
                        session=session,
                        kind=kind,
                        severity=finding.severity,
                        subscale=finding.subscale,
                        evidence=finding.evidence,
                        message=finding.message,
                        status=Signal.Status.CLEARED,
                        holds=False,
                        opened_at=now,
                        updated_at=now,
                        closed_at=now,
                        notified_at=now,  # history, not news: never emailed
                    )
                    action = SignalAction.Action.OPENED
                SignalAction.objects.create(
                    signal=signal, action=action, severity=finding.severity, note=note, created_at=now
                )
                self.add(entry, signal.pk)
            SignalAction.objects.create(signal=signal, action=SignalAction.Action.CLEARED, created_at=now)


def _update(signal, finding, session, now, **extra):
    fields = {
        "session": session,
        "evidence": finding.evidence,
        "message": finding.message,
        "subscale": finding.subscale,
        "updated_at": now,
        **extra,
    }
    for name, value in fields.items():
        setattr(signal, name, value)
    signal.save(update_fields=list(fields))


def _summary_json(summary):
    return {
        "baseline": summary.baseline,
        "variability": summary.variability,
        "slope": summary.slope,
        "latest": summary.latest,
        "answered": summary.answered,
        "scheduled": summary.scheduled,
        "trend": summary.trend,
    }


# The clinic's own psychometrics ---------------------------------------------------------

# Below these, a clinic's own estimates are noisier than the instrument's defaults.
CALIBRATION_MIN_RESPONSES = 100
CALIBRATION_MIN_PARTICIPANTS = 30


def do_calibrate_clinic(clinic, *, now=None, courses=COURSES):
    """Estimate the engine's reliability, spread and usual missed-check rate from the clinic's
    own data, Cronbach's alpha of each subscale's items for the clinic overview, and the
    strictness that keeps the clinic's false-flag budget (compute_clinic_budget).

    The engine's reliability is the share of first-session variance that is not session-to-session
    noise (what the reliable-change index needs for repeated measurement of one person); alpha,
    internal consistency, is reported beside it but not used, because two near-duplicate items give
    an alpha near 1 that would make every wobble look "reliable". Spread is the SD of each client's
    first answered check. The risk refit (compute_clinic_risk) runs at the new strictness. Returns
    the ClinicCalibration, or None while the clinic has fewer than 100 answered checks from 30
    clients (the instrument's defaults and the built-in thresholds then stay in use). ``courses`` is
    how many steady courses the budget's search simulates (calibrate_strictness).
    """
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    if instrument is None:
        return None
    answered = Response.objects.filter(session__case__clinic=clinic).count()
    cases = load_case_series(clinic=clinic, now=now)
    series = [observations for _case, people in cases for _participant, observations in people]
    estimate = compute_calibration(series, minimum=CALIBRATION_MIN_PARTICIPANTS)
    if answered < CALIBRATION_MIN_RESPONSES or estimate is None:
        return None
    psychometrics = {
        "reliability": {k: round(v, 3) for k, v in estimate.reliability.items()},
        "spread": {k: round(v, 3) for k, v in estimate.spread.items()},
        "engagement_rate": round(estimate.engagement_rate, 3),
    }
    settings = _psychometric_settings(clinic, ClinicCalibration(**psychometrics))
    budget = compute_clinic_budget(
        clinic, series, settings, case_sizes=[len(people) for _case, people in cases], courses=courses
    )
    if budget["strictness"] is not None:
        settings = at_strictness(settings, budget["strictness"])
    calibration, _ = ClinicCalibration.objects.update_or_create(
        clinic=clinic,
        defaults={
            "instrument": instrument,
            **psychometrics,
            **budget,
            "alpha": compute_clinic_alpha(clinic, instrument),
            "risk_calibration": compute_clinic_risk(clinic, now=now, settings=settings),
            "responses": answered,
            "first_sessions": estimate.participants,
            "computed_at": now or timezone.now(),
        },
    )
    return calibration


def compute_clinic_budget(clinic, series, settings, *, case_sizes=None, courses=COURSES):
    """ClinicCalibration's budget fields: the clinic's budget (a fraction), the budget aimed at
    once the completers' flagged share corrected it (measures.outcomes.correct_budget), and the
    strictness that keeps the latter on the clinic's simulated steady cases, as large as its
    cases (``case_sizes``), with the share of clients it flags among ``courses`` simulated ones (None,
    None when the courses cannot be modelled). One query beyond the engine's work."""
    budget = clinic.false_flag_budget / 100
    flagged, total, cases = completed_flag_counts(clinic)
    used = correct_budget(budget, flagged, total, cases)
    fit = calibrate_strictness(series, settings, used, case_sizes=case_sizes, courses=courses)
    return {
        "budget": budget,
        "budget_used": round(used, 4),
        "strictness": fit.strictness if fit else None,
        "budget_achieved": fit.achieved if fit else None,
        "completed_cases": cases,
        "completed_count": total,
        "completed_flagged": flagged,
    }


def compute_clinic_risk(clinic, *, now=None, settings=None):
    """The risk calibration refitted on the clinic's closed cases that dropped out or completed,
    as JSON, or {} below measures.engine.risk.MIN_CLOSED_CASES (the shipped one stays in use).
    ``settings`` defaults to the clinic's current ones. Three queries per closed case (a nightly
    job over a clinic's history)."""
    closed = Case.objects.closed().filter(
        clinic=clinic, outcome__in=(Case.Outcome.DROPPED_OUT, Case.Outcome.COMPLETED)
    )
    settings = settings or engine_settings_for(clinic)
    cases = []
    for case in closed:
        _participants, _sessions, series = load_observations(case, now=now)
        stopped = case.outcome == Case.Outcome.DROPPED_OUT
        cases.append((series, dict.fromkeys(series, stopped)))
    table = compute_clinic_table(cases, lambda cut: engine.compute_case(cut, settings).active)
    return table.to_json() if table else {}


def compute_clinic_alpha(clinic, instrument):
    """Cronbach's alpha per subscale (and over all rated items) from item-level answers. One query."""
    rated = {
        item.code: item.subscale
        for item in instrument.items.all()
        if item.kind == "rating" and item.audience == "all" and item.subscale in ("goals", "tasks", "bond")
    }
    rows = {}
    for response_id, code, value in Answer.objects.filter(
        response__session__case__clinic=clinic, response__instrument=instrument, item__code__in=rated
    ).values_list("response_id", "item__code", "value"):
        rows.setdefault(response_id, {})[code] = value
    codes = sorted(rated)
    complete = [row for row in rows.values() if len(row) == len(codes)]
    groups = {"total": codes, **{sub: [c for c in codes if rated[c] == sub] for sub in ("goals", "tasks", "bond")}}
    alpha = {
        name: engine.compute_reliability([[row[c] for c in group] for row in complete])
        for name, group in groups.items()
    }
    return {name: round(value, 3) for name, value in alpha.items() if value is not None}
