"""A third cohort generator, written from scratch and deliberately unlike the other two.

measures/simulation.py draws 0–10 items around a latent level with an AR(1) state; bench/robustness.py
draws a latent-growth curve with AR(1) states on several answer granularities. This one is an
ordinal response model instead:

- every subscale is three items on a 1–7 scale, rescaled to 0–10 ((mean − 1) / 6 · 10); a client
  answers through their own response style (thresholds shifted by acquiescence and stretched by
  how extreme they answer), so full marks come from a latent level above the top threshold;
- the day-to-day deviation carries over from the previous session with ρ = 0.5 at a weekly gap,
  weaker after a longer gap (ρ^(gap/7)), and its innovations are heavy-tailed (Student t, 4 df);
- a client sometimes copies last session's answers to a subscale verbatim (lazy answering);
- alliance grows early and levels off (1 − e^(−t/τ)), not along a line;
- skipped checks are more likely on a bad day (missing not at random), no-shows come in clusters
  (a no-show makes the next one likelier), and dates are irregular (weekly, fortnightly, breaks);
- courses are planned for 25–40 sessions; a case is one client or a family of two to five.

Dropout mechanisms (outcome "dropout"): an unrepaired confrontation rupture ("disagreed or felt
criticised", said with rupture 1) after which the bond stays down and the client leaves within
one to three sessions; a slow erosion of one subscale only (tasks) over 6–12 sessions; and a
disengagement in which checks are skipped (and sessions missed) for a few sessions before any
decline shows in the scores. In a family the mechanism strikes one member and the whole family
leaves. External dropouts (moved away, no alliance sign) have outcome "external_dropout" and are
not counted by the scoring. Completers are rupture-free (the false-flag population) or had a
rupture that was talked through and repaired within one to three sessions.

Output: ``Record``s with replay rows (the replay columns plus ``rupture_type``), the shape
bench/robustness.py's records have, so that bench/early_warning.py scores all three alike.
Run this module to print a scenario's make-up: .venv/bin/python bench/third_generator.py
"""

from __future__ import annotations

import argparse
import csv
import datetime
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# the shared record type lives beside this file, whether it runs as a script or as bench.third_generator
sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import Record, Truth  # noqa: E402

COMPLETED = "completed"
DROPOUT = "dropout"
EXTERNAL = "external_dropout"
SUBSCALES = ("goals", "tasks", "bond")
COLUMNS = (
    "client_id", "case_id", "session_number", "session_date", "attended",
    *SUBSCALES, "rupture", "rupture_type",
)
ITEMS = 3  # 1–7 items per subscale
CARRY = 0.5  # carry-over of the day-to-day deviation at a weekly gap
DROPOUT_MECHANISMS = ("confrontation", "erosion", "disengagement")


@dataclass(frozen=True)
class Scenario:
    """One cohort recipe; levels are on the 0–10 scale."""

    name: str
    about: str
    lengths: tuple[int, int] = (25, 40)
    ceiling_share: float = 0.30  # clients whose level lies above the top threshold
    level: tuple[float, float] = (7.4, 1.3)  # the others: mean and SD
    deviation_sd: float = 0.7  # day-to-day deviation (shared by the subscales)
    item_sd: float = 0.55
    gaps: tuple[tuple[int, float], ...] = ((7, 0.70), (14, 0.15), (10, 0.07), (28, 0.08))
    family_share: float = 0.15  # share of cases that are families (2–5 members)
    family_sizes: tuple[float, float, float, float] = (0.4, 0.3, 0.2, 0.1)  # 2, 3, 4, 5
    mix: dict[str, float] = field(
        default_factory=lambda: {
            "stable": 0.50, "repaired": 0.16, "confrontation": 0.08,
            "erosion": 0.08, "disengagement": 0.08, "external": 0.10,
        }
    )


