"""The one definition of what the engine says and how people read it.

Kinds, severities and their order, rupture answers, subscales and series, the replay file's
columns and a plain label for every evidence key (and for evidence values that are codes).
The models' choices, the dashboard's labels, the simulator and the replay reader derive from
here, so that a kind or a label is added or changed in one place. Pure Python: no Django.
"""

from __future__ import annotations

# Kinds, in the order findings of one session are listed. -------------------------------------
KIND_RELIABLE_DROP = "reliable_drop"
KIND_SUSTAINED_DECLINE = "sustained_decline"
KIND_LOW_SCORE = "low_score"
KIND_RUPTURE = "rupture"
KIND_MISSED_CHECKS = "missed_checks"
KIND_NO_SHOW = "no_show"
KIND_SPLIT_ALLIANCE = "split_alliance"
KIND_CEILING = "ceiling"
KIND_REPAIRED_RUPTURE = "repaired_rupture"

# (code, label): the labels the pages show (the flag's title, the caseload's badges).
KINDS = (
    (KIND_RELIABLE_DROP, "Reliable drop from usual level"),
    (KIND_SUSTAINED_DECLINE, "Sustained decline"),
    (KIND_LOW_SCORE, "Low alliance"),
    (KIND_RUPTURE, "Rupture not talked through"),
    (KIND_MISSED_CHECKS, "Skipped checks"),
    (KIND_NO_SHOW, "No-shows and late cancellations"),
    (KIND_SPLIT_ALLIANCE, "Split alliance"),
    (KIND_CEILING, "Full marks (uninformative)"),
    (KIND_REPAIRED_RUPTURE, "Repaired rupture"),
)
KIND_LABELS = dict(KINDS)
KIND_ORDER = {code: index for index, (code, _label) in enumerate(KINDS)}

# Severities, least severe first. -------------------------------------------------------------
SEVERITY_INFO = "info"
SEVERITY_WARNING = "warning"
SEVERITY_ALERT = "alert"
SEVERITY_CHOICES = (
    (SEVERITY_INFO, "Info"),
    (SEVERITY_WARNING, "Warning"),
    (SEVERITY_ALERT, "Alert"),
)
SEVERITIES = tuple(code for code, _label in SEVERITY_CHOICES)
SEVERITY_LABELS = dict(SEVERITY_CHOICES)
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}

# The rupture question's answers (Response.rupture, the replay's rupture column). -------------
RUPTURE_NONE = 0
RUPTURE_UNREPAIRED = 1
RUPTURE_TALKED_THROUGH = 2
# (code, member name for code, label)
RUPTURES = (
    (RUPTURE_NONE, "NONE", "Nothing felt off"),
    (RUPTURE_UNREPAIRED, "UNRESOLVED", "Something felt off, not talked through"),
    (RUPTURE_TALKED_THROUGH, "TALKED_THROUGH", "Something felt off, talked through"),
)
RUPTURE_LABELS = {code: label for code, _name, label in RUPTURES}
# The short note beside a session on the case page; nothing for "nothing felt off".
RUPTURE_NOTES = {
    RUPTURE_UNREPAIRED: "something felt off",
    RUPTURE_TALKED_THROUGH: "felt off, talked through",
}

# What kind of rupture (Response.rupture_type, the replay's rupture_type column): the client's
# optional answer after "something felt off". Withdrawal: held back or went along with something;
# confrontation: disagreed or felt criticised. Observed confrontation ruptures predict dropout at
# d ≈ .74, so an unresolved one weighs more (detectors/rupture.py, engine/risk.py).
RUPTURE_TYPE_WITHDRAWAL = "withdrawal"
RUPTURE_TYPE_CONFRONTATION = "confrontation"
RUPTURE_TYPES = (
    (RUPTURE_TYPE_WITHDRAWAL, "Held back or went along"),
    (RUPTURE_TYPE_CONFRONTATION, "Disagreed or felt criticised"),
)
RUPTURE_TYPE_LABELS = dict(RUPTURE_TYPES)

# Subscales and series (the total is the mean of the three subscales). ------------------------
SUBSCALES = ("goals", "tasks", "bond")
SERIES = ("total", *SUBSCALES)
SERIES_LABELS = {"total": "Total", "goals": "Goals", "tasks": "Tasks", "bond": "Bond"}
# A finding about no series in particular (a rupture, an engagement lapse) has subscale "".
NO_SUBSCALE = ""

