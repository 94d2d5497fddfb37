"""A seeded simulator of therapy caseloads with known ground truth (pure Python + NumPy).

Each simulated participant has a latent alliance per subscale that follows the case's pattern,
plus a session-level state shared by the three subscales (AR(1)), subscale noise and item noise.
Answers are integers 0–10 on two items per subscale, clipped at the top (the ceiling effect), and
the subscale score is the mean of its two items. Engaged clients still skip a check or miss a
session now and then. Used by the benchmarks, the tests and the demo seeding.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from measures.engine import Observation
from measures.engine.contract import REPLAY_COLUMNS

PATTERN_STABLE_HIGH = "stable_high"
PATTERN_MODEST_STEADY = "modest_steady"
PATTERN_CEILING = "ceiling"
PATTERN_COMPLETER = "completer"
PATTERN_V_RUPTURE = "v_rupture"
PATTERN_GRADUAL_DECLINE = "gradual_decline"
PATTERN_SUDDEN_DROP = "sudden_drop"
PATTERN_SILENT_DISENGAGEMENT = "silent_disengagement"
PATTERN_SPLIT_COUPLE = "split_couple"
PATTERN_COUPLE_COMPLETER = "couple_completer"
PATTERN_FAMILY_COMPLETER = "family_completer"

# Case patterns and their share of cases in a simulated cohort (≈ one client in five drops out).
PATTERN_WEIGHTS = {
    PATTERN_STABLE_HIGH: 0.20,
    PATTERN_MODEST_STEADY: 0.08,
    PATTERN_CEILING: 0.10,
    PATTERN_COMPLETER: 0.15,
    PATTERN_V_RUPTURE: 0.14,
    PATTERN_GRADUAL_DECLINE: 0.07,
    PATTERN_SUDDEN_DROP: 0.06,
    PATTERN_SILENT_DISENGAGEMENT: 0.05,
    PATTERN_SPLIT_COUPLE: 0.04,
    PATTERN_COUPLE_COMPLETER: 0.08,
    PATTERN_FAMILY_COMPLETER: 0.03,
}
PATTERNS = tuple(PATTERN_WEIGHTS)

OUTCOME_COMPLETED = "completed"
OUTCOME_DROPOUT = "dropout"

ITEMS_PER_SUBSCALE = 2


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What really happened to one participant."""

    outcome: str  # "completed" | "dropout"
    is_rupture_free: bool
    decline_start: int | None  # first session of the decline / disengagement, if any
    last_attended: int | None


@dataclass(slots=True)
class SimulatedCase:
    """One simulated case: its pattern, each participant's observations and ground truth."""

    case_id: str
    pattern: str
    participants: dict[str, list[Observation]] = field(default_factory=dict)
    truth: dict[str, GroundTruth] = field(default_factory=dict)


@dataclass(slots=True)
class _Person:
    """Latent parameters of one simulated participant."""

    level: float
    offsets: np.ndarray  # per subscale
    skip_rate: float
    rupture_answer_rate: float


def _person(rng: np.random.Generator, low: float, high: float) -> _Person:
    return _Person(
        level=float(rng.uniform(low, high)),
        offsets=rng.normal(0.0, 0.3, size=3),
        skip_rate=float(rng.uniform(0.0, 0.10)),
        rupture_answer_rate=float(rng.uniform(0.6, 0.95)),
    )


def _schedule(rng: np.random.Generator, n_sessions: int) -> list[datetime.date]:
    start = datetime.date(2024, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 365)))
    dates = [start]
    for _ in range(n_sessions - 1):
        gap = 7 if rng.random() < 0.85 else int(rng.choice([14, 10, 4]))
        dates.append(dates[-1] + datetime.timedelta(days=gap))
    return dates


def _scores(
    rng: np.random.Generator, person: _Person, shift: np.ndarray, state: float
) -> tuple[float, float, float]:
    """Item answers → subscale means for one check. ``shift``: pattern effect per subscale."""
    latent = person.level + person.offsets + shift + state + rng.normal(0.0, 0.3, size=3)
    items = np.rint(latent[:, None] + rng.normal(0.0, 0.5, size=(3, ITEMS_PER_SUBSCALE)))
    items = np.clip(items, 0, 10)
    means = items.mean(axis=1)
    return float(means[0]), float(means[1]), float(means[2])


