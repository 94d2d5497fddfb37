"""Running the early-warning engine on a case and reconciling its Signal rows.

The engine (measures.engine) is pure; this module is its only adapter to the database:
load a case's whole series in a fixed number of queries, compute, then bring the open flags
in line with what the engine finds now — idempotently, so a retried or concurrent task changes
nothing the second time.
"""

import dataclasses
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from sessions_app.models import Case, CaseEvent, Participant, TherapySession

from . import engine
from .definitions import SERIES
from .engine.calibration import compute_calibration
from .models import Answer, CaseEvaluation, ClinicCalibration, Instrument, Response, Signal, SignalAction
from .queue import queue_on_commit

logger = logging.getLogger(__name__)

# Sessions that count in a participant's series: those that took place or were missed.
COUNTED = TherapySession.COUNTED


def _float(value):
    return None if value is None else float(value)


def load_observations(case, *, now=None):
    """participant id (str) → list[engine.Observation], in session order. Three queries."""
    now = now or timezone.now()
    participants = list(case.participants.filter(is_active=True))
    sessions = TherapySession.counted(case.sessions.filter(status__in=COUNTED, scheduled_start__lte=now), now)
    responses = {
        (r.participant_id, r.session_id): r
        for r in Response.objects.filter(session__case=case).only(
            "participant_id", "session_id", "goals", "tasks", "bond", "rupture"
        )
    }
    return participants, sessions, _series(participants, sessions, responses)


def load_clinic_observations(clinic, *, now=None):
    """Every participant's series in the clinic (for calibration). Three queries in all."""
    now = now or timezone.now()
    participants = list(Participant.objects.filter(case__clinic=clinic, is_active=True))
    sessions_by_case = {}
    for session in TherapySession.objects.filter(
        case__clinic=clinic, status__in=COUNTED, scheduled_start__lte=now
    ).order_by("scheduled_start"):
        sessions_by_case.setdefault(session.case_id, []).append(session)
    responses = {
        (r.participant_id, r.session_id): r
        for r in Response.objects.filter(session__case__clinic=clinic).only(
            "participant_id", "session_id", "goals", "tasks", "bond", "rupture"
        )
    }
    series = []
    for participant in participants:
        sessions = sessions_by_case.get(participant.case_id, [])
        series.extend(_series([participant], sessions, responses).values())
    return series


def _series(participants, sessions, responses):
    series = {}
    for participant in participants:
        observations = []
        for number, session in enumerate(sessions, start=1):
            response = responses.get((participant.pk, session.pk))
            observations.append(
                engine.Observation(
                    session_number=number,
                    session_date=session.scheduled_start.date(),
                    attended=session.status == TherapySession.Status.ATTENDED,
                    goals=_float(response.goals) if response else None,
                    tasks=_float(response.tasks) if response else None,
                    bond=_float(response.bond) if response else None,
                    rupture=response.rupture if response else None,
                )
            )
        series[str(participant.pk)] = observations
    return series


def engine_settings_for(clinic):
    """The clinic's cutoff, with reliability and spread from its own data when it has enough."""
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    psychometrics = instrument.psychometrics if instrument else {}
    reliability = dict(psychometrics.get("reliability", {}))
    spread = dict(psychometrics.get("spread", {}))
    try:
        calibration = clinic.calibration  # select_related by do_evaluate_case: no extra query there
    except ClinicCalibration.DoesNotExist:
        calibration = None
    if calibration is not None:
        reliability.update({k: v for k, v in calibration.reliability.items() if k in SERIES})
        spread.update({k: v for k, v in calibration.spread.items() if k in SERIES})
    defaults = engine.EngineSettings()
    settings = engine.EngineSettings(
        cutoff=float(clinic.alliance_cutoff),
        reliability={**defaults.reliability, **reliability},
        spread={**defaults.spread, **spread},
    )
    if calibration is not None and calibration.engagement_rate is not None:
        settings = dataclasses.replace(settings, engagement_prior_rate=calibration.engagement_rate)
    return settings


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
                result = engine.compute_case(series, engine_settings_for(case.clinic), labels)
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
    removed): sessions_app marks its CaseEvent {"correction": true}. Two queries.
    """
    last = CaseEvaluation.objects.filter(case=case).values_list("evaluated_at", flat=True).first()
    if last is None:
        return ""  # never evaluated: no flag to correct
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

    def corrected(signal, severity=""):
        SignalAction.objects.create(
            signal=signal, action=SignalAction.Action.CORRECTED, severity=severity, note=correction, created_at=now
        )

    to_notify = []
    for key, finding in active.items():
        session = session_by_number.get(finding.session_number)
        rank = Signal.SEVERITY_RANK[finding.severity]
        signal = open_by_key.get(key)
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

    verdict = {
        "risk_score": result.risk_score,
        "summary": {pid: _summary_json(summary) for pid, summary in result.summaries.items()},
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


def do_calibrate_clinic(clinic, *, now=None):
    """Estimate the engine's reliability, spread and usual missed-check rate from the clinic's
    own data, and Cronbach's alpha of each subscale's items for the clinic overview.

    The engine's reliability is the share of first-session variance that is not session-to-session
    noise (what the reliable-change index needs for repeated measurement of one person); alpha,
    internal consistency, is reported beside it but not used, because two near-duplicate items give
    an alpha near 1 that would make every wobble look "reliable". Spread is the SD of each client's
    first answered check. Returns the ClinicCalibration, or None while the clinic has fewer than
    100 answered checks from 30 clients (the instrument's defaults then stay in use).
    """
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    if instrument is None:
        return None
    answered = Response.objects.filter(session__case__clinic=clinic).count()
    estimate = compute_calibration(load_clinic_observations(clinic, now=now), minimum=CALIBRATION_MIN_PARTICIPANTS)
    if answered < CALIBRATION_MIN_RESPONSES or estimate is None:
        return None
    calibration, _ = ClinicCalibration.objects.update_or_create(
        clinic=clinic,
        defaults={
            "instrument": instrument,
            "reliability": {k: round(v, 3) for k, v in estimate.reliability.items()},
            "spread": {k: round(v, 3) for k, v in estimate.spread.items()},
            "engagement_rate": round(estimate.engagement_rate, 3),
            "alpha": compute_clinic_alpha(clinic, instrument),
            "responses": answered,
            "first_sessions": estimate.participants,
            "computed_at": now or timezone.now(),
        },
    )
    return calibration


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
