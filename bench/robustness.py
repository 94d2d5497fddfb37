"""Robustness benchmark: the engine on cohorts from an independent generator, scenario by scenario.

Run: .venv/bin/python bench/robustness.py [--participants 1500] [--seed 7] [--only NAME] [--budget 8,5,none]
No Django needed. Prints figures; never passes or fails on them (DESIGN.md, bench/).

The generator here is written from scratch and deliberately unlike measures/simulation.py, so that
the figures say how the engine does on data it was not tuned on: a latent-growth model (random
intercept and slope per client, AR(1) session states of scenario-dependent size and persistence),
answers on other granularities (one 0–10 item per subscale, four 1–7 Likert items rescaled to
0–10, 0.1-step sliders, two 0–10 items), a heavier ceiling, per-client missing-check and no-show
rates, irregular dates, course lengths 4–30, couples and families, and several dropout mechanisms:

- gradual: an unrepaired slide over 2–8 sessions, then gone;
- sudden: a step down that stays, then gone after 1–3 sessions;
- silent: polite full marks, then skipped checks and missed sessions, then gone;
- split: in a couple or family one member's alliance falls (gradually or at once), then the case ends;
- external: no alliance sign at all (moved away, insurance ran out). These are *not* counted as
  dropouts the engine should catch; their flag rate is shown on its own line, honestly.

Completers are rupture-free (the false-flag population) or have a V-shaped rupture that recovers.

Each scenario's cohort is written as a replay CSV (with or without the rupture column) to a
temporary directory, then replayed exactly as ``manage.py replay IN --output OUT`` does with its
default options (parse, calibrate from the file, run, write), and the written flags CSV is what is
scored. Metrics and the two baselines are bench/early_warning.py's own functions (see its
docstring for the definitions): a flag on any member counts for the whole case ("case"), as the
dashboard ranks cases; the "client" rows count only flags written for that client_id.

The command keeps a false-flag budget of 8% by default; ``--budget 8,5,none`` replays each scenario
at each of those budgets ("none" = the command's --no-budget) and ends with a table of the rate of
rupture-free completers flagged under each, beside the share of dropouts flagged.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from early_warning import (  # noqa: E402
    FLAG_SEVERITIES,
    Row,
    below_cutoff,
    drop_since_last,
    print_table,
    score,
    tune,
)
from records import Record, Truth  # noqa: E402

from measures.engine import EngineSettings  # noqa: E402
from measures.engine.budget import DEFAULT_BUDGET, at_strictness, calibrate_strictness  # noqa: E402
from measures.engine.calibration import apply_calibration, compute_calibration  # noqa: E402
from measures.engine.contract import REPLAY_COLUMNS, REPLAY_INPUT_COLUMNS, SUBSCALES  # noqa: E402
from measures.engine.replay import read_replay, run_replay  # noqa: E402

COMPLETED = "completed"  # the outcome labels early_warning.score() counts
DROPOUT = "dropout"
EXTERNAL = "external_dropout"  # left for reasons unrelated to the alliance: scored separately

MECHANISMS = ("stable", "v_rupture", "gradual", "sudden", "silent", "external")


@dataclass(frozen=True)
class Scenario:
    """One cohort recipe. Noise figures are on the 0–10 scale."""

    name: str
    about: str
    granularity: str = "int2"  # int2 | single | likert7 | slider
    state_sd: float = 0.5  # session-level state shared by the subscales (AR(1))
    phi: float = 0.3  # its autocorrelation
    item_sd: float = 0.5  # per item
    intercept: tuple[float, float] = (7.6, 1.1)  # mean, SD of the random intercept
    slope: tuple[float, float] = (0.04, 0.03)  # per session, mean, SD (growth levels off at 12)
    ceiling_share: float = 0.15  # clients whose latent level sits above the top
    missing: tuple[float, float] = (0.05, 0.15)  # per-client rate of attended-but-unanswered
    no_show: tuple[float, float] = (0.0, 0.08)
    lengths: tuple[int, int] = (6, 24)  # planned course length range (inclusive)
    rupture_column: bool = True
    irregular: bool = False
    couple_share: float = 0.2  # share of cases that are couples (a sixth of those families)
    depth: tuple[float, float] = (1.8, 4.0)  # total loss of a decline or sudden drop
    mix: dict[str, float] = field(
        default_factory=lambda: {
            "stable": 0.52,
            "v_rupture": 0.14,
            "gradual": 0.08,
            "sudden": 0.07,
            "silent": 0.06,
            "external": 0.07,
        }
    )


SCENARIOS = (
    Scenario(
        "two-items-medium",
        "two 0–10 items per subscale, medium noise, weekly, rupture column",
    ),
    Scenario(
        "single-item-coarse",
        "one 0–10 item per subscale (steps of 1), medium noise, no rupture column",
        granularity="single",
        rupture_column=False,
    ),
    Scenario(
        "heavy-ceiling",
        "40% of clients at 10 most sessions, single items, missing 5–25%, no rupture column",
        granularity="single",
        ceiling_share=0.40,
        missing=(0.05, 0.25),
        rupture_column=False,
    ),
    Scenario(
        "likert7-low-noise",
        "four 1–7 Likert items rescaled to 0–10, low noise, irregular dates",
        granularity="likert7",
        state_sd=0.25,
        item_sd=0.5,
        irregular=True,
    ),
    Scenario(
        "slider-high-noise-ar",
        "0.1-step sliders, high noise with strong autocorrelation (phi .6), no rupture column",
        granularity="slider",
        state_sd=0.9,
        phi=0.6,
        item_sd=0.6,
        rupture_column=False,
    ),
    Scenario(
        "short-irregular-missing",
        "courses of 4–12 sessions, irregular dates, missing 10–25%, no-shows up to 15%",
        lengths=(4, 12),
        irregular=True,
        missing=(0.10, 0.25),
        no_show=(0.0, 0.15),
    ),
    Scenario(
        "couples-families",
        "60% couples/families (split alliances), sliders, medium noise, rupture column",
        granularity="slider",
        couple_share=0.6,
    ),
    Scenario(
        "long-growth-subtle",
        "courses of 15–30, steeper random slopes, subtler declines (1.2–2.5 points)",
        lengths=(15, 30),
        slope=(0.05, 0.05),
        depth=(1.2, 2.5),
        rupture_column=False,
    ),
    Scenario(
        "small-file",
        "a small clinic: 60 clients (just over the 30 needed to calibrate from the file), single items",
        granularity="single",
        rupture_column=False,
    ),
)


# ---- the generator ---------------------------------------------------------------------------


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    out = np.empty(n)
    value = rng.normal(0.0, sd)
    for i in range(n):
        out[i] = value
        value = phi * value + rng.normal(0.0, sd * np.sqrt(1.0 - phi * phi))
    return out


def _observe(rng: np.random.Generator, latent: float, sc: Scenario) -> float:
    """One subscale score from its latent value, on the scenario's answer granularity."""
    if sc.granularity == "single":
        return float(np.clip(np.rint(latent + rng.normal(0, sc.item_sd)), 0, 10))
    if sc.granularity == "slider":
        return float(np.clip(np.round(latent + rng.normal(0, sc.item_sd), 1), 0, 10))
    if sc.granularity == "likert7":
        items = 1.0 + 6.0 * (latent + rng.normal(0, sc.item_sd * 1.4, size=4)) / 10.0
        items = np.clip(np.rint(items), 1, 7)
        return round(float((items.mean() - 1.0) / 6.0 * 10.0), 2)
    items = np.clip(np.rint(latent + rng.normal(0, sc.item_sd, size=2)), 0, 10)
    return float(items.mean())


