"""What a therapist might try in the next session, per kind of flag, and where each idea comes from.

Pure data and lookups (no ORM): the case page shows a flag's suggestions on its card, and the
resolve form records which one was used (SignalAction.suggestion holds its key, or OTHER), so a
clinic can later see which suggestions go with repaired flags. The wording is this project's own;
each suggestion cites the line of research it draws on (author, year, short title).

Only kinds that can be warnings or alerts have suggestions: informational notes (full marks, a
repaired rupture) ask for nothing.
"""

from dataclasses import dataclass

# The value recorded when the therapist did something other than the suggestions offered.
OTHER = "other"
OTHER_LABEL = "Something else"

SAFRAN_MURAN = "Safran & Muran, 2000, Negotiating the therapeutic alliance"
EUBANKS = "Eubanks, Muran & Safran, 2018, Alliance rupture repair: a meta-analysis"
LAMBERT = "Lambert, 2010, Prevention of treatment failure"
MILLER_DUNCAN = "Miller, Duncan et al., 2006, Using formal client feedback to improve retention and outcome"
TRYON = "Tryon, Birch & Verkuilen, 2018, Goal consensus and collaboration"
NORCROSS_LAMBERT = "Norcross & Lambert, 2018, Psychotherapy relationships that work III"
SWIFT_GREENBERG = "Swift & Greenberg, 2012, Premature discontinuation in adult psychotherapy"
FRIEDLANDER = "Friedlander, Escudero & Heatherington, 2006, Therapeutic alliances in couple and family therapy"


@dataclass(frozen=True)
class Suggestion:
    key: str  # stored on SignalAction.suggestion: unique across kinds, at most 40 characters
    text: str
    source: str


SUGGESTIONS = {
    "reliable_drop": (
        Suggestion(
            "drop_ask_what_changed",
            "Say that the last check came out lower than usual and ask, with curiosity rather than alarm, "
            "what changed for them.",
            MILLER_DUNCAN,
        ),
        Suggestion(
            "drop_revisit_goals",
            "Go back to what the client came for and check that the current work still serves it.",
            TRYON,
        ),
        Suggestion(
            "drop_own_your_part",
            "Ask what you could do differently, and acknowledge your share in anything that did not help.",
            SAFRAN_MURAN,
        ),
    ),
    "sustained_decline": (
        Suggestion(
            "decline_review_course",
            "Review the course of therapy together: what has helped, what has not, and whether to change direction.",
            LAMBERT,
        ),
        Suggestion(
            "decline_adjust_tasks",
            "Check whether the way you work (pace, focus, tasks between sessions) still fits, and agree one "
            "change to try.",
            TRYON,
        ),
        Suggestion(
            "decline_consult",
            "Bring the case to supervision or a colleague: a slow slide is hard to see from inside the room.",
            LAMBERT,
        ),
    ),
    "low_score": (
        Suggestion(
            "low_invite_criticism",
            "Ask openly how therapy is going for them, and make clear that critical answers are welcome and useful.",
            MILLER_DUNCAN,
        ),
        Suggestion(
            "low_renegotiate",
            "Agree again, in the client's own words, on what you are working towards and how, before going on.",
            SAFRAN_MURAN,
        ),
        Suggestion(
            "low_consider_fit",
            "If scores stay low, talk together about whether another approach or a referral would serve them better.",
            NORCROSS_LAMBERT,
        ),
    ),
    "rupture": (
        Suggestion(
            "rupture_name_it",
            "Name the moment that felt off and invite the client's view of it, without defending yourself.",
            SAFRAN_MURAN,
        ),
        Suggestion(
            "rupture_withdrawal",
            "If the client went quiet or agreed too quickly, gently ask what was hard to say.",
            SAFRAN_MURAN,
        ),
        Suggestion(
            "rupture_confrontation",
            "If the client was critical, first acknowledge what is fair in the complaint, then explore it together.",
            SAFRAN_MURAN,
        ),
        Suggestion(
            "rupture_check_repair",
            "Afterwards, ask whether talking about it helped: ruptures that are worked through tend to go with "
            "better outcomes.",
            EUBANKS,
        ),
    ),
    "missed_checks": (
        Suggestion(
            "checks_ask_why",
            "Ask whether the check is still easy to answer or has become a chore, and agree how to handle it.",
            MILLER_DUNCAN,
        ),
        Suggestion(
            "checks_in_session",
            "Leave a minute at the end of the session for the client to answer the check on the tablet.",
            MILLER_DUNCAN,
        ),
        Suggestion(
            "checks_quiet_signal",
            "Consider whether skipping the checks is a quiet way of saying something is not working, and ask.",
            SAFRAN_MURAN,
        ),
    ),
    "no_show": (
        Suggestion(
            "noshow_reach_out",
            "Contact the client soon after a missed session, warmly and without blame, to ask how they are.",
            SWIFT_GREENBERG,
        ),
        Suggestion(
            "noshow_what_gets_in_the_way",
            "Ask what makes it hard to come, and whether the times, the pace or the focus should change.",
            SWIFT_GREENBERG,
        ),
        Suggestion(
            "noshow_unspoken_rupture",
            "Check the relationship itself: missed sessions can follow a rupture that was never voiced.",
            EUBANKS,
        ),
    ),
    "split_alliance": (
        Suggestion(
            "split_room_to_speak",
            "Give the less engaged person room to speak first, and show interest in their view.",
            FRIEDLANDER,
        ),
        Suggestion(
            "split_shared_purpose",
            "Name a goal everyone in the room shares, in their own words, before going further.",
            FRIEDLANDER,
        ),
        Suggestion(
            "split_safety",
            "Ask whether it feels safe to say what they think with the others present; if not, consider a short "
            "separate meeting.",
            FRIEDLANDER,
        ),
    ),
}

_BY_KEY = {suggestion.key: suggestion for options in SUGGESTIONS.values() for suggestion in options}


def suggestions_for(kind):
    """The suggestions for a kind of flag, in the order shown (empty for a kind that has none)."""
    return SUGGESTIONS.get(kind, ())


def is_known_choice(kind, key):
    """Whether `key` may be recorded for a flag of `kind`: one of its suggestions, or OTHER."""
    return key == OTHER or any(suggestion.key == key for suggestion in suggestions_for(kind))


def suggestion_label(key):
    """The words of a recorded suggestion key ("" for none, OTHER_LABEL for other, the key if unknown)."""
    if not key:
        return ""
    if key == OTHER:
        return OTHER_LABEL
    suggestion = _BY_KEY.get(key)
    return suggestion.text if suggestion else key
