"""The clinic's session history in the replay format (DESIGN.md "Replay format").

The rows are what measures.evaluation.load_observations gives the engine for each case, so that
`manage.py replay` of the file finds what the live app finds: the same sessions counted and
numbered (TherapySession.counted), the active participants, the stored scores. Three queries
for the whole scope. A date range does not apply: a history cut at its start would number the
sessions differently and start every usual level afresh.
"""

import dataclasses

from django.utils import timezone

from sessions_app.models import Participant, TherapySession

from ..engine import EngineSettings
from ..engine.contract import REPLAY_COLUMNS
from ..models import Response

COLUMNS = REPLAY_COLUMNS


def _scores(response):
    # A check stored for a session later marked missed cannot be written (the replay refuses
    # scores on a session not attended); the engine's own input keeps them, on a missed session.
    return (response.goals, response.tasks, response.bond, "" if response.rupture is None else response.rupture)


def replay_rows(scope, *, now=None):
    """(client_id, case_id = the case reference, session_number, session_date, attended, goals, tasks, bond, rupture)
    rows: one per active participant per counted session, cases in id order. Three queries."""
    now = now or timezone.now()
    case_filter = {"case__clinic": scope.clinic} if scope.case is None else {"case": scope.case}
    participants = list(
        Participant.objects.filter(is_active=True, **case_filter)
        .select_related("case")
        .only("id", "case_id", "case__reference")
    )
    sessions_by_case = {}
    for session in TherapySession.objects.filter(
        status__in=TherapySession.COUNTED, scheduled_start__lte=now, **case_filter
    ).only("id", "case_id", "scheduled_start", "status"):
        sessions_by_case.setdefault(session.case_id, []).append(session)
    responses = {
        (r.participant_id, r.session_id): r
        for r in Response.objects.filter(**{f"session__{key}": value for key, value in case_filter.items()}).only(
            "participant_id", "session_id", "goals", "tasks", "bond", "rupture"
        )
    }
    participants.sort(key=lambda p: (p.case_id, p.pk))
    for participant in participants:
        sessions = TherapySession.counted(sessions_by_case.get(participant.case_id, []), now)
        for number, session in enumerate(sessions, start=1):
            attended = session.status == TherapySession.Status.ATTENDED
            response = responses.get((participant.pk, session.pk)) if attended else None
            scores = _scores(response) if response is not None else ("", "", "", "")
            yield (participant.pk, participant.case.reference, number, session.scheduled_start.date().isoformat(),
                   int(attended), *scores)  # fmt: skip


def replay_options(settings: EngineSettings):
    """The `manage.py replay` options that make it use the live app's settings for this clinic.

    --no-calibrate, because the app's calibration is rounded and needs 100 answered checks where
    the replay's needs none, so the two would differ slightly; the clinic's effective reliability
    and spread are given instead. Returns (options, exact): exact is False when the clinic's own
    usual rate of missed checks is in use, which the replay command cannot be given.
    """
    options = [
        "--no-calibrate",
        f"--cutoff={settings.cutoff!r}",
        "--reliability=" + ",".join(f"{k}={v!r}" for k, v in sorted(settings.reliability.items())),
        "--spread=" + ",".join(f"{k}={v!r}" for k, v in sorted(settings.spread.items())),
    ]
    default_rate = dataclasses.fields(EngineSettings)
    default_rate = next(f.default for f in default_rate if f.name == "engagement_prior_rate")
    return options, settings.engagement_prior_rate == default_rate
