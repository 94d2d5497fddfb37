"""Early-warning benchmark: the engine against two simple baselines on a simulated cohort.

Run: .venv/bin/python bench/early_warning.py [--participants 2000] [--seed 20240611]
     .venv/bin/python bench/early_warning.py --curves [--generators sim,robust,third] [--participants 1500]
No Django needed. Prints figures; never passes or fails on them (DESIGN.md, bench/).

--curves (issue 10.3) scores the engine on the three yardsticks: this simulator (one scenario),
bench/robustness.py's nine scenarios and bench/third_generator.py's four, each cohort read through
an in-memory replay file and calibrated from itself as ``manage.py replay`` does. For each it
prints the share of dropouts flagged (by the last session, ≥ 1 session ahead) at false-flag rates
of 2, 5, 8, 10 and 15%: the engine at the most sensitive strictness on a grid (at_strictness)
whose rate stays within the target, each baseline at its most sensitive threshold within it
(as tune() picks); then the engine at its default budget (calibrate_strictness on the cohort's
own series), with its achieved false-flag rate and alerts per 100 attended sessions, what the
dropouts' truth gives to be seen, which rules the false flags are spent on (the kind of each
flagged completer's case's first flag), and a summary over scenarios.

Definitions (per participant; the dashboard ranks cases, so any warning or alert finding in a
couple's or family's case counts for every member, for the engine and the baselines alike):
- a flag is a warning or alert finding; a baseline "flags" a check where its rule fires;
- dropouts flagged: a flag between the start of the decline (or disengagement) and the last
  attended session, inclusive; ahead: such a flag at least one session before the last attended;
  lead: last attended session − first flag in that window (sessions, flagged dropouts only);
- false-flag rate: rupture-free completers ever flagged, at any session;
- flags per 100 sessions: raised flags (onsets/escalations; for baselines, checks where the rule
  fires after not firing at the previous check) per 100 scheduled sessions, whole cohort.
The baselines are also shown with their threshold tuned to the engine's false-flag rate (the
most sensitive threshold whose false-flag rate does not exceed the engine's). The engine runs as
the replay command runs it: calibrated from the cohort's own scores (reliability, spread, usual
rate of missed checks); a reference row shows it with the built-in defaults.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measures.engine import (  # noqa: E402
    KIND_SPLIT_ALLIANCE,
    EngineSettings,
    Observation,
    compute_case,
)
from measures.engine.budget import at_strictness  # noqa: E402
from measures.engine.calibration import apply_calibration, compute_calibration  # noqa: E402
from measures.engine.replay import read_replay, run_replay  # noqa: E402
from measures.simulation import (  # noqa: E402
    OUTCOME_COMPLETED,
    OUTCOME_DROPOUT,
    PATTERN_STABLE_HIGH,
    GroundTruth,
    SimulatedCase,
    simulate_case,
    simulate_cohort,
    write_replay_csv,
)

FLAG_SEVERITIES = ("warning", "alert")


@dataclass(slots=True)
class Row:
    """One participant as the evaluation sees it."""

    pattern: str
    outcome: str
    is_rupture_free: bool
    decline_start: int | None
    last_attended: int | None
    sessions: int
    checks: list[tuple[int, float]]  # (session_number, total) of answered checks
    case_checks: list[list[tuple[int, float]]]  # every member's checks, this one first
    engine_flags: list[int]  # sessions of warning/alert findings raised in the case
    raised: list[int]  # sessions of warning/alert findings raised for this participant
    case_id: str = ""
    split_severities: list[str] = field(default_factory=list)  # the case's split findings
    alerts: int = 0  # alert findings raised for this participant
    attended: int = 0  # sessions attended
    first_kind: str = ""  # the kind of the case's first flag


@dataclass(slots=True)
class Scores:
    """The figures for one method."""

    name: str
    caught: float
    ahead: float
    lead: float | None
    false_flags: float
    per_100: float


def collect(cases: list[SimulatedCase], settings: EngineSettings) -> list[Row]:
    """Run the engine over every case and keep what the evaluation needs."""
    rows = []
    for case in cases:
        result = compute_case(case.participants, settings)
        # the dashboard ranks cases, so a flag on any member flags the whole case
        flags = sorted(
            (f for f in result.findings if f.severity in FLAG_SEVERITIES), key=lambda f: f.session_number
        )
        case_flags = [f.session_number for f in flags]
        for pid, observations in case.participants.items():
            truth = case.truth[pid]
            rows.append(
                Row(
                    pattern=case.pattern,
                    outcome=truth.outcome,
                    is_rupture_free=truth.is_rupture_free,
                    decline_start=truth.decline_start,
                    last_attended=truth.last_attended,
                    sessions=len(observations),
                    checks=_checks(observations),
                    case_checks=[_checks(obs) for obs in case.participants.values()],
                    engine_flags=case_flags,
                    raised=sorted(
                        f.session_number
                        for f in result.findings
                        if f.participant_id == pid and f.severity in FLAG_SEVERITIES
                    ),
                    case_id=case.case_id,
                    split_severities=[
                        f.severity for f in result.findings if f.kind == KIND_SPLIT_ALLIANCE
                    ],
                    alerts=sum(
                        1
                        for f in result.findings
                        if f.participant_id == pid and f.severity == "alert"
                    ),
                    attended=sum(1 for o in observations if o.attended),
                    first_kind=flags[0].kind if flags else "",
                )
            )
    return rows


def _checks(observations: list[Observation]) -> list[tuple[int, float]]:
    return [(o.session_number, o.total) for o in observations if o.total is not None]


def score(name: str, rows: list[Row], flags_of, raised_of) -> Scores:
    """Evaluate one method; ``flags_of(row)`` lists flagged sessions, ``raised_of`` raised ones."""
    dropouts = [r for r in rows if r.outcome == OUTCOME_DROPOUT and r.last_attended]
    caught = ahead = 0
    leads = []
    for r in dropouts:
        start = r.decline_start or 1
        window = [s for s in flags_of(r) if start <= s <= r.last_attended]
        if window:
            caught += 1
            leads.append(r.last_attended - window[0])
            if window[0] <= r.last_attended - 1:
                ahead += 1
    clean = [r for r in rows if r.outcome == OUTCOME_COMPLETED and r.is_rupture_free]
    false_flags = sum(1 for r in clean if flags_of(r)) / max(1, len(clean))
    sessions = sum(r.sessions for r in rows)
    raised = sum(len(raised_of(r)) for r in rows)
    return Scores(
        name=name,
        caught=caught / max(1, len(dropouts)),
        ahead=ahead / max(1, len(dropouts)),
        lead=statistics.median(leads) if leads else None,
        false_flags=false_flags,
        per_100=100.0 * raised / max(1, sessions),
    )


def _case_flags(r: Row, fired) -> list[int]:
    """Sessions where a rule fires for any member of the participant's case."""
    return sorted({s for checks in r.case_checks for s in fired(checks)})


