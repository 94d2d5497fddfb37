"""Every sentence the engine writes: one function per finding, each claim matching its evidence.

One sentence per finding, in plain words, with the person's own numbers and the size that
matters. The words of the glossary: a *check* is what a client answers after a session; the
*usual level* is the mean of their earlier checks; *day-to-day variation* is how much their checks
move without anything changing. Engine terms (threshold, reliable change, CUSUM) stay in the
evidence, never in a sentence. Numbers are shown with one decimal. The detectors decide; this
module only words.
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
# The words every sentence uses for the size a change must exceed.
VARIATION = "day-to-day variation explains"


def fmt(value: float) -> str:
    """A score or a size as the sentences show it."""
    return f"{value:.1f}"


def plural(count: int, word: str, words: str | None = None) -> str:
    """"1 check", "3 checks"."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def drop_message(
    series: str, usual: float, current: float, threshold: float, *, from_ceiling: bool = False
) -> str:
    """A score below the usual level: by more than its threshold, or still below after a drop.

    ``from_ceiling``: the threshold is the smaller dip that counts after a run of full marks.
    """
    size = (
        f"the {fmt(threshold)} that counts as a dip after a run of full marks"
        if from_ceiling
        else f"the {fmt(threshold)} that {VARIATION}"
    )
    if usual - current >= threshold:
        return f"{SUBJECT[series]} fell from a usual {fmt(usual)} to {fmt(current)}, more than {size}."
    # an open drop held over a check back within the threshold, but not yet near usual
    return (
        f"{SUBJECT[series]} is still below its usual {fmt(usual)} (now {fmt(current)}), "
        + ("after a dip from full marks." if from_ceiling else f"after a drop larger than {VARIATION}.")
    )


def sustained_message(usual: float, checks: int, current: float) -> str:
    return (
        f"The total has been below its usual {fmt(usual)} on average over the last "
        f"{plural(checks, 'check')} (now {fmt(current)}): a slide too steady for day-to-day "
        "variation to explain."
    )


def divergence_message(subscale: str, usual: float, checks: int, current: float) -> str:
    """One subscale sliding while the other two hold."""
    others = " and ".join(s for s in ("goals", "tasks", "bond") if s != subscale)
    return (
        f"{subscale.capitalize()} has been below its usual {fmt(usual)} over the last "
        f"{plural(checks, 'check')} (now {fmt(current)}) while {others} held: one part of the "
        "work together is slipping."
    )


def low_fell_message(cutoff: float, current: float, usual: float) -> str:
    """Below the cutoff from a usual level at or above it."""
    return (
        f"The total fell to {fmt(current)}, below the clinic's cutoff of {fmt(cutoff)}, "
        f"from a usual {fmt(usual)}."
    )


def low_usual_message(cutoff: float, current: float, usual: float | None) -> str:
    """Below the cutoff, as usual for this client (or with no usual level yet)."""
    if usual is None:
        return (
            f"The total of {fmt(current)} is below the clinic's cutoff of {fmt(cutoff)}; "
            "there are too few checks yet to know this client's usual level."
        )
    return (
        f"The total of {fmt(current)} is below the clinic's cutoff of {fmt(cutoff)}, "
        f"as usual for this client (usual level {fmt(usual)})."
    )


def ceiling_message(checks: int) -> str:
    return (
        f"Full marks on {checks} checks in a row: the check cannot show the alliance growing "
        "further, so even a small dip from here counts as a drop."
    )


def rupture_message(session: int, *, talked_through: bool, kind_words: str = "") -> str:
    done = "was talked through" if talked_through else "was not talked through"
    said = f" ({kind_words})" if kind_words else ""
    return f"The client said something felt off in session {session}{said}, and it {done}."


def repaired_message(
    lowest: float | None, dip_session: int, current: float, session: int
) -> str:
    dip_text = (
        f"dipped to {fmt(lowest)} in session {dip_session}"
        if lowest is not None
        else f"had a rupture in session {dip_session}"
    )
    return (
        f"The total {dip_text} and came back to {fmt(current)} by session {session}: "
        "a rupture that was repaired, a good sign."
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
        f"; unusual for this client, who usually misses a session or a check {usual_rate:.0%} "
        "of the time"
        if usual_rate is not None
        else ""
    )
    return after, unusual


def no_show_message(
    session: int, run: int, no_shows: int, skipped: int, after: str, unusual: str
) -> str:
    if run > 1:
        return (
            f"Missed {no_shows} of the last {run} scheduled sessions"
            + (f" and attended {skipped} without answering the check" if skipped else "")
            + f"{after}{unusual}."
        )
    return f"No-show or late cancellation at session {session}{after}."


def missed_checks_message(run: int, no_shows: int, skipped: int, after: str, unusual: str) -> str:
    detail = f"attended {skipped} without answering"
    if no_shows:
        detail += f", missed {no_shows}"
    return (
        f"No check answered at the last {plural(run, 'scheduled session')} ({detail})"
        f"{after}{unusual}."
    )


def split_message(
    is_split: bool, held: bool, low: float, high: float, other: str,
    gap: float, usual_gap: float, threshold: float, run: int = 0,
) -> str:
    """The sentence for a split-alliance state, about the lower member."""
    where = (
        f"This client rates the alliance {fmt(low)}, {fmt(gap)} points below {other} "
        f"({fmt(high)})"
    )
    if is_split:
        persists = f", and it has held for {run} checks in a row" if run > 1 else ""
        grown = f"by {fmt(gap - usual_gap)}, more than the {fmt(threshold)} that {VARIATION}"
        if round(usual_gap, 1) < 0:  # this client usually rates it higher than the other
            return (
                f"{where}, while usually {fmt(-usual_gap)} above: the gap swung {grown}"
                f"{persists}."
            )
        return f"{where}: the gap grew from their usual {fmt(usual_gap)} {grown}{persists}."
    if held:
        return (
            f"{where}: the gap that opened recently has not closed ("
            + (
                f"their usual gap is {fmt(usual_gap)}"
                if round(usual_gap, 1) >= 0
                else f"usually this client rates it {fmt(-usual_gap)} higher"
            )
            + ")."
        )
    return f"{where}, a gap that is usual for them (usually {fmt(usual_gap)})."
