"""A client's answers: stored with their scores, in one transaction with the invitation's completion."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Answer, Item, Response, SurveyInvitation
from ..queue import queue_on_commit
from ..scoring import compute_scores
from .invitations import SurveyClosed


def do_submit_response(invitation, values, *, items, note="", now=None):
    """Store a participant's answers, their scores and the invitation's completion, atomically.

    `values` maps item code → validated value. Raises SurveyClosed("completed") when the
    invitation is already completed, including by a concurrent submission; then nothing is written.
    Raises SurveyClosed("expired") past the invitation's expiry. Re-evaluation of the case is
    queued on commit. The actor is the invitation's participant (a client has no account): the
    Response row and completed_at are the record.
    """
    now = now or timezone.now()
    scores = compute_scores(items, values)
    try:
        with transaction.atomic():
            # Claim the invitation: of concurrent submissions exactly one updates the row (the
            # others wait on its row lock, then find completed_at set and update nothing).
            claimed = SurveyInvitation.objects.open(now).filter(pk=invitation.pk).update(completed_at=now)
            if not claimed:
                raise SurveyClosed("expired" if invitation.is_expired(now) else "completed")
            response = store_response(invitation, items, values, scores=scores, submitted_at=now, note=note)
            queue_on_commit("measures.tasks.evaluate_case", invitation.session.case_id)
    except IntegrityError as exc:
        # A concurrent submission won the race on the response's unique constraints.
        raise SurveyClosed() from exc
    invitation.completed_at = now
    return response


def store_response(invitation, items, values, *, submitted_at, scores=None, note=""):
    """Write a Response with its stored scores and one Answer per answered item. No checks, no
    claim, no queueing: do_submit_response wraps it for clients; the demo seeding and the test
    builders use it to lay down history exactly as a submission stores it."""
    scores = scores or compute_scores(items, values)
    response = Response.objects.create(
        invitation=invitation,
        session_id=invitation.session_id,
        participant_id=invitation.participant_id,
        instrument=items[0].instrument,
        submitted_at=submitted_at,
        goals=scores.goals,
        tasks=scores.tasks,
        bond=scores.bond,
        total=scores.total,
        shared=scores.shared,
        rupture=scores.rupture,
        rupture_type=scores.rupture_type,
        note=note,
    )
    Answer.objects.bulk_create(
        Answer(
            response=response,
            item=item,
            value=_stored_value(item, values.get(item.code)),
            text=(values.get(item.code) or "") if item.kind in (Item.Kind.TEXT, Item.Kind.CHOICE) else "",
            scale_min=_range(item)[0],
            scale_max=_range(item)[1],
        )
        for item in items
        if values.get(item.code) not in (None, "")
    )
    return response


def _range(item):
    if item.kind == Item.Kind.YES_NO:
        return 0, 1
    if item.kind == Item.Kind.CHOICE:  # the option's position, its code in text
        return 0, len(item.options) - 1
    return item.scale_min, item.scale_max


def _stored_value(item, value):
    if item.kind == Item.Kind.RATING:
        return value
    if item.kind == Item.Kind.CHOICE:
        return item.options.index(value) if value in item.options else None
    if item.kind == Item.Kind.YES_NO:
        return None if value is None else int(bool(value))
    return None