def _onsets(checks: list[tuple[int, float]], hits: list[bool]) -> list[int]:
    out, was = [], False
    for (s, _total), hit in zip(checks, hits, strict=True):
        if hit and not was:
            out.append(s)
        was = hit
    return out


def below_cutoff(cutoff: float):
    """Baseline (a): flag a check whose total is below ``cutoff``."""

    def hits(checks):
        return [total < cutoff - 1e-9 for _s, total in checks]

    def fired(checks):
        return [s for (s, _t), hit in zip(checks, hits(checks), strict=True) if hit]

    return (lambda r: _case_flags(r, fired)), (lambda r: _onsets(r.checks, hits(r.checks)))


def drop_since_last(size: float):
    """Baseline (b): flag a check whose total fell by ``size`` or more since the last check."""

    def hits(checks):
        out = [False]
        for (_s0, before), (_s1, after) in zip(checks, checks[1:], strict=False):
            out.append(before - after >= size - 1e-9)
        return out[: len(checks)]

    def fired(checks):
        return [s for (s, _t), hit in zip(checks, hits(checks), strict=True) if hit]

    return (lambda r: _case_flags(r, fired)), (lambda r: _onsets(r.checks, hits(r.checks)))


def tune(rows: list[Row], make, candidates: list[float], target: float) -> tuple[float, float | None]:
    """The most sensitive candidate (ordered from least to most sensitive) whose false-flag rate
    stays within ``target``, and the next step, which exceeds it (None if there is none). Scores
    come in coarse steps, so the two bracket the engine's rate from below and above."""
    clean = [r for r in rows if r.outcome == OUTCOME_COMPLETED and r.is_rupture_free]
    best = candidates[0]
    for index, value in enumerate(candidates):
        flags, _ = make(value)
        rate = sum(1 for r in clean if flags(r)) / max(1, len(clean))
        if rate <= target:
            best = value
        else:
            return best, candidates[index]
    return best, None


