"""``compute_case``: the detectors composed over a case, session by session.

Each participant's series is walked once, session by session, so what the engine says at
session k is computed from observations up to k only (causal). At every session each detector
yields a *state* per kind (None, or severity + evidence + message). A finding is raised when a
kind's state starts (onset) or its severity rises within an episode; the latest raised finding of
an episode that still holds at the participant's last session is *active*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .baseline import (
    Baseline,
    State,
    Thresholds,
    compute_thresholds,
    rounded,
)
from .data import (
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
    SEVERITIES,
    CaseResult,
    EngineSettings,
    Finding,
    Observation,
    ParticipantSummary,
)
from .detectors.ceiling import Ceiling
from .detectors.decline import SustainedDecline
from .detectors.divergence import Divergence
from .detectors.drops import DropDetector
from .detectors.engagement import Engagement
from .detectors.low import LowAlliance
from .detectors.repair import RepairedRupture
from .detectors.rupture import step_rupture
from .detectors.split import SplitAlliance
from .risk import RiskTable, compute_dropout_probability
from .statistics import compute_slope

# Score kinds whose state holds, unchanged, over a session without a check.
HELD_WITHOUT_CHECK = (KIND_RELIABLE_DROP, KIND_SUSTAINED_DECLINE, KIND_LOW_SCORE, KIND_CEILING)
# A trend needs this many checks, and a change over the window of at least this many points
# (and at least the client's own noise).
MIN_TREND_CHECKS = 3
MIN_TREND_CHANGE = 0.5


@dataclass(slots=True)
class _Checks:
    """One participant's answered checks with a total, in session order."""

    sessions: list[int] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    by_session: dict[int, float] = field(default_factory=dict)

    def add(self, sn: int, total: float | None) -> None:
        if total is not None:
            self.by_session[sn] = total
            self.sessions.append(sn)
            self.totals.append(total)


@dataclass(slots=True)
class _Track:
    """What one participant's walk produced."""

    sessions: list[int]
    states: list[dict[str, State | None]]
    totals: dict[int, float]  # session_number -> total, answered checks only
    summary: ParticipantSummary
    pending: frozenset[int] = frozenset()  # session numbers whose check is still pending