SCENARIOS = (
    Scenario(
        "ceiling-long",
        "30–40 sessions, about half of all answered checks at full marks",
        lengths=(30, 40),
        ceiling_share=0.50,
        level=(8.2, 1.0),
    ),
    Scenario(
        "families-of-five",
        "60% of cases families of 2–5 (a third of them of four or five)",
        family_share=0.6,
        family_sizes=(0.25, 0.35, 0.2, 0.2),
    ),
    Scenario(
        "one-subscale-erosion",
        "most dropouts a slow slide of tasks alone, few at the ceiling",
        ceiling_share=0.10,
        mix={
            "stable": 0.50, "repaired": 0.14, "confrontation": 0.04,
            "erosion": 0.18, "disengagement": 0.04, "external": 0.10,
        },
    ),
    Scenario(
        "noisy-short-gaps",
        "twice a week (gaps 2–5 days), large day-to-day swings, 25–32 sessions",
        lengths=(25, 32),
        deviation_sd=1.1,
        item_sd=0.8,
        gaps=((3, 0.45), (4, 0.35), (2, 0.1), (5, 0.1)),
    ),
)
SCENARIOS_BY_NAME = {sc.name: sc for sc in SCENARIOS}


@dataclass(slots=True)
class _Style:
    """How one client answers: where their item thresholds lie, and their habits."""

    level: float
    offsets: np.ndarray  # per subscale
    growth: float
    tau: float
    acquiescence: float
    stretch: float
    skip: float
    no_show: float
    copy: float
    answers_rupture: float


def _style(rng: np.random.Generator, sc: Scenario) -> _Style:
    if rng.random() < sc.ceiling_share:
        level = float(rng.uniform(10.2, 11.8))
    else:
        level = float(np.clip(rng.normal(*sc.level), 2.5, 9.8))
    return _Style(
        level=level,
        offsets=np.array([0.0, -0.3, 0.3]) + rng.normal(0, 0.3, size=3),
        growth=float(rng.uniform(0.0, 1.2)),
        tau=float(rng.uniform(2.0, 6.0)),
        acquiescence=float(rng.normal(0.2, 0.4)),
        stretch=float(rng.uniform(0.8, 1.25)),
        skip=float(rng.beta(1.2, 14.0)),
        no_show=float(rng.beta(1.0, 16.0)),
        copy=float(rng.uniform(0.0, 0.3)),
        answers_rupture=float(rng.uniform(0.5, 0.95)),
    )


def _items(rng: np.random.Generator, style: _Style, latent: np.ndarray, sd: float) -> np.ndarray:
    """Three 1–7 answers per subscale (3 × ITEMS): each latent (0–10) against the client's own
    thresholds."""
    base = 10.0 * (np.arange(1, 7) - 0.5) / 6.0  # boundaries between 1|2 … 6|7
    thresholds = 5.0 + (base - 5.0) * style.stretch - style.acquiescence
    pulls = latent[:, None] + rng.normal(0.0, sd, size=(3, ITEMS))
    return 1 + (pulls[:, :, None] > thresholds[None, None, :]).sum(axis=2)


def _dates(rng: np.random.Generator, sc: Scenario, n: int) -> tuple[list[datetime.date], list[int]]:
    gaps, weights = zip(*sc.gaps, strict=True)
    p = np.array(weights) / sum(weights)
    day = datetime.date(2022, 9, 5) + datetime.timedelta(days=int(rng.integers(0, 700)))
    dates, steps = [day], [7]
    for _ in range(n - 1):
        gap = int(gaps[int(rng.choice(len(gaps), p=p))]) + int(rng.integers(-1, 2)) * (gaps[0] >= 7)
        gap = max(1, gap)
        dates.append(dates[-1] + datetime.timedelta(days=gap))
        steps.append(gap)
    return dates, steps


def _deviations(rng: np.random.Generator, sc: Scenario, steps: list[int]) -> np.ndarray:
    """Day-to-day deviation with gap-dependent carry-over and heavy-tailed innovations."""
    shocks = rng.standard_t(4, size=len(steps)) * sc.deviation_sd / math.sqrt(2.0)  # var t(4) = 2
    out = np.empty(len(steps))
    value = float(shocks[0])
    for i, gap in enumerate(steps):
        if i:
            rho = CARRY ** (gap / 7.0)
            value = rho * value + math.sqrt(1 - rho * rho) * float(shocks[i])
        out[i] = value
    return out


