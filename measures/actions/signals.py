"""Flags (signals) handled by the therapist: seen, acknowledged, resolved.

The engine's side (opening, escalating, clearing) is measures.evaluation's reconciler; both
append to the flag's SignalAction history, the therapist's rows with their actor.
"""

from django.db import transaction
from django.utils import timezone

from sessions_app.models import Case

from .. import repairs
from ..models import Signal, SignalAction


def do_mark_case_flags_seen(case, *, acting_user, now=None):
    """The case's therapist opened the case page: its open flags are no longer "new".

    Only the therapist's own look counts (a clinic admin reading the case changes nothing), so
    seen_at itself records who: the case's therapist. Returns the number of flags marked; the
    conditional update makes a reload a no-op.
    """
    if case.therapist_id != acting_user.pk:
        return 0
    return Signal.objects.open().filter(case=case, seen_at__isnull=True).update(seen_at=now or timezone.now())


def _lock_case(case_id):
    # The reconciler (measures.evaluation) holds this row lock while it rewrites a case's flags;
    # taking it here keeps a therapist's change and an evaluation from interleaving.
    Case.objects.select_for_update().filter(pk=case_id).values_list("pk", flat=True).first()


def _move_signal(signal, *, from_statuses, to, action, acting_user, now, closed=False, **history):
    """The one shape of a therapist's change to a flag: under the case lock, move it from one of
    `from_statuses` to `to` with a conditional update (a double click or a stale page changes
    nothing), append a SignalAction with the actor, and mirror the change on `signal`."""
    fields = {"status": to, "updated_at": now, **({"closed_at": now} if closed else {})}
    with transaction.atomic():
        _lock_case(signal.case_id)
        changed = Signal.objects.filter(pk=signal.pk, status__in=from_statuses).update(**fields)
        if changed:
            SignalAction.objects.create(
                signal_id=signal.pk,
                actor=acting_user,
                action=action,
                severity=signal.severity,
                created_at=now,
                **history,
            )
    if changed:
        for name, value in fields.items():
            setattr(signal, name, value)
    return bool(changed)


def do_acknowledge_signal(signal, *, acting_user, now=None):
    """Mark an open flag acknowledged ("I have seen it and will address it"). Returns True if it changed.

    Only an OPEN flag changes; acknowledging twice (a double click), or a resolved or cleared
    flag, is a no-op that writes nothing, as is an informational note (not a flag). Appends an
    ACKNOWLEDGED SignalAction.
    """
    if signal.severity == Signal.Severity.INFO:
        return False
    return _move_signal(
        signal,
        from_statuses=[Signal.Status.OPEN],
        to=Signal.Status.ACKNOWLEDGED,
        action=SignalAction.Action.ACKNOWLEDGED,
        acting_user=acting_user,
        now=now or timezone.now(),
    )


def do_resolve_signal(signal, *, repair, note, acting_user, suggestion="", now=None):
    """Close an open or acknowledged flag with what was done about it. Returns True if it changed.

    `repair` is a SignalAction.Repair value, `note` a short free text (may be empty),
    `suggestion` the key of the kind's repair suggestion that was used (measures.repairs), OTHER,
    or "" when the therapist did not say; an informational note cannot be resolved. The flag
    keeps holds=True: while the engine still finds the condition, the reconciler reopens it
    only on a more severe finding, not on every re-evaluation. A second submission (double
    click) or a flag already closed is a no-op. Appends a RESOLVED SignalAction.
    """
    if repair not in SignalAction.Repair.values:
        raise ValueError(f"unknown repair {repair!r}")
    if suggestion and not repairs.is_known_choice(signal.kind, suggestion):
        raise ValueError(f"suggestion {suggestion!r} is not one for {signal.kind!r}")
    if signal.severity == Signal.Severity.INFO:
        return False  # a note informs; only warnings and alerts are flags to resolve
    return _move_signal(
        signal,
        from_statuses=Signal.OPEN_STATUSES,
        to=Signal.Status.RESOLVED,
        action=SignalAction.Action.RESOLVED,
        acting_user=acting_user,
        now=now or timezone.now(),
        closed=True,
        repair=repair,
        suggestion=suggestion,
        note=note.strip(),
    )