# The replay file (DESIGN.md "Replay format"). ------------------------------------------------
REPLAY_INPUT_COLUMNS = (
    "client_id",
    "case_id",
    "session_number",
    "session_date",
    "attended",
    *SUBSCALES,
)
# "pending": 1 on an attended session whose check can still be answered (its link is valid), so
# a history exported from the live app replays as the app saw it; empty or 0 otherwise. Files
# without the column hold no pending checks. "rupture_type": the kind of rupture when the client
# said (RUPTURE_TYPES). Each is read when present; a file without them still loads.
REPLAY_PENDING_COLUMN = "pending"
REPLAY_OPTIONAL_COLUMNS = ("rupture", REPLAY_PENDING_COLUMN, "rupture_type")
# What a finished history needs (the simulators write these; they draw no kinds of rupture); an
# export of the live app adds pending and the kind of rupture.
REPLAY_COLUMNS = (*REPLAY_INPUT_COLUMNS, "rupture")
REPLAY_EXPORT_COLUMNS = (*REPLAY_COLUMNS, REPLAY_PENDING_COLUMN, "rupture_type")
REPLAY_OUTPUT_COLUMNS = ("client_id", "case_id", "session_number", "signal", "severity", "message")

# Evidence: every key a finding's evidence may hold, in words a therapist reads (shown under
# "How this was decided"). Two sizes of change recur: the change this client's own day-to-day
# variation explains (the engine's "threshold"), and the change the questionnaire's measurement
# error alone explains for anyone (the reliable change, the floor of the first); the labels say
# which is which, so neither appears as an unexplained "threshold".
EVIDENCE_LABELS = {
    "baseline": "usual level",
    "current": "latest",
    "threshold": "most that day-to-day variation explains",
    "confirm_threshold": "change needed to confirm at once",
    "confirmed_by": "confirmed by",
    "drop": "drop",
    "reliable_change": "most that measurement error explains (any client)",
    "variability": "usual variation between checks",
    "baseline_checks": "checks in the usual level",
    "from_ceiling": "after full marks",
    "cusum": "shortfall added up (in usual variations)",
    "checks_below": "checks in the slide",
    "recent_shortfall": "below usual, latest checks on average",
    "others_held": "the other two parts held",
    "cutoff": "clinic cutoff",
    "steadily_modest": "usually below cutoff",
    "checks_at_top": "checks at full marks",
    "scale_max": "top of scale",
    "rupture": "rupture answer",
    "rupture_type": "kind of rupture",
    "session": "session",
    "dip_session": "dip at session",
    "lowest": "lowest",
    "checks_to_recover": "checks to recover",
    "run": "sessions in a row",
    "no_shows": "no-shows",
    "skipped_checks": "attended without a check",
    "usual_rate": "usual share of sessions without a check",
    "probability": "chance of such a run at the usual share",
    "follows_signal": "after a score signal",
    "follows_kind": "after",
    "follows_ceiling": "after full marks",
    "lower": "lower",
    "higher": "higher",
    "lower_total": "lower total",
    "higher_total": "higher total",
    "gap": "gap",
    "usual_gap": "usual gap",
    "widening": "gap beyond the usual",
    "split_checks": "checks in a row with the gap",
}
# How a reliable drop was confirmed (evidence "confirmed_by"; "" = not confirmed yet).
CONFIRMED_BY_SIZE = "size"
CONFIRMED_BY_NEXT_CHECK = "next_check"
CONFIRMED_BY_HELD = "held"
CONFIRMED_BY_NONE = ""
# Evidence values that are codes, in words.
EVIDENCE_VALUE_LABELS = {
    "confirmed_by": {
        CONFIRMED_BY_SIZE: "the size of the drop",
        CONFIRMED_BY_NEXT_CHECK: "the next check",
        CONFIRMED_BY_HELD: "still below the usual level",
    },
    "rupture": {code: label.lower() for code, label in RUPTURE_LABELS.items()},
    "rupture_type": {code: label.lower() for code, label in RUPTURE_TYPES},
    "follows_kind": {code: label.lower() for code, label in KINDS},
}