def _dates(rng: np.random.Generator, n: int, irregular: bool) -> list[datetime.date]:
    day = datetime.date(2023, 3, 1) + datetime.timedelta(days=int(rng.integers(0, 500)))
    out = [day]
    for _ in range(n - 1):
        gap = int(rng.choice([3, 5, 7, 9, 14, 21, 28])) if irregular else 7
        if not irregular and rng.random() < 0.1:
            gap = 14
        out.append(out[-1] + datetime.timedelta(days=gap))
    return out


@dataclass(slots=True)
class _Client:
    intercept: float
    slope: float
    offsets: np.ndarray
    missing: float
    no_show: float
    rupture_answers: float


def _client(rng: np.random.Generator, sc: Scenario, ceiling: bool) -> _Client:
    # a ceiling client's latent level sits above the top, so most answers are full marks
    intercept = float(rng.uniform(10.6, 12.5) if ceiling else np.clip(rng.normal(*sc.intercept), 3.0, 9.8))
    return _Client(
        intercept=intercept,
        slope=float(rng.normal(*sc.slope)),
        offsets=rng.normal(0.0, 0.35, size=3),
        missing=float(rng.uniform(*sc.missing)),
        no_show=float(rng.uniform(*sc.no_show)),
        rupture_answers=float(rng.uniform(0.5, 0.95)),
    )