class _Participant:
    """The detectors of one participant, stepped in the order their inputs require."""

    def __init__(self, settings: EngineSettings, th: Thresholds) -> None:
        self.settings = settings
        self.th = th
        self.drops = DropDetector(settings, th)
        self.decline = SustainedDecline(settings, th)
        self.divergence = Divergence(settings, th) if settings.divergence else None
        self.low = LowAlliance(settings, th)
        self.ceiling = Ceiling(settings)
        self.repair = RepairedRupture(settings, th)
        self.engagement = Engagement(settings)
        self.checks = _Checks()
        self.latest_base: Baseline | None = None  # the total's usual level, latest check
        self.prev: dict[str, State | None] = {}

    def _decline(self, obs: Observation, base: Baseline | None, prior: State | None) -> State | None:
        """The total's sustained decline, else one subscale's slide while the others hold (both
        detectors see every check)."""
        total = self.decline.step(obs.total, base, self.checks.totals, prior)
        one = self.divergence.step(obs) if self.divergence is not None else None
        return total or one

    def step(self, obs: Observation) -> dict[str, State | None]:
        """Every kind's state at this session."""
        prev = self.prev
        is_answered = obs.attended and obs.is_answered
        # engagement counts the session before the ceiling detector sees this check
        self.engagement.observe(obs, is_answered, self.ceiling.is_run)
        state: dict[str, State | None] = {}
        drop_state = None
        if is_answered:
            check = self.drops.step(obs, prev.get(KIND_RELIABLE_DROP), self.ceiling.is_run)
            self.checks.add(obs.session_number, obs.total)
            self.latest_base = check.base_total
            drop_state = check.state
            state[KIND_RELIABLE_DROP] = drop_state
            state[KIND_SUSTAINED_DECLINE] = self._decline(obs, check.base_total, prev.get(KIND_SUSTAINED_DECLINE))
            state[KIND_LOW_SCORE] = self.low.step(
                obs.total, check.base_total, check.is_total_confirmed, self.checks.totals,
                prev.get(KIND_LOW_SCORE),
            )
            state[KIND_CEILING] = self.ceiling.step(obs.total)
        else:
            for kind in HELD_WITHOUT_CHECK:
                state[kind] = prev.get(kind)
        is_score_signal = drop_state is not None or state[KIND_SUSTAINED_DECLINE] is not None
        rupture = step_rupture(obs, is_answered, is_score_signal, prev.get(KIND_RUPTURE))
        state[KIND_RUPTURE] = rupture
        is_dipping = drop_state is not None or (
            rupture is not None and is_answered and obs.rupture is not None
        )
        repaired, is_repaired_now = self.repair.step(
            obs, is_answered, is_dipping, self.latest_base
        )
        if is_repaired_now:  # a repaired dip is not a sustained decline
            self.decline.reset()
            if self.divergence is not None:
                self.divergence.reset()
            state[KIND_SUSTAINED_DECLINE] = None
        state[KIND_REPAIRED_RUPTURE] = repaired
        state[KIND_NO_SHOW], state[KIND_MISSED_CHECKS] = self.engagement.step(
            obs.session_number, state
        )
        self.prev = state
        return state

    def summary(self, pid: str, observations: Sequence[Observation]) -> ParticipantSummary:
        """Figures for the case page from the whole walk (total series)."""
        th, window = self.th, self.settings.slope_window
        final_base = self.drops.baseline("total")
        sessions, totals = self.checks.sessions, self.checks.totals
        slope = None
        if len(totals) >= MIN_TREND_CHECKS:
            slope = compute_slope(sessions[-window:], totals[-window:])
        trend = "none"
        if slope is not None:
            span = sessions[-1] - sessions[-window:][0]
            noise = final_base.noise if final_base else th.sem["total"]
            change = slope * span
            trend = "flat"
            if abs(change) >= max(noise, MIN_TREND_CHANGE):
                trend = "up" if change > 0 else "down"
        answered = [obs for obs in observations if obs.attended and obs.is_answered]
        latest: dict[str, float | None] = {"goals": None, "tasks": None, "bond": None, "total": None}
        if answered:
            obs = answered[-1]
            latest = {
                "goals": obs.goals, "tasks": obs.tasks, "bond": obs.bond,
                "total": rounded(obs.total),
            }
        return ParticipantSummary(
            participant_id=pid,
            baseline=rounded(final_base.usual) if final_base else None,
            variability=rounded(final_base.noise) if final_base else None,
            slope=rounded(slope),
            latest=latest,
            answered=len(answered),
            scheduled=sum(obs.attended for obs in observations),
            trend=trend,
        )


def _track_participant(
    pid: str, observations: Sequence[Observation], settings: EngineSettings, th: Thresholds
) -> _Track:
    # A pending check carries no information yet: no detector sees it, nothing is raised at its
    # session, and the sessions after it keep their numbers.
    settled = [obs for obs in observations if not obs.pending]
    walker = _Participant(settings, th)
    states = [walker.step(obs) for obs in settled]
    sessions = [obs.session_number for obs in settled]
    summary = walker.summary(pid, settled)
    pending = frozenset(obs.session_number for obs in observations if obs.pending)
    return _Track(sessions, states, walker.checks.by_session, summary, pending)


def _split_states(
    tracks: Mapping[str, _Track],
    settings: EngineSettings,
    th: Thresholds,
    labels: Mapping[str, str] | None = None,
) -> tuple[list[int], list[dict[str, State]]]:
    """Per session of the case, the split-alliance state keyed by the lower member."""
    all_sessions = sorted({sn for track in tracks.values() for sn in track.sessions})
    detector = SplitAlliance(settings, th, labels)
    # A session is judged once every member's check is settled: while one is pending, the gap
    # between the others says nothing yet (a family's split would clear and reopen). Held.
    states = [
        detector.step(
            {}
            if any(sn in t.pending for t in tracks.values())
            else {pid: t.totals[sn] for pid, t in tracks.items() if sn in t.totals}
        )
        for sn in all_sessions
    ]
    return all_sessions, states


