"""The engine's plain data: observations in, settings, findings and summaries out."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from .contract import (  # noqa: F401  (re-exported: the engine's public names)
    KIND_CEILING,
    KIND_LOW_SCORE,
    KIND_MISSED_CHECKS,
    KIND_NO_SHOW,
    KIND_ORDER,
    KIND_RELIABLE_DROP,
    KIND_REPAIRED_RUPTURE,
    KIND_RUPTURE,
    KIND_SPLIT_ALLIANCE,
    KIND_SUSTAINED_DECLINE,
    KINDS,
    RUPTURE_NONE,
    RUPTURE_TALKED_THROUGH,
    RUPTURE_UNREPAIRED,
    SERIES,
    SEVERITIES,
    SEVERITY_ALERT,
    SEVERITY_INFO,
    SEVERITY_RANK,
    SEVERITY_WARNING,
    SUBSCALES,
)


@dataclass(frozen=True, slots=True)
class Observation:
    """One scheduled session of one participant.

    Scores are subscale means on the instrument's scale, None where no check was answered.
    ``rupture``: None = not answered, 0 = nothing felt off, 1 = something felt off and was not
    talked through (or unknown), 2 = it felt off and was talked through in the session.
    ``pending``: an attended session whose check can still be answered (its link is valid, or the
    check is still to be sent). It is neither answered nor skipped: every detector passes over it
    (it carries no information yet) and the session keeps its number; once answered or expired it
    is an ordinary observation. Only an attended session without scores can be pending.
    ``rupture_type``: the client's optional answer what kind it was (contract.RUPTURE_TYPES:
    "withdrawal" or "confrontation"), None when not given.
    """

    session_number: int
    session_date: datetime.date
    attended: bool
    goals: float | None
    tasks: float | None
    bond: float | None
    rupture: int | None = None
    pending: bool = False
    rupture_type: str | None = None

    @property
    def is_answered(self) -> bool:
        """True when at least one subscale was answered."""
        return self.goals is not None or self.tasks is not None or self.bond is not None

    @property
    def total(self) -> float | None:
        """Mean of the three subscales, None unless all three were answered."""
        if self.goals is None or self.tasks is None or self.bond is None:
            return None
        return (self.goals + self.tasks + self.bond) / 3.0


def _default_reliability() -> dict[str, float]:
    # Internal consistency typical of short alliance measures (WAI-SR, SRS): ~.90 for the
    # total, ~.85 for a subscale. The app overrides these from the instrument or clinic data.
    return {"total": 0.90, "goals": 0.85, "tasks": 0.85, "bond": 0.85}


def _default_spread() -> dict[str, float]:
    # Between-client SD of first-session scores on a 0–10 alliance scale (compressed by the
    # ceiling): about 1.3 for the total and 1.5 for a subscale.
    return {"total": 1.3, "goals": 1.5, "tasks": 1.5, "bond": 1.5}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Clinic settings and the engine's tuning knobs; every knob has a principled default.

    reliability / spread: per series ("total", "goals", "tasks", "bond"); together they give the
    standard error of measurement SEM = spread·√(1 − reliability) and the Jacobson–Truax
    reliable-change threshold.
    """

    scale_min: float = 0.0
    scale_max: float = 10.0
    cutoff: float = 7.0
    reliability: dict[str, float] = field(default_factory=_default_reliability)
    spread: dict[str, float] = field(default_factory=_default_spread)
    # Personal baseline ("usual level"): mean of up to baseline_window earlier checks, keeping
    # the latest baseline_lag checks out once enough history exists so that a slow slide
    # does not drag the usual level down with it. Needs baseline_min_checks checks.
    baseline_min_checks: int = 2
    baseline_window: int = 6
    baseline_lag: int = 2
    # Within-person noise (successive differences over all earlier checks) is shrunk towards the
    # SEM as if the SEM had this many degrees of freedom.
    noise_prior_weight: float = 4.0
    # A drop is reliable (info) beyond max(RC, t(z_drop) · personal noise of a difference); the
    # RC index itself uses 1.96. A course has ~15 checks × 4 series, so a single reliable dip is
    # expected by chance in many clients: a warning needs it confirmed, by one drop beyond
    # max(RC · z_confirm/1.96, t(z_confirm) · noise) or by two reliable drops in a row whose mean
    # clears the same bar for a mean of two. t() widens z for a noise SD learnt from few checks.
    z_drop: float = 1.96
    z_confirm: float = 2.6
    # CUSUM on standardised shortfalls below the usual level (in SDs of a difference from the
    # usual level): reference k, decision interval h. k=.5, h=6 has an in-control run length of
    # well over 1,000 checks with known parameters; the margin pays for a usual level estimated
    # from a handful of checks. Each check's contribution is capped (robust CUSUM) so that one
    # dip is a rupture, not a "sustained" decline.
    cusum_k: float = 0.5
    cusum_h: float = 6.0
    cusum_cap: float = 3.0
    divergence: bool = True  # one subscale's slide while the other two hold counts as a sustained decline
    # ... and the latest (up to 3) checks of the run must average this fraction of the total's
    # reliable-change threshold below the usual level: a shift both sustained and sizeable.
    sustained_min_change: float = 0.75
    # Below the cutoff for this many checks in a row, from a usual level above it and by the
    # sustained_min_change margin, is a warning.
    low_run: int = 3
    # A recovered dip is a repaired rupture; the note stays active this many sessions.
    repair_hold: int = 3
    # Full marks on this many checks in a row is a ceiling (uninformative) run.
    ceiling_run: int = 3
    # From a ceiling run, a total this far below the top already counts as a drop.
    ceiling_dip: float = 1.0
    # Engagement: a run of non-engagement (no-show or attended without a check) is weighed
    # against the person's own rate, with a Beta prior worth engagement_prior_sessions sessions at
    # engagement_prior_rate. Warning when the run is this improbable under their usual rate.
    engagement_prior_rate: float = 0.10
    engagement_prior_sessions: float = 10.0
    engagement_alpha: float = 0.002
    # After a ceiling run (full marks carry no information) a run this improbable is enough.
    engagement_alpha_ceiling: float = 0.02
    missed_run: int = 2
    # Engagement lapses within this many sessions after a score signal escalate.
    escalation_window: int = 4
    # Trend over the latest this-many checks.
    slope_window: int = 5
    # Split alliance (couples, families): the gap between two members' totals is judged against
    # the pair's usual gap, in the noise of a difference of two totals (√2·SEM, learnt from the
    # pair's own gaps as a drop's noise is). Widening beyond t(z_drop) of that noise (and the RC)
    # is a note; the level then grows with size and persistence, whichever is higher. Size, in
    # multiples of that threshold: split_large (about z 3.9, p < 1e-4 for noise alone) is a
    # warning at once, split_very_large (about z 5.9) an alert. Persistence, in joint checks in
    # a row with the pair split: split_warning_run is a warning, split_alert_run an alert. A
    # split both large and persisting (a warning on each count) is an alert. A joint check counts
    # towards persistence when its widening reaches split_run_bar thresholds: 1 at the defaults;
    # a stricter budget raises it (budget.at_strictness) rather than lengthening the run, so that
    # the flagged share moves smoothly with the strictness instead of jumping a whole check.
    split_large: float = 2.0
    split_very_large: float = 3.0
    split_warning_run: int = 2
    split_alert_run: int = 3
    split_run_bar: float = 1.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One flag: who, when, what kind, how bad, the numbers behind it, and one sentence."""

    participant_id: str
    session_number: int
    kind: str
    severity: str
    subscale: str
    evidence: dict
    message: str


@dataclass(frozen=True, slots=True)
class ParticipantSummary:
    """Per-participant figures for the case page (total series)."""

    participant_id: str
    baseline: float | None
    variability: float | None
    slope: float | None
    latest: dict[str, float | None]
    answered: int
    scheduled: int
    trend: str


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The engine's verdict on a case.

    findings: every finding raised (onset or escalation of a condition) at every session, in
    session order. active: the findings whose condition still holds at each participant's latest
    session, at most one per (participant_id, kind): the latest raised finding of the episode.
    dropout_probability: the chance that a client of the case stops coming within the next three
    sessions (measures.engine.risk), None without any session; risk_score is it × 100, rounded.
    """

    findings: list[Finding]
    active: list[Finding]
    summaries: dict[str, ParticipantSummary]
    risk_score: int
    dropout_probability: float | None = None
