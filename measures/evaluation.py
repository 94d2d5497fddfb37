"""Running the early-warning engine on a case and reconciling its Signal rows.

The engine (measures.engine) is pure; this module is its only adapter to the database:
load a case's whole series in a fixed number of queries, compute, then bring the open flags
in line with what the engine finds now — idempotently, so a retried or concurrent task changes
nothing the second time.
"""

import logging
import statistics

from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions_app.models import Case, TherapySession

from . import engine
from .definitions import SERIES
from .models import Answer, CaseEvaluation, ClinicCalibration, Instrument, Response, Signal, SignalAction

logger = logging.getLogger(__name__)

# Sessions that count in a participant's series: those that took place or were missed.
COUNTED = (TherapySession.Status.ATTENDED, TherapySession.Status.NO_SHOW, TherapySession.Status.LATE_CANCELLED)


def _float(value):
    return None if value is None else float(value)


def load_observations(case, *, now=None):
    """participant id (str) → list[engine.Observation], in session order. Three queries."""
    now = now or timezone.now()
    participants = list(case.participants.filter(is_active=True))
    sessions = list(case.sessions.filter(status__in=COUNTED, scheduled_start__lte=now).order_by("scheduled_start"))
    responses = {
        (r.participant_id, r.session_id): r
        for r in Response.objects.filter(session__case=case).only(
            "participant_id", "session_id", "goals", "tasks", "bond", "rupture"
        )
    }
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
    return participants, sessions, series


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
    return engine.EngineSettings(
        cutoff=float(clinic.alliance_cutoff),
        reliability={**defaults.reliability, **reliability},
        spread={**defaults.spread, **spread},
    )


def do_evaluate_case(case_id, *, now=None, notify=True):
    """Re-evaluate one case and reconcile its flags. Returns the CaseResult, or None if gone.

    Contract: at most one open flag per participant and kind (also enforced by a constraint);
    a stronger finding escalates the open flag in place; a flag whose finding no longer holds
    is closed as 'cleared' and kept; a flag the therapist resolved while its condition persists
    is reopened only by a more severe finding. Running it again changes nothing.
    New or escalated alerts are emailed to the therapist on commit unless notify is False
    (the demo seeding: history is not news).
    """
    now = now or timezone.now()
    case = Case.objects.select_related("clinic", "clinic__calibration").filter(pk=case_id).first()
    if case is None:
        return None
    participants, sessions, series = load_observations(case, now=now)
    result = engine.compute_case(series, engine_settings_for(case.clinic))
    for attempt in range(2):
        try:
            with transaction.atomic():
                _reconcile(case, result, sessions, now, notify)
            break
        except IntegrityError:
            # A concurrent evaluation of the same case won on SQLite (no row locks); its
            # outcome is the same as ours, so one retry sees it and changes nothing.
            if attempt:
                raise
    return result


def _reconcile(case, result, sessions, now, notify):
    # Serialise evaluations of one case (PostgreSQL row lock; SQLite serialises writers anyway).
    Case.objects.select_for_update().filter(pk=case.pk).first()
    session_by_number = dict(enumerate(sessions, start=1))
    active = {(int(f.participant_id), f.kind): f for f in result.active}
    signals = list(
        Signal.objects.filter(case=case).filter(status__in=Signal.OPEN_STATUSES)
        | Signal.objects.filter(case=case, holds=True)
    )
    open_by_key = {(s.participant_id, s.kind): s for s in signals if s.is_open}
    resolved_holding = {}
    for signal in signals:
        if signal.status == Signal.Status.RESOLVED and signal.holds:
            key = (signal.participant_id, signal.kind)
            current = resolved_holding.get(key)
            if current is None or signal.severity_rank > current.severity_rank:
                resolved_holding[key] = signal

    to_notify = []
    for key, finding in active.items():
        session = session_by_number.get(finding.session_number)
        rank = Signal.SEVERITY_RANK[finding.severity]
        signal = open_by_key.get(key)
        if signal is not None:
            if rank > signal.severity_rank:
                _update(signal, finding, session, now, severity=finding.severity, seen_at=None)
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
            SignalAction.objects.create(signal=signal, action=SignalAction.Action.CLEARED, created_at=now)
        elif signal.holds:
            Signal.objects.filter(pk=signal.pk).update(holds=False)

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
        from .actions import enqueue_safely
        from .tasks import send_flag_alert

        for pk in alerts:
            transaction.on_commit(lambda pk=pk: enqueue_safely(send_flag_alert, pk))


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

# Below these, a clinic's own estimates are noisier than the instrument's published defaults.
CALIBRATION_MIN_RESPONSES = 100
CALIBRATION_MIN_FIRST_SESSIONS = 30


def do_calibrate_clinic(clinic, *, now=None):
    """Estimate reliability (Cronbach's alpha over item answers) and spread (SD of each client's
    first answered check) from the clinic's own data, and store them for the engine.

    Returns the ClinicCalibration, or None while the clinic has too little data (the instrument's
    defaults then stay in use). Re-running it on the same data gives the same numbers.
    """
    instrument = Instrument.objects.latest_version(clinic.instrument_code)
    if instrument is None:
        return None
    rated = {
        item.code: item.subscale
        for item in instrument.items.filter(kind="rating", audience="all", subscale__in=["goals", "tasks", "bond"])
    }
    rows = {}
    for response_id, code, value in Answer.objects.filter(
        response__session__case__clinic=clinic, response__instrument=instrument, item__code__in=rated
    ).values_list("response_id", "item__code", "value"):
        rows.setdefault(response_id, {})[code] = value
    complete = [row for row in rows.values() if len(row) == len(rated)]
    first_scores = _first_session_scores(clinic, instrument)
    if len(complete) < CALIBRATION_MIN_RESPONSES or len(first_scores) < CALIBRATION_MIN_FIRST_SESSIONS:
        return None
    codes = sorted(rated)
    reliability = {"total": engine.compute_reliability([[row[c] for c in codes] for row in complete])}
    for subscale in ("goals", "tasks", "bond"):
        sub_codes = [c for c in codes if rated[c] == subscale]
        reliability[subscale] = engine.compute_reliability([[row[c] for c in sub_codes] for row in complete])
    spread = {series: statistics.stdev([float(s[series]) for s in first_scores]) for series in SERIES}
    calibration, _ = ClinicCalibration.objects.update_or_create(
        clinic=clinic,
        defaults={
            "instrument": instrument,
            # A degenerate estimate (no variance) is left out; the instrument's default then applies.
            "reliability": {k: round(v, 3) for k, v in reliability.items() if v is not None and 0 < v < 1},
            "spread": {k: round(v, 3) for k, v in spread.items() if v > 0},
            "responses": len(complete),
            "first_sessions": len(first_scores),
            "computed_at": now or timezone.now(),
        },
    )
    return calibration


def _first_session_scores(clinic, instrument):
    """Each participant's earliest answered check (goals/tasks/bond/total), one query."""
    firsts = {}
    for response in (
        Response.objects.filter(session__case__clinic=clinic, instrument=instrument)
        .order_by("participant_id", "session__scheduled_start")
        .values("participant_id", "goals", "tasks", "bond", "total")
    ):
        firsts.setdefault(response["participant_id"], response)
    return list(firsts.values())