def _course(
    rng: np.random.Generator, sc: Scenario, mechanism: str, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int | None], Truth, bool]:
    """Per-session shifts (n×3), attendance probability, skip probability boost, rupture codes."""
    shift = np.zeros((n, 3))
    attend = np.ones(n)
    skip = np.zeros(n)
    ruptures: list[int | None] = [None] * n
    weights = rng.dirichlet([2.0, 2.5, 3.0]) * 3.0
    outcome, rupture_free, start, last = COMPLETED, True, None, n
    force_ceiling = False
    if mechanism == "v_rupture":
        rupture_free = False
        at = int(rng.integers(2, max(3, n - 1)))
        depth = rng.uniform(1.8, 4.0) * weights
        shift[at] -= depth
        if at + 1 < n and rng.random() < 0.5:
            shift[at + 1] -= depth * rng.uniform(0.2, 0.7)
        ruptures[at] = int(rng.choice([2, 1], p=[0.7, 0.3]))
    elif mechanism in ("gradual", "sudden", "silent", "external"):
        outcome = EXTERNAL if mechanism == "external" else DROPOUT
        rupture_free = mechanism == "external"
        start = int(rng.integers(2, max(3, n - 2)))  # 0-based session where it begins
        if mechanism == "gradual":
            length = int(rng.integers(2, 9))
            loss = rng.uniform(*sc.depth)
            for i in range(start, n):
                shift[i] -= loss * min(1.0, (i - start + 1) / length) * weights
                skip[i] = 0.15
                if rng.random() < 0.25:
                    ruptures[i] = 1
            last = min(n - 1, start + length - 1)
        elif mechanism == "sudden":
            shift[start:] -= rng.uniform(*sc.depth) * weights
            if rng.random() < 0.4:
                ruptures[start] = 1
            last = min(n - 1, start + int(rng.integers(0, 3)))
        elif mechanism == "silent":
            force_ceiling = True
            length = int(rng.integers(2, 6))
            for i in range(start, min(n, start + length)):
                attend[i] = 0.6
                skip[i] = 0.8
            last = min(n - 1, start + length - 1)
        else:  # external: nothing in the alliance announces it
            last = start
            start = None
        shift[last + 1 :] = 0.0
    truth = Truth(
        outcome=outcome,
        mechanism=mechanism,
        is_rupture_free=rupture_free,
        decline_start=None if start is None else start + 1,
        last_attended=last + 1 if outcome != COMPLETED else None,
    )
    return shift, attend, skip, ruptures, truth, force_ceiling


def _rows(
    rng: np.random.Generator,
    sc: Scenario,
    client: _Client,
    cid: str,
    case_id: str,
    dates: list[datetime.date],
    attended: list[bool],
    shift: np.ndarray,
    skip: np.ndarray,
    ruptures: list[int | None],
) -> list[dict[str, str]]:
    n = len(dates)
    states = _ar1(rng, n, sc.state_sd, sc.phi)
    rows = []
    for i in range(n):
        row = {
            "client_id": cid,
            "case_id": case_id,
            "session_number": str(i + 1),
            "session_date": dates[i].isoformat(),
            "attended": "1" if attended[i] else "0",
            "goals": "",
            "tasks": "",
            "bond": "",
        }
        if sc.rupture_column:
            row["rupture"] = ""
        if attended[i] and rng.random() >= min(1.0, client.missing + skip[i]):
            growth = client.slope * min(i, 12)
            level = client.intercept + growth + client.offsets + shift[i] + states[i]
            for k, name in enumerate(SUBSCALES):
                value = _observe(rng, float(level[k] + rng.normal(0, sc.state_sd * 0.4)), sc)
                row[name] = f"{value:g}"
            if sc.rupture_column and rng.random() < client.rupture_answers:
                row["rupture"] = str(ruptures[i] if ruptures[i] is not None else 0)
        rows.append(row)
    return rows


