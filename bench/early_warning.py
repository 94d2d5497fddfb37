"""Early-warning benchmark: the engine against two simple baselines on a simulated cohort.

Run: .venv/bin/python bench/early_warning.py [--participants 2000] [--seed 20240611]
No Django needed. Prints figures; never passes or fails on them (DESIGN.md, bench/).

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
import io
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measures.engine import (  # noqa: E402
    KIND_SPLIT_ALLIANCE,
    EngineSettings,
    Observation,
    compute_case,
)
from measures.engine.calibration import apply_calibration, compute_calibration  # noqa: E402
from measures.engine.replay import read_replay, run_replay  # noqa: E402
from measures.simulation import (  # noqa: E402
    OUTCOME_COMPLETED,
    OUTCOME_DROPOUT,
    PATTERN_STABLE_HIGH,
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
        case_flags = sorted(
            f.session_number for f in result.findings if f.severity in FLAG_SEVERITIES
        )
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

    import numpy as np

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    settings = EngineSettings()
    bench_quality(args.participants, args.seed, settings)
    if not args.skip_speed:
        print()
        bench_speed(args.seed, settings)


if __name__ == "__main__":
    main()
