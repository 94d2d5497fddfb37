"""Reported rupture: the client's own answer that something felt off in the session."""

from __future__ import annotations

from ..baseline import ALERT, INFO, WARNING, State
from ..contract import NO_SUBSCALE, RUPTURE_TALKED_THROUGH, RUPTURE_UNREPAIRED
from ..data import Observation
from ..wording import rupture_message


def step_rupture(
    obs: Observation,
    is_answered: bool,
    is_score_signal: bool,
    prior: State | None,
) -> State | None:
    """The rupture state at one session; the detector keeps no state of its own.

    is_score_signal: a drop at this check, or a sustained decline that holds (an unrepaired
    rupture with one is an alert). A session without a check keeps the previous state.
    """
    if obs.attended and obs.rupture is not None:
        evidence = {"rupture": obs.rupture, "session": obs.session_number}
        if obs.rupture == RUPTURE_UNREPAIRED:
            return State(
                level=ALERT if is_score_signal else WARNING,
                subscale=NO_SUBSCALE,
                evidence=evidence,
                message=rupture_message(obs.session_number, talked_through=False),
            )
        if obs.rupture == RUPTURE_TALKED_THROUGH:
            return State(
                level=INFO,
                subscale=NO_SUBSCALE,
                evidence=evidence,
                message=rupture_message(obs.session_number, talked_through=True),
            )
        return None
    if not is_answered:
        return prior
    return None