def _ar_states(rng: np.random.Generator, n: int, sd: float = 0.35, phi: float = 0.3) -> np.ndarray:
    states = np.empty(n)
    value = rng.normal(0.0, sd)
    for i in range(n):
        states[i] = value
        value = phi * value + rng.normal(0.0, sd * np.sqrt(1 - phi**2))
    return states


def _observations(
    rng: np.random.Generator,
    person: _Person,
    dates: list[datetime.date],
    attended: list[bool],
    shifts: np.ndarray,
    skip_extra: np.ndarray,
    rupture_codes: list[int | None],
) -> list[Observation]:
    """Turn a schedule and per-session shifts into observations."""
    states = _ar_states(rng, len(dates))
    result = []
    for i, date in enumerate(dates):
        is_answered = attended[i] and rng.random() >= min(1.0, person.skip_rate + skip_extra[i])
        goals = tasks = bond = None
        rupture = None
        if is_answered:
            goals, tasks, bond = _scores(rng, person, shifts[i], float(states[i]))
            if rng.random() < person.rupture_answer_rate:
                rupture = rupture_codes[i] if rupture_codes[i] is not None else 0
        result.append(
            Observation(
                session_number=i + 1,
                session_date=date,
                attended=attended[i],
                goals=goals,
                tasks=tasks,
                bond=bond,
                rupture=rupture,
            )
        )
    return result


def _attendance(rng: np.random.Generator, n: int, no_show_rate: float) -> list[bool]:
    return [bool(rng.random() >= no_show_rate) for _ in range(n)]


def _last_attended(attended: list[bool]) -> int | None:
    for i in range(len(attended) - 1, -1, -1):
        if attended[i]:
            return i + 1
    return None


def _stop_after(
    rng: np.random.Generator, attended: list[bool], last: int, *, end: int | None = None
) -> list[bool]:
    """A dropout's attendance: as drawn up to session index ``last`` (the last attended), then
    no-shows until the series stops, 0–2 sessions after ``last`` or, given the end of a
    disengagement window, 1–2 sessions after ``end``."""
    n_keep = last + 1 + int(rng.integers(0, 3)) if end is None else end + int(rng.integers(1, 3))
    return attended[: last + 1] + [False] * (n_keep - last - 1)


def _dip_weights(rng: np.random.Generator) -> np.ndarray:
    # Ruptures hit bond and tasks more than goals, unevenly from client to client.
    weights = rng.dirichlet([1.5, 2.5, 3.0]) * 3.0
    return np.minimum(weights, 2.0)


