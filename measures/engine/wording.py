"""Every sentence the engine writes: one function per finding, each claim matching its evidence.

Numbers are shown with one decimal. The detectors decide; this module only words.
"""

from __future__ import annotations

from .contract import (
    KIND_LOW_SCORE,
    KIND_RELIABLE_DROP,
    KIND_RUPTURE,
    KIND_SUSTAINED_DECLINE,
    SERIES_LABELS,
)

# A series as the subject of a sentence.
SUBJECT = {**SERIES_LABELS, "total": "The total"}
# How an engagement message names the signal a lapse follows.
AFTER_SIGNAL = {
    KIND_RELIABLE_DROP: " after a drop in the scores",
    KIND_SUSTAINED_DECLINE: " after a sustained decline in the scores",
    KIND_LOW_SCORE: " after low scores",
    KIND_RUPTURE: " after a reported rupture that was not talked through",
}
AFTER_CEILING = " after a run of full marks"


def fmt(value: float) -> str:
    """A score or a threshold as the sentences show it."""
    return f"{value:.1f}"


def drop_message(series: str, usual: float, current: float, threshold: float) -> str:
    return (
        f"{SUBJECT[series]} fell from a usual {fmt(usual)} to {fmt(current)} — "
        f"more than the {fmt(threshold)} points that noise explains."
    )


def sustained_message(usual: float, checks: int, current: float) -> str:
    return (
        f"The total has stayed below the usual {fmt(usual)} for "
        f"{checks} checks (now {fmt(current)}) — a sustained decline, "
        "not session-to-session noise."
    )


def low_fell_message(cutoff: float, current: float, usual: float) -> str:
    """Below the cutoff from a usual level at or above it."""
    return (
        f"The total fell below the clinic cutoff of {fmt(cutoff)} "
        f"(now {fmt(current)}, usually {fmt(usual)})."
    )


def low_usual_message(cutoff: float, current: float, usual: float | None) -> str:
    """Below the cutoff, as usual for this client (or with no usual level yet)."""
    if usual is None:
        return (
            f"The total of {fmt(current)} starts below the clinic cutoff of "
            f"{fmt(cutoff)}."
        )
    return (
        f"The total of {fmt(current)} is below the clinic cutoff of "
        f"{fmt(cutoff)}, as is usual for this client (usually {fmt(usual)})."
    )


def ceiling_message(checks: int) -> str:
    return (
        f"Full marks on {checks} checks in a row — the score cannot show a "
        "further rise, so any dip from it counts."
    )


def rupture_message(session: int, *, talked_through: bool) -> str:
    if talked_through:
        return (
            f"The client said something felt off in session {session} and it was talked "
            "through."
        )
    return (
        f"The client said something felt off in session {session} and it was not "
        "talked through."
    )


def repaired_message(
    lowest: float | None, dip_session: int, current: float, session: int
) -> str:
    dip_text = (
        f"dipped to {fmt(lowest)} in session {dip_session}"
        if lowest is not None
        else f"had a rupture in session {dip_session}"
    )
    return (
        f"The total {dip_text} and recovered to {fmt(current)} by session "
        f"{session} — a repaired rupture."
    )


def engagement_context(
    follows_kind: str, follows_ceiling: bool, usual_rate: float | None
) -> tuple[str, str]:
    """What a lapse follows, and whether it is unusual (usual_rate None: it is not)."""
    after = ""
    if follows_kind:
        after = AFTER_SIGNAL[follows_kind]
    elif follows_ceiling:
        after = AFTER_CEILING
    unusual = (
        f", unusual for this client (usual rate {usual_rate:.0%})" if usual_rate is not None else ""
    )
    return after, unusual


def no_show_message(
    session: int, run: int, no_shows: int, skipped: int, after: str, unusual: str
) -> str:
    if run > 1:
        return (
            f"{no_shows} missed session(s) and {skipped} skipped check(s) in "
            f"the last {run} scheduled session(s){after}{unusual}."
        )
    return f"No-show or late cancellation at session {session}{after}."


def missed_checks_message(run: int, no_shows: int, skipped: int, after: str, unusual: str) -> str:
    return (
        f"No check answered in the last {run} scheduled session(s) "
        f"({skipped} attended without a check, {no_shows} missed)"
        f"{after}{unusual}."
    )


def split_message(
    is_split: bool, held: bool, low: float, high: float, other: str,
    gap: float, usual_gap: float, threshold: float,
) -> str:
    """The sentence for a split-alliance state, about the lower member."""
    where = f"This client rates the alliance {fmt(low)}, {fmt(gap)} points below {other} ({fmt(high)})"
    if is_split:
        return (
            f"{where}: the gap between them grew from a usual {fmt(usual_gap)} by more than "
            f"the {fmt(threshold)} points that noise explains."
        )
    if held:
        return f"{where}: the gap that opened recently has not closed (usually {fmt(usual_gap)})."
    return f"{where}, a gap they have had from the start (usually {fmt(usual_gap)})."
