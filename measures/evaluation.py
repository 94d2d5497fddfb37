"""Running the early-warning engine on a case and reconciling its Signal rows.

The engine (measures.engine) is pure; this module is its only adapter to the database:
load a case's whole series in a fixed number of queries, compute, then bring the open flags
in line with what the engine finds now — idempotently, so a retried or concurrent task changes
nothing the second time.
"""

import dataclasses
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions_app.models import Case, Participant, TherapySession

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


# The clinic's flag sensitivity (accounts.Clinic.sensitivity) → how strong a confirmed drop must
# be (the engine's z_confirm; its default 2.6 is "standard"). Sensitive flags earlier and more
# often wrongly; cautious waits for clearer drops. Must stay above z_drop (1.96).
Z_CONFIRM_BY_SENSITIVITY = {"cautious": 3.0, "standard": 2.6, "sensitive": 2.2}


def engine_settings_for(clinic):
    """The clinic's cutoff and flag sensitivity, with reliability and spread from its own data
    when it has enough."""
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
        z_confirm=Z_CONFIRM_BY_SENSITIVITY.get(clinic.sensitivity, defaults.z_confirm),
        reliability={**defaults.reliability, **reliability},
        spread={**defaults.spread, **spread},
    )
    if calibration is not None and calibration.engagement_rate is not None:
        settings = dataclasses.replace(settings, engagement_prior_rate=calibration.engagement_rate)
    return settings


def do_evaluate_case(case_id, *, now=None, notify=True):
    """Re-evaluate one case and reconcile its flags. Returns the CaseResult, or None if gone.

    The engine acts here, not a person: its SignalAction rows have no actor (the system).
    Contract: at most one open flag per participant and kind (also enforced by a constraint);
    a stronger finding escalates the open flag in place; a flag whose finding no longer holds
    is closed as 'cleared' and kept; a flag the therapist resolved while its condition persists
    is reopened only by a more severe finding. Running it again changes nothing.
    New or escalated alerts are emailed to the therapist on commit unless notify is False
    (the demo seeding: history is not news).
    """
    now = now or timezone.now()
    for attempt in range(2):
        try:
            with transaction.atomic():
                # Lock the case first, then read: an evaluation that started before a newer one
                # committed would otherwise apply its older verdict on top (flags flicker, alerts
                # are emailed twice). PostgreSQL row lock; SQLite serialises writers anyway.
                case = (
                    Case.objects.select_for_update(of=("self",))
                    .select_related("clinic", "clinic__calibration")
                    .filter(pk=case_id)
                    .first()
                )
                if case is None:
                    return None
                participants, sessions, series = load_observations(case, now=now)
                labels = {str(p.pk): p.first_name for p in participants}
                result = engine.compute_case(series, engine_settings_for(case.clinic), labels)
                _reconcile(case, result, sessions, now, notify)
            return result
        except IntegrityError:
            # A concurrent evaluation of the same case won on SQLite (no row locks); its
            # outcome is the same as ours, so one retry sees it and changes nothing.
            if attempt:
                raise
    return None


def _reconcile(case, result, sessions, now, notify):
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

    to_notify = []
    for key, finding in active.items():
        session = session_by_number.get(finding.session_number)
        rank = Signal.SEVERITY_RANK[finding.severity]
        signal = open_by_key.get(key)
        if signal is not None:
            if rank > signal.severity_rank:
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