def _individual(
    pattern: str, rng: np.random.Generator, n_sessions: int
) -> tuple[_Person, list[bool], np.ndarray, np.ndarray, list[int | None], GroundTruth]:
    """Latent course of one individual participant for the given pattern."""
    n = n_sessions
    shifts = np.zeros((n, 3))
    skip_extra = np.zeros(n)
    ruptures: list[int | None] = [None] * n
    no_show_rate = float(rng.uniform(0.0, 0.07))
    outcome = OUTCOME_COMPLETED
    rupture_free = True
    decline_start = None

    if pattern == PATTERN_MODEST_STEADY:
        person = _person(rng, 5.0, 6.8)
    elif pattern == PATTERN_CEILING:
        person = _person(rng, 10.4, 11.5)
    elif pattern == PATTERN_SILENT_DISENGAGEMENT:
        person = _person(rng, 9.3, 11.0)
    elif pattern == PATTERN_COMPLETER:
        person = _person(rng, 6.8, 8.8)
        shifts += np.minimum(np.arange(n) * rng.uniform(0.03, 0.12), 1.5)[:, None]
    else:
        person = _person(rng, 7.8, 9.5)
    attended = _attendance(rng, n, no_show_rate)

    if pattern == PATTERN_V_RUPTURE:
        rupture_free = False
        candidates = np.arange(3, n - 2)
        n_dips = min(len(candidates), 1 if rng.random() < 0.7 else 2)
        starts = sorted(rng.choice(candidates, size=n_dips, replace=False))
        for start in starts:
            depth = rng.uniform(1.8, 4.0) * _dip_weights(rng)
            shifts[start] -= depth
            if rng.random() < 0.4 and start + 1 < n:
                shifts[start + 1] -= depth * rng.uniform(0.3, 0.8)
            attended[start] = True
            ruptures[start] = int(rng.choice([2, 1], p=[0.65, 0.35]))
    elif pattern == PATTERN_GRADUAL_DECLINE:
        outcome = OUTCOME_DROPOUT
        rupture_free = False
        start = int(rng.integers(3, max(4, n - 8)))
        length = int(rng.integers(3, 8))
        last = min(n - 1, start + length - 1)
        rate = rng.uniform(1.5, 4.0) / length  # 1.5–4 points lost over the decline
        weights = rng.uniform(0.5, 1.5, size=3)
        for i in range(start, n):
            shifts[i] -= rate * (i - start + 1) * weights
            skip_extra[i] = 0.12
            if rng.random() < 0.2:
                ruptures[i] = 1
        attended[last] = True
        decline_start = start + 1
        attended = _stop_after(rng, attended, last)
    elif pattern == PATTERN_SUDDEN_DROP:
        outcome = OUTCOME_DROPOUT
        rupture_free = False
        start = int(rng.integers(3, max(4, n - 5)))
        stay = int(rng.integers(1, 4))
        last = min(n - 1, start + stay - 1)
        depth = rng.uniform(2.0, 4.5) * _dip_weights(rng)
        shifts[start:] -= depth
        attended[start] = attended[last] = True
        if rng.random() < 0.3:
            ruptures[start] = 1
        decline_start = start + 1
        attended = _stop_after(rng, attended, last)
    elif pattern == PATTERN_SILENT_DISENGAGEMENT:
        outcome = OUTCOME_DROPOUT
        rupture_free = False
        start = int(rng.integers(3, max(4, n - 6)))
        length = int(rng.integers(3, 7))
        for i in range(start, min(n, start + length)):
            attended[i] = bool(rng.random() >= 0.35)
            skip_extra[i] = 0.7
            shifts[i] -= rng.uniform(0.0, 0.5)
        end = min(n, start + length)
        if not any(attended[start:end]):
            attended[start] = True
        last = max(i for i in range(start, end) if attended[i])
        decline_start = start + 1
        attended = _stop_after(rng, attended, last, end=end)

    n_final = len(attended)
    shifts = shifts[:n_final] if n_final <= n else np.vstack([shifts, np.zeros((n_final - n, 3))])
    skip_extra = np.resize(skip_extra, n_final)
    ruptures = (ruptures + [None] * n_final)[:n_final]
    truth = GroundTruth(
        outcome=outcome,
        is_rupture_free=rupture_free,
        decline_start=decline_start,
        last_attended=_last_attended(attended),
    )
    return person, attended, shifts, skip_extra, ruptures, truth


def simulate_case(
    pattern: str, rng: np.random.Generator, n_sessions: int, case_id: str = "case"
) -> SimulatedCase:
    """Draw one case of the named pattern (see PATTERNS) over ``n_sessions`` scheduled sessions.

    Dropout patterns end early: the series stops at the last attended session plus 0–2 no-shows.
    Participant ids are ``<case_id>-a``, ``-b``, ...; ground truth is per participant.
    """
    if pattern not in PATTERN_WEIGHTS:
        raise ValueError(f"unknown pattern {pattern!r}")
    n_sessions = max(6, int(n_sessions))
    case = SimulatedCase(case_id=case_id, pattern=pattern)
    if pattern in (PATTERN_SPLIT_COUPLE, PATTERN_COUPLE_COMPLETER, PATTERN_FAMILY_COMPLETER):
        _joint_case(case, pattern, rng, n_sessions)
        return case
    person, attended, shifts, skip_extra, ruptures, truth = _individual(pattern, rng, n_sessions)
    dates = _schedule(rng, len(attended))
    pid = f"{case_id}-a"
    case.participants[pid] = _observations(
        rng, person, dates, attended, shifts, skip_extra, ruptures
    )
    case.truth[pid] = truth
    return case