def _attendance(rng: np.random.Generator, client_rate: float, attend: np.ndarray, truth: Truth) -> list[bool]:
    n = len(attend)
    out = [bool(rng.random() >= client_rate and rng.random() < attend[i]) for i in range(n)]
    if truth.last_attended is not None:
        last = truth.last_attended - 1
        out[last] = True
        # the file ends at the last attended session, or with 1–2 scheduled no-shows after it
        tail = int(rng.integers(0, 3))
        out = out[: last + 1] + [False] * min(tail, n - last - 1)
    return out


def generate(sc: Scenario, participants: int, seed: int) -> list[Record]:
    rng = np.random.default_rng(seed)
    mechanisms = list(sc.mix)
    p = np.array([sc.mix[m] for m in mechanisms])
    p = p / p.sum()
    records: list[Record] = []
    n_case = 0
    while len(records) < participants:
        n_case += 1
        case_id = f"K{n_case:05d}"
        n = int(rng.integers(sc.lengths[0], sc.lengths[1] + 1))
        if rng.random() < sc.couple_share:
            records.extend(_joint(rng, sc, case_id, n))
            continue
        mechanism = mechanisms[int(rng.choice(len(mechanisms), p=p))]
        shift, attend, skip, ruptures, truth, force_ceiling = _course(rng, sc, mechanism, n)
        client = _client(rng, sc, force_ceiling or rng.random() < sc.ceiling_share)
        attended = _attendance(rng, client.no_show, attend, truth)
        m = len(attended)
        if truth.outcome == COMPLETED and not any(attended):
            attended[0] = True
        dates = _dates(rng, m, sc.irregular)
        cid = f"{case_id}-1"
        rows = _rows(rng, sc, client, cid, case_id, dates, attended, shift[:m], skip[:m], ruptures)
        records.append(Record(cid, case_id, mechanism, truth, rows))
    return records


def _joint(rng: np.random.Generator, sc: Scenario, case_id: str, n: int) -> list[Record]:
    """A couple (or, one time in six, a family of three) attending together."""
    size = 3 if rng.random() < 1 / 6 else 2
    is_split = rng.random() < 0.3
    clients = [_client(rng, sc, rng.random() < sc.ceiling_share) for _ in range(size)]
    shifts = [np.zeros((n, 3)) for _ in range(size)]
    ruptures: list[list[int | None]] = [[None] * n for _ in range(size)]
    truth = Truth(COMPLETED, "couple_completer", True, None, None)
    if is_split:
        start = int(rng.integers(2, max(3, n - 2)))
        length = int(rng.integers(1, 6))
        loss = rng.uniform(*sc.depth) * rng.dirichlet([2.0, 2.5, 3.0]) * 3.0
        for i in range(start, n):
            shifts[1][i] -= loss * min(1.0, (i - start + 1) / length)
        if rng.random() < 0.3:
            ruptures[1][start] = 1
        last = min(n - 1, start + length - 1)
        truth = Truth(DROPOUT, "split", False, start + 1, last + 1)
    attended = _attendance(rng, float(rng.uniform(*sc.no_show)), np.ones(n), truth)
    if not any(attended):
        attended[0] = True
    m = len(attended)
    dates = _dates(rng, m, sc.irregular)
    out = []
    for k in range(size):
        cid = f"{case_id}-{k + 1}"
        rows = _rows(
            rng,
            sc,
            clients[k],
            cid,
            case_id,
            dates,
            attended,
            shifts[k][:m],
            np.zeros(m),
            ruptures[k],
        )
        out.append(Record(cid, case_id, truth.mechanism, truth, rows))
    return out


# ---- replay exactly as `manage.py replay IN --output OUT` does, then score -----------------


def write_csv(records: list[Record], path: Path, rupture_column: bool) -> int:
    columns = REPLAY_COLUMNS if rupture_column else REPLAY_INPUT_COLUMNS
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        count = 0
        for record in records:
            writer.writerows(record.rows)
            count += len(record.rows)
    return count