@dataclass(slots=True)
class _Plan:
    """What a mechanism does to one member: score shifts, extra skipping, rupture answers."""

    shift: np.ndarray  # n × 3
    skip: np.ndarray  # n
    absent: np.ndarray  # n, extra chance of a no-show
    rupture: list[int | None]
    rupture_type: list[str]
    start: int | None = None  # 0-based onset of the decline or disengagement
    last: int | None = None  # 0-based last attended session of a dropout


def _plan(rng: np.random.Generator, mechanism: str, n: int) -> _Plan:
    plan = _Plan(np.zeros((n, 3)), np.zeros(n), np.zeros(n), [None] * n, [""] * n)
    if mechanism == "repaired":
        at = int(rng.integers(3, n - 4))
        depth = rng.uniform(1.5, 3.5) * np.array([0.5, 1.0, 1.4])
        recover = int(rng.integers(1, 4))
        for k in range(recover + 1):
            plan.shift[at + k] -= depth * (1 - k / (recover + 1))
        plan.rupture[at] = 2 if rng.random() < 0.8 else 1
        plan.rupture_type[at] = str(rng.choice(["withdrawal", "confrontation"]))
    elif mechanism == "confrontation":
        at = int(rng.integers(3, n - 3))
        plan.start, plan.last = at, at + int(rng.integers(0, 3))
        depth = rng.uniform(1.5, 3.5)
        plan.shift[at:] -= depth * np.array([0.4, 0.8, 1.3])
        plan.rupture[at] = 1
        plan.rupture_type[at] = "confrontation" if rng.random() < 0.7 else ""
    elif mechanism == "erosion":
        length = int(rng.integers(6, 13))
        plan.start = int(rng.integers(3, max(4, n - length)))
        plan.last = min(n - 1, plan.start + length - 1)
        loss = rng.uniform(2.0, 4.0)
        for i in range(plan.start, n):
            plan.shift[i, 1] -= loss * min(1.0, (i - plan.start + 1) / length)
    elif mechanism == "disengagement":
        quiet = int(rng.integers(2, 5))  # checks skipped before any decline shows
        slide = int(rng.integers(1, 4))
        plan.start = int(rng.integers(3, max(4, n - quiet - slide)))
        plan.last = min(n - 1, plan.start + quiet + slide - 1)
        plan.skip[plan.start :] = 0.65
        plan.absent[plan.start :] = 0.3
        for i in range(plan.start + quiet, n):
            plan.shift[i] -= rng.uniform(0.8, 1.8) * (i - plan.start - quiet + 1) / slide
    elif mechanism == "external":
        plan.last = int(rng.integers(3, n - 2))
    return plan


def _attendance(rng: np.random.Generator, n: int, no_show: float, absent: np.ndarray) -> list[bool]:
    out, missed = [], False
    for i in range(n):
        p = min(0.9, (0.35 if missed else no_show) + absent[i])
        missed = bool(rng.random() < p)
        out.append(not missed)
    return out


def _end(rng: np.random.Generator, attended: list[bool], last: int | None) -> list[bool]:
    """A leaver's file: as drawn up to the last attended session, then 0–2 no-shows."""
    if last is None:
        return attended
    tail = int(rng.integers(0, 3))
    return attended[:last] + [True] + [False] * min(tail, len(attended) - last - 1)


def _member_rows(
    rng: np.random.Generator,
    sc: Scenario,
    style: _Style,
    plan: _Plan,
    ids: tuple[str, str],
    dates: list[datetime.date],
    steps: list[int],
    attended: list[bool],
) -> list[dict[str, str]]:
    deviations = _deviations(rng, sc, steps)
    rows, previous = [], None
    for i, date in enumerate(dates):
        row = dict.fromkeys(COLUMNS, "")
        row.update(client_id=ids[0], case_id=ids[1], session_number=str(i + 1),
                   session_date=date.isoformat(), attended="1" if attended[i] else "0")
        growth = style.growth * (1 - math.exp(-i / style.tau))
        latent = style.level + growth + style.offsets + plan.shift[i] + deviations[i]
        bad_day = max(0.0, -deviations[i]) * 0.12  # a bad day is likelier skipped
        if attended[i] and rng.random() >= min(0.95, style.skip + plan.skip[i] + bad_day):
            items = _items(rng, style, latent, sc.item_sd)
            if previous is not None:
                copied = rng.random(3) < style.copy  # lazy answering: last session's, as given
                items[copied] = previous[copied]
            previous = items
            for name, total in zip(SUBSCALES, items.sum(axis=1).tolist(), strict=True):
                row[name] = f"{round((total / ITEMS - 1) / 6 * 10, 2):g}"
            if rng.random() < style.answers_rupture or plan.rupture[i] is not None:
                row["rupture"] = str(plan.rupture[i] or 0)
                if plan.rupture[i]:
                    row["rupture_type"] = plan.rupture_type[i]
        rows.append(row)
    return rows