def _joint_case(case: SimulatedCase, pattern: str, rng: np.random.Generator, n: int) -> None:
    """Couples and families attend together; each member answers their own check."""
    size = 3 if pattern == PATTERN_FAMILY_COMPLETER else 2
    attended = _attendance(rng, n, float(rng.uniform(0.0, 0.06)))
    people = [_person(rng, 7.0, 9.6) for _ in range(size)]
    shifts = [np.zeros((n, 3)) for _ in range(size)]
    ruptures: list[list[int | None]] = [[None] * n for _ in range(size)]
    outcome = OUTCOME_COMPLETED
    decline_start = None
    if pattern == PATTERN_SPLIT_COUPLE:
        outcome = OUTCOME_DROPOUT
        start = int(rng.integers(3, max(4, n - 7)))
        length = int(rng.integers(2, 6))
        last = min(n - 1, start + length - 1)
        weights = rng.uniform(0.5, 1.5, size=3)
        if rng.random() < 0.5:  # gradual slide of one partner
            rate = rng.uniform(1.5, 4.0) / length
            for i in range(start, n):
                shifts[1][i] -= rate * (i - start + 1) * weights
        else:  # one partner's alliance falls at once
            shifts[1][start:] -= rng.uniform(2.0, 4.0) * weights
        if rng.random() < 0.3:
            ruptures[1][start] = 1
        attended[last] = True
        decline_start = start + 1
        attended = _stop_after(rng, attended, last)
    n_final = len(attended)
    dates = _schedule(rng, n_final)
    for index in range(size):
        pid = f"{case.case_id}-{'abc'[index]}"
        case.participants[pid] = _observations(
            rng,
            people[index],
            dates,
            attended,
            shifts[index][:n_final],
            np.zeros(n_final),
            ruptures[index][:n_final],
        )
        case.truth[pid] = GroundTruth(
            outcome=outcome,
            is_rupture_free=pattern != PATTERN_SPLIT_COUPLE,
            decline_start=decline_start,
            last_attended=_last_attended(attended),
        )


def simulate_cohort(n: int, seed: int) -> list[SimulatedCase]:
    """Simulate cases until the cohort holds ``n`` participants (the last case may add one or
    two more). Deterministic for a given seed. Planned course lengths are 10–20 sessions."""
    rng = np.random.default_rng(seed)
    names = list(PATTERN_WEIGHTS)
    weights = np.array([PATTERN_WEIGHTS[name] for name in names])
    weights = weights / weights.sum()
    cases: list[SimulatedCase] = []
    count = 0
    while count < n:
        pattern = names[int(rng.choice(len(names), p=weights))]
        n_sessions = int(rng.integers(10, 21))
        case = simulate_case(pattern, rng, n_sessions, case_id=f"c{len(cases) + 1:05d}")
        cases.append(case)
        count += len(case.participants)
    return cases


def _format_score(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def iter_replay_rows(cases: Iterable[SimulatedCase]) -> Iterator[dict[str, str]]:
    """Replay-format rows (see DESIGN.md "Replay format"), one per participant per session."""
    for case in cases:
        for pid, observations in case.participants.items():
            for obs in observations:
                yield {
                    "client_id": pid,
                    "case_id": case.case_id,
                    "session_number": str(obs.session_number),
                    "session_date": obs.session_date.isoformat(),
                    "attended": "1" if obs.attended else "0",
                    "goals": _format_score(obs.goals),
                    "tasks": _format_score(obs.tasks),
                    "bond": _format_score(obs.bond),
                    "rupture": "" if obs.rupture is None else str(obs.rupture),
                }


def write_replay_csv(cases: Iterable[SimulatedCase], stream: io.TextIOBase) -> int:
    """Write the cases as a replay-format CSV with header; returns the number of rows."""
    writer = csv.DictWriter(stream, fieldnames=REPLAY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in iter_replay_rows(cases):
        writer.writerow(row)
        count += 1
    return count
