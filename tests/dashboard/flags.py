"""Builders for flags as the reconciler leaves them (tests of the dashboard only)."""

from django.utils import timezone

from measures.models import Signal, SignalAction


def make_signal(case, participant=None, *, kind="reliable_drop", severity="alert", session=None, **fields):
    participant = participant or case.participants.first()
    now = timezone.now()
    signal = Signal.objects.create(
        case=case,
        participant=participant,
        session=session,
        kind=kind,
        severity=severity,
        subscale="total",
        evidence=fields.pop("evidence", {"baseline": 8.72, "current": 4.0, "threshold": 1.5}),
        message=fields.pop("message", "The total fell from a usual 8.7 to 4.0."),
        opened_at=now,
        updated_at=now,
        **fields,
    )
    SignalAction.objects.create(signal=signal, action="opened", severity=severity, created_at=now)
    return signal