def replay_like_the_command(source: Path, target: Path, budget: float | None = DEFAULT_BUDGET):
    """The command's path: parse with the defaults, calibrate from the file, keep the false-flag
    budget (None: --no-budget), run. Returns the cases, the calibration and the BudgetFit."""
    defaults = EngineSettings()
    with source.open(newline="", encoding="utf-8-sig") as stream:
        cases = read_replay(stream, defaults)
    calibration = compute_calibration(obs for parts in cases.values() for obs in parts.values())
    settings = apply_calibration(defaults, calibration)
    fit = None
    if budget is not None:
        fit = calibrate_strictness(
            (obs for parts in cases.values() for obs in parts.values()),
            settings,
            budget,
            case_sizes=[len(parts) for parts in cases.values()],
        )
        if fit is not None:
            settings = at_strictness(settings, fit.strictness)
    with target.open("w", newline="", encoding="utf-8") as output:
        run_replay(cases, output, settings)
    return cases, calibration, fit


def _checks(rows: list[dict[str, str]]) -> list[tuple[int, float]]:
    out = []
    for row in rows:
        if row["goals"] and row["tasks"] and row["bond"]:
            total = (float(row["goals"]) + float(row["tasks"]) + float(row["bond"])) / 3.0
            out.append((int(row["session_number"]), total))
    return out


def to_rows(records: list[Record], flags_path: Path, per_client: bool) -> list[Row]:
    by_client: dict[str, list[int]] = {}
    by_case: dict[str, list[int]] = {}
    with flags_path.open(newline="", encoding="utf-8") as stream:
        for flag in csv.DictReader(stream):
            if flag["severity"] in FLAG_SEVERITIES:
                session = int(flag["session_number"])
                by_client.setdefault(flag["client_id"], []).append(session)
                by_case.setdefault(flag["case_id"], []).append(session)
    members: dict[str, list[Record]] = {}
    for record in records:
        members.setdefault(record.case_id, []).append(record)
    out = []
    for record in records:
        own = _checks(record.rows)
        others = [] if per_client else [_checks(m.rows) for m in members[record.case_id] if m is not record]
        flags = by_client.get(record.client_id, []) if per_client else by_case.get(record.case_id, [])
        out.append(
            Row(
                pattern=record.mechanism,
                outcome=record.truth.outcome,
                is_rupture_free=record.truth.is_rupture_free,
                decline_start=record.truth.decline_start,
                last_attended=record.truth.last_attended,
                sessions=len(record.rows),
                checks=own,
                case_checks=[own, *others],
                engine_flags=sorted(set(flags)),
                raised=sorted(by_client.get(record.client_id, [])),
            )
        )
    return out


def _share(rows: list[Row], keep) -> tuple[int, float]:
    group = [r for r in rows if keep(r)]
    return len(group), sum(1 for r in group if r.engine_flags) / max(1, len(group))


def _flagged_by_last(r: Row) -> bool:
    return any(s <= (r.last_attended or 0) for s in r.engine_flags)