def print_table(results: list[Scores], header: bool = True) -> None:
    title = (
        f"{'method':<38}{'dropouts flagged':>17}{'≥1 ahead':>10}{'median lead':>12}"
        f"{'false flags':>12}{'flags/100':>10}"
    )
    if header:
        print(title)
        print("-" * len(title))
    for s in results:
        lead = "—" if s.lead is None else f"{s.lead:g}"
        print(
            f"{s.name:<38}{s.caught:>17.1%}{s.ahead:>10.1%}{lead:>12}{s.false_flags:>12.1%}"
            f"{s.per_100:>10.2f}"
        )


def bench_quality(participants: int, seed: int, defaults: EngineSettings) -> None:
    cases = simulate_cohort(participants, seed)
    # as the replay command does: reliability, spread and engagement from the cohort itself
    calibration = compute_calibration(obs for c in cases for obs in c.participants.values())
    settings = apply_calibration(defaults, calibration)
    rows = collect(cases, settings)
    dropouts = sum(1 for r in rows if r.outcome == OUTCOME_DROPOUT)
    clean = sum(1 for r in rows if r.outcome == OUTCOME_COMPLETED and r.is_rupture_free)
    print(
        f"Cohort: {len(rows)} participants in {len(cases)} cases (seed {seed}), "
        f"{sum(r.sessions for r in rows)} sessions, {dropouts} dropouts, "
        f"{clean} rupture-free completers"
    )
    if calibration is not None:
        print(
            f"Calibrated from the cohort: reliability {calibration.reliability}, spread "
            f"{calibration.spread}, missed-check rate {calibration.engagement_rate:.0%}"
        )
    print()
    engine = score("engine (warning/alert)", rows, lambda r: r.engine_flags, lambda r: r.raised)
    default_rows = collect(cases, defaults)
    engine_defaults = score(
        "engine, built-in defaults (reference)",
        default_rows,
        lambda r: r.engine_flags,
        lambda r: r.raised,
    )
    target = engine.false_flags
    cut_fixed = below_cutoff(settings.scale_max * 0.9)
    drop_fixed = drop_since_last(1.0)
    cutoffs = [round(settings.scale_max - 0.05 * i, 2) for i in range(0, 201)]
    cut_value, cut_next = tune(rows, below_cutoff, sorted(cutoffs), target)
    drops = [round(0.05 * i, 2) for i in range(1, 201)]
    drop_value, drop_next = tune(rows, drop_since_last, sorted(drops, reverse=True), target)
    results = [
        engine,
        score(f"(a) total < {settings.scale_max * 0.9:.1f}", rows, *cut_fixed),
        score(f"(a) total < {cut_value:.2f} (tuned)", rows, *below_cutoff(cut_value)),
    ]
    if cut_next is not None:
        results.append(score(f"(a) total < {cut_next:.2f} (next step)", rows, *below_cutoff(cut_next)))
    results += [
        score("(b) drop ≥ 1.0 since last check", rows, *drop_fixed),
        score(
            f"(b) drop ≥ {drop_value:.2f} since last (tuned)", rows, *drop_since_last(drop_value)
        ),
    ]
    if drop_next is not None:
        results.append(
            score(f"(b) drop ≥ {drop_next:.2f} (next step)", rows, *drop_since_last(drop_next))
        )
    print_table(results)
    print("  for reference, not tuned against:")
    print_table([engine_defaults], header=False)
    print()
    print("Engine by pattern (share of participants ever flagged warning/alert):")
    by_pattern: dict[str, list[Row]] = {}
    for r in rows:
        by_pattern.setdefault(r.pattern, []).append(r)
    for pattern, group in sorted(by_pattern.items()):
        share = sum(1 for r in group if r.engine_flags) / len(group)
        print(f"  {pattern:<22}{len(group):>6}{share:>8.1%}")
    print_splits(rows)