def _raise(
    pid: str,
    sessions: Sequence[int],
    states: Sequence[Mapping[str, State | None]],
    kinds: Sequence[str],
) -> tuple[list[Finding], list[Finding]]:
    """Turn per-session states into raised findings (onsets, escalations) and active ones."""
    raised: list[Finding] = []
    active: list[Finding] = []
    for kind in kinds:
        episode_level = -1
        last: Finding | None = None
        current: State | None = None
        for sn, state in zip(sessions, states, strict=True):
            current = state.get(kind)
            if current is None:
                episode_level = -1
                last = None
                continue
            if current.level > episode_level:
                episode_level = current.level
                last = Finding(
                    participant_id=pid,
                    session_number=sn,
                    kind=kind,
                    severity=SEVERITIES[current.level],
                    subscale=current.subscale,
                    evidence=current.evidence,
                    message=current.message,
                )
                raised.append(last)
        if current is not None and last is not None:
            active.append(last)
    return raised, active


def _sort_key(finding: Finding) -> tuple[int, str, int]:
    return (finding.session_number, finding.participant_id, KIND_ORDER[finding.kind])


def compute_risk(
    participants: Mapping[str, Sequence[Observation]],
    active: Sequence[Finding],
    table: RiskTable | None = None,
) -> tuple[float | None, int]:
    """(probability, risk score): the chance that a client of the case stops coming within the
    next three sessions (measures.engine.risk; None without any session) and that chance × 100,
    rounded, which orders the caseload (0 without any session).
    """
    probability = compute_dropout_probability(participants, active, table)
    return probability, 0 if probability is None else int(round(100 * probability))


def compute_case(
    participants: Mapping[str, Sequence[Observation]],
    settings: EngineSettings,
    labels: Mapping[str, str] | None = None,
    risk_table: RiskTable | None = None,
) -> CaseResult:
    """Run every detector over one case (an individual, a couple or a family).

    ``participants`` maps participant id -> that participant's observations (sorted here by
    session number). The result is causal: findings at session k use observations up to k only.
    A case with one participant never yields split_alliance; split findings name the lower member.
    ``labels`` (participant id -> a name a therapist knows) words messages that mention another
    member; without it they use the id (as the replay does, whose ids are the clinic's own).
    Pending observations are passed over (neither answered nor skipped; see Observation) and
    count in no summary: "14 of 14 answered" stays so while the 15th check is pending.
    ``risk_table``: the clinic's own risk calibration; without it the shipped one.
    """
    th = compute_thresholds(settings)
    tracks: dict[str, _Track] = {}
    findings: list[Finding] = []
    active: list[Finding] = []
    summaries: dict[str, ParticipantSummary] = {}
    own_kinds = [code for code in KIND_ORDER if code != KIND_SPLIT_ALLIANCE]
    for pid, observations in participants.items():
        ordered = sorted(observations, key=lambda o: o.session_number)
        track = _track_participant(pid, ordered, settings, th)
        tracks[pid] = track
        summaries[pid] = track.summary
        raised, still = _raise(pid, track.sessions, track.states, own_kinds)
        findings.extend(raised)
        active.extend(still)

    if len(tracks) >= 2:
        case_sessions, split = _split_states(tracks, settings, th, labels)
        for pid, track in tracks.items():
            # a participant's split state, evaluated only up to their own last session
            last = track.sessions[-1] if track.sessions else None
            per_pid = [
                {KIND_SPLIT_ALLIANCE: state.get(pid)}
                for sn, state in zip(case_sessions, split, strict=True)
                if last is not None and sn <= last
            ]
            sessions = [sn for sn in case_sessions if last is not None and sn <= last]
            raised, still = _raise(pid, sessions, per_pid, [KIND_SPLIT_ALLIANCE])
            findings.extend(raised)
            active.extend(still)

    findings.sort(key=_sort_key)
    active.sort(key=_sort_key)
    ordered_all = {
        pid: sorted(observations, key=lambda o: o.session_number)
        for pid, observations in participants.items()
    }
    probability, risk = compute_risk(ordered_all, active, risk_table)
    return CaseResult(
        findings=findings, active=active, summaries=summaries, risk_score=risk,
        dropout_probability=probability,
    )