def run_scenario(
    sc: Scenario, participants: int, seed: int, workdir: Path, budget: float | None = DEFAULT_BUDGET
) -> dict:
    """Replay one scenario's cohort, print its figures, return the summary line's figures."""
    if sc.name == "small-file":
        participants = min(participants, 60)
    records = generate(sc, participants, seed)
    source = workdir / f"{sc.name}.csv"
    target = workdir / f"{sc.name}-flags.csv"
    n_rows = write_csv(records, source, sc.rupture_column)
    t0 = time.perf_counter()
    cases, calibration, fit = replay_like_the_command(source, target, budget)
    elapsed = time.perf_counter() - t0
    counts: dict[str, int] = {}
    for record in records:
        counts[record.truth.mechanism] = counts.get(record.truth.mechanism, 0) + 1
    print(f"== {sc.name}: {sc.about}")
    print(
        f"   {len(records)} clients in {len(cases)} cases, {n_rows} rows; "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; replay {elapsed:.2f} s"
    )
    if calibration is None:
        print("   calibration: too few clients, built-in defaults")
    else:
        print(
            f"   calibrated: reliability {calibration.reliability}, spread {calibration.spread}, "
            f"missed-check rate {calibration.engagement_rate:.0%}"
        )
    if budget is None:
        print("   false-flag budget: none (default strictness)")
    elif fit is None:
        print(f"   false-flag budget {budget:.0%}: too few clients, default strictness")
    else:
        print(
            f"   false-flag budget {budget:.0%}: strictness {fit.strictness:.2f}, "
            f"{fit.achieved:.1%} of {fit.courses} simulated steady courses flagged"
        )
    scale_max = EngineSettings().scale_max
    summary: dict = {"strictness": fit.strictness if fit else 1.0}
    for per_client in (False, True):
        rows = to_rows(records, target, per_client)
        label = "client" if per_client else "case"
        engine = score(f"engine ({label})", rows, lambda r: r.engine_flags, lambda r: r.raised)
        results = [engine]
        if not per_client:
            target_rate = engine.false_flags
            cut_value, _ = tune(
                rows, below_cutoff, sorted(round(scale_max - 0.05 * i, 2) for i in range(201)), target_rate
            )
            drop_value, _ = tune(
                rows, drop_since_last, [round(0.05 * i, 2) for i in range(200, 0, -1)], target_rate
            )
            results += [
                score(f"(a) total < {scale_max * 0.9:.1f}", rows, *below_cutoff(scale_max * 0.9)),
                score(f"(a) total < {cut_value:.2f} (tuned)", rows, *below_cutoff(cut_value)),
                score("(b) drop ≥ 1.0 since last", rows, *drop_since_last(1.0)),
                score(f"(b) drop ≥ {drop_value:.2f} (tuned)", rows, *drop_since_last(drop_value)),
            ]
        print_table(results, header=not per_client)
        summary["client" if per_client else "case"] = engine
        if not per_client:
            case_rows = rows
    by_mechanism = []
    for mechanism in ("gradual", "sudden", "silent", "split"):
        group = [r for r in case_rows if r.pattern == mechanism and r.last_attended]
        if group:
            caught = sum(1 for r in group if _flagged_by_last(r)) / len(group)
            by_mechanism.append(f"{mechanism} {caught:.0%} of {len(group)}")
    n_ext, _ = _share(case_rows, lambda r: r.outcome == EXTERNAL)
    ext = [r for r in case_rows if r.outcome == EXTERNAL]
    ext_rate = sum(1 for r in ext if _flagged_by_last(r)) / max(1, len(ext))
    n_v, v_rate = _share(case_rows, lambda r: r.pattern == "v_rupture")
    print(f"   dropouts flagged by last attended, by mechanism (case): {', '.join(by_mechanism)}")
    print(
        f"   external dropouts (no alliance sign) flagged by their last session: {ext_rate:.1%} "
        f"of {n_ext}; V-rupture completers ever flagged: {v_rate:.1%} of {n_v}"
    )
    print()
    return summary


def _budgets(text: str) -> list[float | None]:
    return [None if part.strip() == "none" else float(part) / 100.0 for part in text.split(",")]


def print_budget_table(summaries: dict[str, dict]) -> None:
    """One line per scenario: rupture-free completers flagged (case, client) and dropouts flagged
    by their last session, under each budget."""
    budgets = list(next(iter(summaries.values())))
    labels = ["none" if b is None else f"B={b:.0%}" for b in budgets]
    print("== rupture-free completers flagged (case / client) and dropouts flagged by last session (case)")
    print(f"{'scenario':<26}" + "".join(f"{label + ' (strictness)':>34}" for label in labels))
    for name, by_budget in summaries.items():
        cells = []
        for budget in budgets:
            s = by_budget[budget]
            flagged = f"{s['case'].false_flags:>7.1%} /{s['client'].false_flags:>6.1%}"
            cells.append(f"{flagged}  {s['case'].caught:>6.1%} ({s['strictness']:.2f})")
        print(f"{name:<26}" + "".join(f"{cell:>34}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", help="run only the scenario of this name")
    parser.add_argument(
        "--budget", default="8", help="false-flag budgets in percent, comma-separated; 'none' = no budget"
    )
    args = parser.parse_args()
    budgets = _budgets(args.budget)
    summaries: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="robustness-") as tmp:
        for index, sc in enumerate(SCENARIOS):
            if args.only and sc.name != args.only:
                continue
            for budget in budgets:
                summary = run_scenario(sc, args.participants, args.seed + index, Path(tmp), budget)
                summaries.setdefault(sc.name, {})[budget] = summary
    if len(budgets) > 1 and summaries:
        print_budget_table(summaries)


if __name__ == "__main__":
    main()
