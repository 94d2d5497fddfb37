"""Reported rupture: the client's own answer that something felt off in the session.

What kind of rupture it was, when the client says (contract.RUPTURE_TYPES), changes how much an
unresolved one weighs. A withdrawal (held back, went along) not talked through is a warning, an
alert with a score signal, as any unresolved rupture. A confrontation (disagreed, felt
criticised) not talked through is an alert at once: observed confrontation ruptures predict
dropout at d ≈ .74 (an odds ratio of about 3.8), as strong as a confirmed score drop, so it
should not wait for the scores to confirm it. One talked through is a note, whatever its kind.
"""

from __future__ import annotations

from ..baseline import ALERT, INFO, WARNING, State
from ..contract import (
    NO_SUBSCALE,
    RUPTURE_TALKED_THROUGH,
    RUPTURE_TYPE_CONFRONTATION,
    RUPTURE_TYPE_WITHDRAWAL,
    RUPTURE_UNREPAIRED,
)
from ..data import Observation
from ..wording import rupture_message

# The client's own words for the kind, in the message.
KIND_WORDS = {
    RUPTURE_TYPE_WITHDRAWAL: "they held back or went along with something",
    RUPTURE_TYPE_CONFRONTATION: "they disagreed or felt criticised",
}


def step_rupture(
    obs: Observation,
    is_answered: bool,
    is_score_signal: bool,
    prior: State | None,
) -> State | None:
    """The rupture state at one session; the detector keeps no state of its own.

    is_score_signal: a drop at this check, or a sustained decline that holds (an unrepaired
    rupture with one is an alert, as is an unrepaired confrontation). A session without a check
    keeps the previous state.
    """
    if obs.attended and obs.rupture is not None:
        evidence = {"rupture": obs.rupture, "session": obs.session_number}
        kind = obs.rupture_type if obs.rupture in (RUPTURE_UNREPAIRED, RUPTURE_TALKED_THROUGH) else None
        if kind in KIND_WORDS:
            evidence["rupture_type"] = kind
        said = KIND_WORDS.get(kind, "")
        if obs.rupture == RUPTURE_UNREPAIRED:
            is_alert = is_score_signal or kind == RUPTURE_TYPE_CONFRONTATION
            return State(
                level=ALERT if is_alert else WARNING,
                subscale=NO_SUBSCALE,
                evidence=evidence,
                message=rupture_message(obs.session_number, talked_through=False, kind_words=said),
            )
        if obs.rupture == RUPTURE_TALKED_THROUGH:
            return State(
                level=INFO,
                subscale=NO_SUBSCALE,
                evidence=evidence,
                message=rupture_message(obs.session_number, talked_through=True, kind_words=said),
            )
        return None
    if not is_answered:
        return prior
    return None