def print_splits(rows: list[Row]) -> None:
    """Split-alliance findings of the joint cases, by pattern (a case counted once)."""
    cases: dict[str, Row] = {}
    for r in rows:
        if len(r.case_checks) > 1:
            cases.setdefault(r.case_id, r)
    print()
    print("Split alliance in joint cases (share of cases with a split finding of that level):")
    print(f"  {'pattern':<22}{'cases':>6}{'any':>8}{'warning+':>10}{'alert':>8}")
    by_pattern: dict[str, list[Row]] = {}
    for r in cases.values():
        by_pattern.setdefault(r.pattern, []).append(r)
    for pattern, group in sorted(by_pattern.items()):
        def share(levels, group=group):
            return sum(1 for r in group if set(r.split_severities) & levels) / len(group)

        print(
            f"  {pattern:<22}{len(group):>6}{share({'info', 'warning', 'alert'}):>8.1%}"
            f"{share({'warning', 'alert'}):>10.1%}{share({'alert'}):>8.1%}"
        )


def bench_speed(seed: int, settings: EngineSettings) -> None:
    cases = simulate_cohort(10_000, seed + 1)
    source = io.StringIO()
    n_rows = write_replay_csv(cases, source)
    text = source.getvalue()
    start = time.perf_counter()
    parsed = read_replay(io.StringIO(text), settings)
    parse_done = time.perf_counter()
    calibration = compute_calibration(obs for parts in parsed.values() for obs in parts.values())
    settings = apply_calibration(settings, calibration)
    output = io.StringIO()
    n_findings = run_replay(parsed, output, settings)
    end = time.perf_counter()
    n_participants = sum(len(c.participants) for c in cases)
    print(
        f"Replay: {n_participants} participants, {n_rows} rows "
        f"(~{n_rows / n_participants:.1f} sessions each), {n_findings} findings: "
        f"{end - start:.2f} s on one core (parse {parse_done - start:.2f} s, "
        f"calibrate + engine + write {end - parse_done:.2f} s)"
    )

    rng = np.random.default_rng(seed)
    typical = [simulate_case(PATTERN_STABLE_HIGH, rng, 15, f"t{i}") for i in range(50)]
    timings = []
    for case in typical:
        for _ in range(5):
            t0 = time.perf_counter()
            compute_case(case.participants, settings)
            timings.append(time.perf_counter() - t0)
    print(
        f"compute_case, one typical case (1 participant, 15 sessions): median "
        f"{statistics.median(timings) * 1000:.2f} ms over {len(timings)} runs"
    )


# ---- curves: every generator and scenario, at several false-flag rates (issue 10.3) -----------

RATES = (0.02, 0.05, 0.08, 0.10, 0.15)
# Strictness grid for the engine, from least to most sensitive (at_strictness clips to 0.4–3).
STRICTNESS_GRID = tuple(round(float(x), 3) for x in np.geomspace(3.0, 0.4, 41))
GENERATORS = ("sim", "robust", "third")


@dataclass(slots=True)
class Cohort:
    """One scenario's cohort, parsed as replay parses it, and calibrated from itself."""

    generator: str
    scenario: str
    cases: list[SimulatedCase]
    settings: EngineSettings  # the defaults with the cohort's own calibration
    external: list[str] = field(default_factory=list)  # external dropouts (not scored)


@dataclass(slots=True)
class Curve:
    """One method's (dropouts flagged, ≥ 1 ahead, achieved false-flag rate) at each target rate."""

    name: str
    points: list[tuple[float, float, float, str]]  # caught, ahead, false flags, setting


def _calibrated(cases: list[SimulatedCase], defaults: EngineSettings) -> EngineSettings:
    calibration = compute_calibration(obs for c in cases for obs in c.participants.values())
    return apply_calibration(defaults, calibration)