def _truth(mechanism: str, plan: _Plan) -> Truth:
    if mechanism in DROPOUT_MECHANISMS:
        return Truth(DROPOUT, mechanism, False, plan.start + 1, plan.last + 1)
    if mechanism == "external":
        return Truth(EXTERNAL, mechanism, True, None, plan.last + 1)
    return Truth(COMPLETED, mechanism, mechanism == "stable", None, None)


def _case(rng: np.random.Generator, sc: Scenario, case_id: str, mechanism: str, size: int) -> list[Record]:
    n = int(rng.integers(sc.lengths[0], sc.lengths[1] + 1))
    focal = int(rng.integers(0, size))
    styles = [_style(rng, sc) for _ in range(size)]
    plans = [_plan(rng, mechanism if k == focal else "stable", n) for k in range(size)]
    shared_absent = plans[focal].absent if mechanism == "disengagement" else np.zeros(n)
    attended = _end(rng, _attendance(rng, n, styles[0].no_show, shared_absent), plans[focal].last)
    m = len(attended)
    dates, steps = _dates(rng, sc, m)
    truth = _truth(mechanism, plans[focal])
    out = []
    for k in range(size):
        cid = f"{case_id}-{k + 1}"
        rows = _member_rows(rng, sc, styles[k], plans[k], (cid, case_id), dates, steps, attended)
        out.append(Record(cid, case_id, mechanism, truth, rows))
    return out


def generate(sc: Scenario, participants: int, seed: int) -> list[Record]:
    """Records for about ``participants`` clients (the last case may add up to four more).
    Deterministic for a seed. A family shares its sessions and its ground truth: the members of a
    family that left are all dropouts (their case ends), those of one with a repaired rupture are
    not rupture-free."""
    rng = np.random.default_rng(seed)
    mechanisms = list(sc.mix)
    p = np.array([sc.mix[m] for m in mechanisms])
    p = p / p.sum()
    sizes = np.array(sc.family_sizes) / sum(sc.family_sizes)
    records: list[Record] = []
    n_case = 0
    while len(records) < participants:
        n_case += 1
        case_id = f"F{n_case:05d}"
        size = 1 if rng.random() >= sc.family_share else 2 + int(rng.choice(4, p=sizes))
        mechanism = mechanisms[int(rng.choice(len(mechanisms), p=p))]
        records.extend(_case(rng, sc, case_id, mechanism, size))
    return records


def write_csv(records: list[Record], stream) -> int:
    """Write the records as a replay CSV (COLUMNS) to a text stream; returns the rows written."""
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerows(record.rows)
        count += len(record.rows)
    return count


def full_mark_share(records: list[Record]) -> float:
    """Share of answered checks with every subscale at 10."""
    answered = [r for rec in records for r in rec.rows if r["goals"]]
    full = sum(1 for r in answered if r["goals"] == r["tasks"] == r["bond"] == "10")
    return full / max(1, len(answered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    for index, sc in enumerate(SCENARIOS):
        records = generate(sc, args.participants, args.seed + index)
        counts: dict[str, int] = {}
        for r in records:
            counts[r.mechanism] = counts.get(r.mechanism, 0) + 1
        cases = len({r.case_id for r in records})
        rows = sum(len(r.rows) for r in records)
        print(f"{sc.name}: {len(records)} clients in {cases} cases, {rows} rows, "
              f"{full_mark_share(records):.0%} of checks at full marks; "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
