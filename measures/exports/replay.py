"""The clinic's session history in the replay format (DESIGN.md "Replay format").

The rows are what measures.evaluation.load_observations gives the engine for each case, so that
`manage.py replay` of the file finds what the live app finds: the same sessions counted and
numbered (TherapySession.counted), the active participants, the stored scores, the pending
checks. Four queries for the whole scope. A date range does not apply: a history cut at its start would number the
sessions differently and start every usual level afresh.
"""

import dataclasses

from ..engine import EngineSettings
from ..engine.contract import REPLAY_EXPORT_COLUMNS
from ..engine.replay import history_rows
from ..evaluation import load_case_series

COLUMNS = REPLAY_EXPORT_COLUMNS


def _writable(obs):
    # A check stored for a session later marked missed cannot be written (the replay refuses
    # scores on a session not attended); the engine does not read it there either.
    if obs.attended:
        return obs
    return dataclasses.replace(obs, goals=None, tasks=None, bond=None, rupture=None, rupture_type=None)


def replay_rows(scope, *, now=None):
    """Rows in REPLAY_EXPORT_COLUMNS order (case_id is the case reference, pending checks marked):
    one per active participant per counted session, built from the very series the live engine is
    given (measures.evaluation.load_case_series). Four queries for the whole scope."""
    for case, people in load_case_series(clinic=scope.clinic, case=scope.case, now=now):
        for participant, observations in people:
            yield from history_rows(case.reference, participant.pk, [_writable(obs) for obs in observations])


def replay_options(settings: EngineSettings, strictness=None):
    """The `manage.py replay` options that make it use the live app's settings for this clinic:
    ``settings`` before the budget's strictness and the stored ``strictness`` (both from
    measures.evaluation.engine_settings_parts).

    --no-calibrate, because the app's calibration is rounded and needs 100 answered checks where
    the replay's needs none, so the two would differ slightly; the clinic's effective reliability,
    spread, confirmation bar (its flag sensitivity) and usual rate of missed checks are given
    instead, and the strictness it keeps its budget with, which the replay then does not refit.
    """
    options = [
        "--no-calibrate",
        f"--cutoff={settings.cutoff!r}",
        "--reliability=" + ",".join(f"{k}={v!r}" for k, v in sorted(settings.reliability.items())),
        "--spread=" + ",".join(f"{k}={v!r}" for k, v in sorted(settings.spread.items())),
    ]
    defaults = EngineSettings()
    if settings.z_confirm != defaults.z_confirm:
        options.append(f"--z-confirm={settings.z_confirm!r}")
    if settings.engagement_prior_rate != defaults.engagement_prior_rate:
        options.append(f"--engagement-rate={settings.engagement_prior_rate!r}")
    if strictness is not None:
        options.append(f"--strictness={strictness!r}")
    return options
