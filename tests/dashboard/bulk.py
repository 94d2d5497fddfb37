"""Many cases fast: bulk_create rows as submissions and evaluations leave them (for query counts)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from measures.models import Answer, CaseEvaluation, Instrument, Response, Signal, SurveyInvitation
from sessions_app.models import Case, Participant, TherapySession


def bulk_caseload(therapist, cases=5, sessions=3, prefix="B"):
    """`cases` active cases (every third a couple), each with `sessions` attended weekly sessions
    answered by everyone, one upcoming session, an evaluation, and an open flag on every other case."""
    now = timezone.now()
    instrument = Instrument.objects.for_clinic(therapist.clinic)
    item = instrument.items.filter(kind="rating").first()
    built = Case.objects.bulk_create(
        Case(
            clinic=therapist.clinic,
            therapist=therapist,
            reference=f"{prefix}-{i:04d}",
            kind=Case.Kind.COUPLE if i % 3 == 0 else Case.Kind.INDIVIDUAL,
        )
        for i in range(cases)
    )
    people = Participant.objects.bulk_create(
        Participant(case=case, display_name=f"Person{i}{j} Bulk")
        for i, case in enumerate(built)
        for j in range(2 if case.kind == Case.Kind.COUPLE else 1)
    )
    by_case = {}
    for person in people:
        by_case.setdefault(person.case_id, []).append(person)
    rows = TherapySession.objects.bulk_create(
        TherapySession(
            case=case,
            scheduled_start=now - timedelta(days=7 * (sessions - k)),
            status=TherapySession.Status.ATTENDED,
        )
        for case in built
        for k in range(sessions)
    )
    TherapySession.objects.bulk_create(
        TherapySession(case=case, scheduled_start=now + timedelta(days=3)) for case in built
    )
    invitations = SurveyInvitation.objects.bulk_create(
        SurveyInvitation(
            session=session,
            participant=person,
            created_at=session.scheduled_start,
            expires_at=session.scheduled_start + timedelta(days=4),
            sent_at=session.scheduled_start,
            completed_at=session.scheduled_start + timedelta(hours=1),
        )
        for session in rows
        for person in by_case[session.case_id]
    )
    score = Decimal("8.00")
    responses = Response.objects.bulk_create(
        Response(
            invitation=invitation,
            session_id=invitation.session_id,
            participant_id=invitation.participant_id,
            instrument=instrument,
            goals=score,
            tasks=score,
            bond=score,
            total=score,
            rupture=0,
            note="A synthetic note",
        )
        for invitation in invitations
    )
    Answer.objects.bulk_create(
        Answer(response=response, item=item, value=5, scale_min=item.scale_min, scale_max=item.scale_max)
        for response in responses
    )
    CaseEvaluation.objects.bulk_create(
        CaseEvaluation(
            case=case,
            risk_score=(i * 7) % 100,
            summary={
                str(person.pk): {
                    "baseline": 8.0,
                    "latest": {"goals": 8.0, "tasks": 8.0, "bond": 8.0, "total": 8.0},
                    "answered": sessions,
                    "scheduled": sessions,
                    "trend": "flat",
                }
                for person in by_case[case.pk]
            },
        )
        for i, case in enumerate(built)
    )
    Signal.objects.bulk_create(
        Signal(
            case=case,
            participant=by_case[case.pk][0],
            session=None,
            kind="reliable_drop",
            severity="warning",
            message="The total fell.",
            evidence={"baseline": 8.5, "current": 6.0},
        )
        for i, case in enumerate(built)
        if i % 2 == 0
    )
    return built