def cohort_from_records(generator: str, scenario: str, records, defaults: EngineSettings) -> Cohort:
    """Records (bench/robustness.py or bench/third_generator.py) through a replay CSV in memory,
    read as ``manage.py replay`` reads it, into cases with their ground truth."""
    columns = list(records[0].rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerows(record.rows)
    parsed = read_replay(io.StringIO(buffer.getvalue()), defaults)
    truth = {r.client_id: r for r in records}
    cases = []
    for case_id, participants in parsed.items():
        first = truth[next(iter(participants))]
        case = SimulatedCase(case_id=case_id, pattern=first.mechanism, participants=participants)
        for pid in participants:
            t = truth[pid].truth
            case.truth[pid] = GroundTruth(t.outcome, t.is_rupture_free, t.decline_start, t.last_attended)
        cases.append(case)
    external = [r.client_id for r in records if r.truth.outcome == "external_dropout"]
    return Cohort(generator, scenario, cases, _calibrated(cases, defaults), external)


def band(budget: float) -> tuple[float, float]:
    """Issue 10's band around a budget (fractions): B − 3 to B + 1 points at B = 8% and above,
    B − 2 to B + 1 below."""
    return budget - (0.03 if budget >= 0.08 - 1e-9 else 0.02), budget + 0.01


def in_band(rate: float, budget: float) -> bool:
    low, high = band(budget)
    return low - 1e-9 <= rate <= high + 1e-9


REPLICATE_SEED_STEP = 1000  # replicate r draws every cohort with its usual seed + r · this


def cohorts(generators: list[str], participants: int, seed: int, replicate: int = 0) -> list[Cohort]:
    """The cohorts of the chosen generators, scenario by scenario, with each one's usual seed;
    ``replicate`` r > 0 draws each anew from that seed + r · REPLICATE_SEED_STEP (same recipe,
    other clients)."""
    defaults = EngineSettings()
    shift = replicate * REPLICATE_SEED_STEP
    out = []
    if "sim" in generators:
        cases = simulate_cohort(participants, seed + shift)
        out.append(Cohort("sim", "simulator", cases, _calibrated(cases, defaults)))
    if "robust" in generators:
        import robustness

        for index, sc in enumerate(robustness.SCENARIOS):
            n = min(participants, 60) if sc.name == "small-file" else participants
            records = robustness.generate(sc, n, 7 + index + shift)
            out.append(cohort_from_records("robust", sc.name, records, defaults))
    if "third" in generators:
        import third_generator

        for index, sc in enumerate(third_generator.SCENARIOS):
            records = third_generator.generate(sc, participants, 3 + index + shift)
            out.append(cohort_from_records("third", sc.name, records, defaults))
    return out


class EngineRuns:
    """The engine over one cohort at any strictness, each run computed once."""

    def __init__(self, cohort: Cohort) -> None:
        self.cohort = cohort
        self.rows: dict[float, list[Row]] = {}
        self.rates: dict[float, float] = {}
        # only cases holding a rupture-free completer decide the false-flag rate
        self.clean_cases = [
            (c, sum(1 for t in c.truth.values() if t.outcome == OUTCOME_COMPLETED and t.is_rupture_free))
            for c in cohort.cases
        ]
        self.clean_cases = [(c, k) for c, k in self.clean_cases if k]
        self.n_clean = sum(k for _c, k in self.clean_cases)
        self.flagged_at = [-math.inf] * len(self.clean_cases)  # highest strictness seen flagged
        self.clear_at = [math.inf] * len(self.clean_cases)  # lowest strictness seen clear

    def settings(self, strictness: float) -> EngineSettings:
        return at_strictness(self.cohort.settings, strictness)

    def false_flags(self, strictness: float) -> float:
        """Share of rupture-free completers whose case is flagged at ``strictness``, kept
        monotone as the budget's own search keeps it (a case flagged at some strictness counts
        as flagged at every lower one, one clear as clear at every higher one), so that each
        probe computes only the cases not yet decided."""
        if strictness not in self.rates:
            settings = self.settings(strictness)
            flagged = 0
            for i, (case, k) in enumerate(self.clean_cases):
                if self.flagged_at[i] >= strictness:
                    flagged += k
                elif self.clear_at[i] > strictness:
                    if any(f.severity in FLAG_SEVERITIES for f in compute_case(case.participants, settings).findings):
                        self.flagged_at[i] = strictness
                        flagged += k
                    else:
                        self.clear_at[i] = strictness
            self.rates[strictness] = flagged / max(1, self.n_clean)
        return self.rates[strictness]

    def at(self, strictness: float) -> list[Row]:
        if strictness not in self.rows:
            self.rows[strictness] = collect(self.cohort.cases, self.settings(strictness))
        return self.rows[strictness]

    def tuned(self, target: float) -> float:
        """The most sensitive strictness on the grid whose false-flag rate stays within
        ``target`` (the least sensitive one if none does), as tune() does for the baselines;
        found by bisection, the rate being non-increasing in strictness."""
        grid = sorted(STRICTNESS_GRID)
        low, high = 0, len(grid) - 1
        if self.false_flags(grid[high]) > target:
            return grid[high]
        while low < high:
            middle = (low + high) // 2
            if self.false_flags(grid[middle]) <= target:
                high = middle
            else:
                low = middle + 1
        return grid[low]


def _engine_score(rows: list[Row]) -> Scores:
    return score("engine", rows, lambda r: r.engine_flags, lambda r: r.raised)


def _largest_fall(checks: list[tuple[int, float]]) -> float:
    return max((a - b for (_s, a), (_t, b) in zip(checks, checks[1:], strict=False)), default=-math.inf)


def _most_sensitive(candidates, target: float, rate) -> float:
    """tune()'s choice: walking from least to most sensitive, the last candidate within target."""
    best = candidates[0]
    for value in candidates:
        if rate(value) > target:
            break
        best = value
    return best


def curves(runs: EngineRuns) -> list[Curve]:
    """The engine and both baselines, each tuned to every rate of RATES."""
    engine = Curve("engine", [])
    for target in RATES:
        s = runs.tuned(target)
        sc = _engine_score(runs.at(s))
        engine.points.append((sc.caught, sc.ahead, sc.false_flags, f"s={s:g}"))
    rows = next(iter(runs.rows.values()))  # the baselines read only the checks: any run will do
    clean = [r for r in rows if r.outcome == OUTCOME_COMPLETED and r.is_rupture_free]
    scale_max = runs.cohort.settings.scale_max
    # what tune() finds, without re-running each rule: a case fires below cutoff c when its lowest
    # total is under c, and on drops of d when its largest fall between checks reaches d
    lowest = [min((t for checks in r.case_checks for _s, t in checks), default=math.inf) for r in clean]
    largest = [max((_largest_fall(checks) for checks in r.case_checks), default=-math.inf) for r in clean]
    cutoffs = sorted(round(scale_max - 0.05 * i, 2) for i in range(201))
    drops = [round(0.05 * i, 2) for i in range(200, 0, -1)]
    cut, drop = Curve("(a) total < c", []), Curve("(b) drop ≥ d", [])
    for target in RATES:
        value = _most_sensitive(cutoffs, target, lambda c: sum(1 for x in lowest if x < c - 1e-9) / max(1, len(clean)))
        sc = score("", rows, *below_cutoff(value))
        cut.points.append((sc.caught, sc.ahead, sc.false_flags, f"c={value:g}"))
        value = _most_sensitive(drops, target, lambda d: sum(1 for x in largest if x >= d - 1e-9) / max(1, len(clean)))
        sc = score("", rows, *drop_since_last(value))
        drop.points.append((sc.caught, sc.ahead, sc.false_flags, f"d={value:g}"))
    return [engine, cut, drop]


@dataclass(slots=True)
class AtBudget:
    """The engine at its default budget: the strictness, and what it achieves."""

    strictness: float
    how: str
    scores: Scores
    alerts_per_100: float


def default_budget(runs: EngineRuns, budget: float) -> AtBudget:
    """The engine at its default budget, calibrated from the cohort's own series as replay does;
    at strictness 1 (the built-in bar) when the budget calibration is not available."""
    strictness, how = 1.0, "strictness 1 (no budget calibration)"
    try:
        from measures.engine.budget import calibrate_strictness
    except ImportError:
        calibrate_strictness = None
    if calibrate_strictness is not None:
        series = [obs for c in runs.cohort.cases for obs in c.participants.values()]
        sizes = [len(c.participants) for c in runs.cohort.cases]  # as replay passes the file's
        fit = calibrate_strictness(series, runs.cohort.settings, budget, case_sizes=sizes)
        if fit is not None:
            strictness, how = fit.strictness, f"calibrated s={fit.strictness:.3g} (null model {fit.achieved:.1%})"
    rows = runs.at(strictness)
    alerts = sum(r.alerts for r in rows)
    attended = sum(r.attended for r in rows)
    return AtBudget(strictness, how, _engine_score(rows), 100.0 * alerts / max(1, attended))


def _cell(point: tuple[float, float, float, str], target: float) -> str:
    caught, ahead, false_flags, _setting = point
    over = "!" if false_flags > target + 1e-9 else " "
    return f"{caught:>4.0%} {ahead:>4.0%} ({false_flags:>4.1%}){over}"


def _is_visible(observations: list[Observation], start: int, last: int, size: float = 1.0) -> bool:
    """True when some answered check from ``start`` to ``last`` lies ``size`` or more below the
    mean of the checks before ``start`` on some score (the total or a subscale)."""
    before = [o for o in observations if o.total is not None and o.session_number < start]
    window = [o for o in observations if o.total is not None and start <= o.session_number <= last]
    if not before or not window:
        return False
    for name in ("total", "goals", "tasks", "bond"):
        usual = statistics.mean(getattr(o, name) for o in before)
        if any(getattr(o, name) <= usual - size for o in window):
            return True
    return False


def _any_sign(observations: list[Observation], start: int, last: int) -> bool:
    """True when, from ``start`` to ``last``, the course shows anything a detector could read: a
    check ``_is_visible`` counts, a check saying something felt off, an attended session without a
    check, or a no-show. A dropout without any is beyond every rule that does not flag everyone."""
    window = [o for o in observations if start <= o.session_number <= last]
    return _is_visible(observations, start, last) or any(
        not o.attended or o.total is None or (o.rupture or 0) > 0 for o in window
    )


def print_truth(runs: EngineRuns, rows: list[Row]) -> None:
    """What the scenario's dropouts give to be seen, what the engine catches of each kind, and
    which rules its false flags are spent on."""
    members = {pid: obs for c in runs.cohort.cases for pid, obs in c.participants.items()}
    by_row = [(r, members[pid]) for r, pid in zip(rows, members, strict=True)]
    dropouts = [(r, obs) for r, obs in by_row if r.outcome == OUTCOME_DROPOUT and r.last_attended]
    if not dropouts:
        return
    checked = sum(
        1 for r, obs in dropouts
        if any(o.total is not None and (r.decline_start or 1) <= o.session_number <= r.last_attended for o in obs)
    )
    visible = sum(1 for r, obs in dropouts if _is_visible(obs, r.decline_start or 1, r.last_attended))
    signed = sum(1 for r, obs in dropouts if _any_sign(obs, r.decline_start or 1, r.last_attended))
    kinds: dict[str, list[bool]] = {}
    for r, _obs in dropouts:
        window = [f for f in r.engine_flags if (r.decline_start or 1) <= f <= r.last_attended]
        kinds.setdefault(r.pattern, []).append(bool(window))
    print(
        f"   dropouts' truth: {checked / len(dropouts):.0%} answered a check from the decline's onset to their "
        f"last session, {visible / len(dropouts):.0%} one ≥ 1 point below their earlier mean on some score; "
        f"{signed / len(dropouts):.0%} gave any sign (that, a said rupture, a skipped check or a no-show)"
    )
    print(
        "   caught at the default budget, by kind: "
        + ", ".join(f"{k} {statistics.mean(v):.0%} of {len(v)}" for k, v in sorted(kinds.items()))
    )
    clean = [r for r in rows if r.outcome == OUTCOME_COMPLETED and r.is_rupture_free]
    spent = Counter(r.first_kind for r in clean if r.first_kind)
    print(
        "   the false flags, by the kind of the case's first flag: "
        + ", ".join(f"{k} {n / max(1, len(clean)):.1%}" for k, n in spent.most_common())
    )


def print_curves(runs: EngineRuns, lines: list[Curve], at_budget: AtBudget) -> None:
    c = runs.cohort
    rows = runs.at(at_budget.strictness)
    dropouts = sum(1 for r in rows if r.outcome == OUTCOME_DROPOUT)
    print(
        f"== {c.generator} / {c.scenario}: {len(rows)} clients in {len(c.cases)} cases, "
        f"{sum(r.sessions for r in rows)} sessions, {dropouts} dropouts, {runs.n_clean} rupture-free completers"
    )
    head = "".join(f"{f'at ≤ {t:.0%}':>20}" for t in RATES)
    print(f"   {'(by last, ≥1 ahead, achieved)':<18}{head}")
    for line in lines:
        print(f"   {line.name:<18}" + "".join(f"{_cell(p, t):>20}" for p, t in zip(line.points, RATES, strict=True)))
        print(f"   {'':<18}" + "".join(f"{p[3] + ' ':>20}" for p in line.points))
    if any(p[2] > t + 1e-9 for p, t in zip(lines[0].points, RATES, strict=True)):
        print(f"   ! above the rate even at the strictest setting (s={max(STRICTNESS_GRID):g})")
    sc = at_budget.scores
    print(
        f"   engine at its default budget ({at_budget.how}): false flags {sc.false_flags:.1%}, "
        f"dropouts {sc.caught:.1%} by last / {sc.ahead:.1%} ahead, "
        f"alerts {at_budget.alerts_per_100:.2f} per 100 attended sessions"
    )
    if c.external:
        ext = [r for r in rows if r.outcome == "external_dropout"]
        flagged = sum(1 for r in ext if any(s <= (r.last_attended or 0) for s in r.engine_flags))
        print(
            f"   external dropouts (no alliance sign, not scored) flagged by their last session: "
            f"{flagged / max(1, len(ext)):.1%} of {len(ext)}"
        )
    print_truth(runs, rows)
    print()


def _pair(caught: float, ahead: float, over: bool = False) -> str:
    return f"{caught:.0%}/{ahead:.0%}{'!' if over else ' '}"


def print_summary(results: list[tuple[EngineRuns, list[Curve], AtBudget]]) -> None:
    """One line per scenario at 5% and 8%, the default budget, and the mean over scenarios."""
    print(
        "Summary: dropouts flagged by last / ≥1 ahead at false-flag rates of 5% and 8% (the better "
        "baseline: more caught by last; ! above the rate even at s=3), and the engine at its default budget"
    )
    title = (
        f"   {'generator / scenario':<34}{'engine 5%':>11}{'base 5%':>11}{'engine 8%':>11}{'base 8%':>11}"
        f"{'budget s':>10}{'false fl.':>10}{'caught':>8}{'ahead':>7}{'alerts/100':>11}"
    )
    print(title)
    print("   " + "-" * (len(title) - 3))
    table: list[list[float]] = []
    for runs, lines, at_budget in results:
        values, cells = [], []
        for target in (0.05, 0.08):
            index = RATES.index(target)
            engine = lines[0].points[index]
            base = max((line.points[index] for line in lines[1:]), key=lambda p: p[0])
            cells += [_pair(engine[0], engine[1], engine[2] > target + 1e-9), _pair(base[0], base[1])]
            values += [engine[0], engine[1], base[0], base[1]]
        sc = at_budget.scores
        values += [at_budget.strictness, sc.false_flags, sc.caught, sc.ahead, at_budget.alerts_per_100]
        table.append(values)
        name = f"{runs.cohort.generator} / {runs.cohort.scenario}"
        print(
            f"   {name:<34}" + "".join(f"{c:>11}" for c in cells) + f"{at_budget.strictness:>10.2f}"
            f"{sc.false_flags:>10.1%}{sc.caught:>8.1%}{sc.ahead:>7.1%}{at_budget.alerts_per_100:>11.2f}"
        )
    m = [statistics.mean(column) for column in zip(*table, strict=True)]
    cells = [_pair(m[0], m[1]), _pair(m[2], m[3]), _pair(m[4], m[5]), _pair(m[6], m[7])]
    print(
        f"   {'mean over scenarios':<34}" + "".join(f"{c:>11}" for c in cells) + f"{'':>10}"
        f"{m[9]:>10.1%}{m[10]:>8.1%}{m[11]:>7.1%}{m[12]:>11.2f}"
    )


def bench_curves(generators: list[str], participants: int, seed: int, budget: float) -> None:
    results = []
    for cohort in cohorts(generators, participants, seed):
        runs = EngineRuns(cohort)
        lines = curves(runs)
        at_budget = default_budget(runs, budget)
        print_curves(runs, lines, at_budget)
        results.append((runs, lines, at_budget))
    print_summary(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, help="per scenario; default 2000, or 1500 with --curves")
    parser.add_argument("--seed", type=int, default=20240611, help="the simulator's seed")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--curves",
        action="store_true",
        help="print the curves over every generator and scenario instead of the single-point table",
    )
    parser.add_argument(
        "--generators", default=",".join(GENERATORS), help="for --curves: any of sim,robust,third"
    )
    parser.add_argument("--budget", type=float, default=0.08, help="for --curves: the default budget")
    args = parser.parse_args()
    settings = EngineSettings()
    if args.curves:
        chosen = [g.strip() for g in args.generators.split(",") if g.strip()]
        unknown = sorted(set(chosen) - set(GENERATORS))
        if unknown:
            parser.error(f"unknown generator(s): {', '.join(unknown)}")
        started = time.perf_counter()
        bench_curves(chosen, args.participants or 1500, args.seed, args.budget)
        print(f"\n(curves over {', '.join(chosen)} in {time.perf_counter() - started:.0f} s)")
        return
    bench_quality(args.participants or 2000, args.seed, settings)
    if not args.skip_speed:
        print()
        bench_speed(args.seed, settings)


if __name__ == "__main__":
    main()
