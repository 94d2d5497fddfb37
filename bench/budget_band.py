"""The false-flag budget over replicate cohorts: how far one cohort's rate is the engine's, how far chance's.

Run: .venv/bin/python bench/budget_band.py [--replicates 5] [--budgets 8 5] [--generators sim,robust,third]
        [--participants 1500]
No Django needed. Prints figures; never passes or fails on them (DESIGN.md, bench/).

bench/early_warning.py --curves scores each scenario on one cohort. The rate that decides the
issue's band, the share of rupture-free completers whose case is flagged at the budget, rests on
some 500–900 clients there, clustered in couples and families, so one cohort's rate carries a
sampling error of about a point: as large as the band's upper margin (B + 1). This bench draws each
scenario ``--replicates`` times (replicate 0 is the usual cohort, replicate r the same recipe from
its seed + r · 1000: other clients, same generator), calibrates each as replay does (its own
reliability, spread and case sizes, calibrate_strictness at the budget), and prints per scenario
and budget the mean rate over the replicates with its standard error, the lowest and highest, how
many replicates lie in the band, and the dropouts flagged by the last session / ≥ 1 ahead. The
summary counts the scenarios whose mean lies in the band and the replicates that do.

The band is the issue's: B − 3 to B + 1 points at B = 8%, B − 2 to B + 1 at B = 5%.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from early_warning import GENERATORS, EngineRuns, band, cohorts, default_budget, in_band  # noqa: E402


def measure(generators: list[str], participants: int, replicates: int, budgets: list[float]) -> dict:
    """{(generator, scenario): {budget: [(rate, caught, ahead, strictness), … one per replicate]}}."""
    out: dict = {}
    for replicate in range(replicates):
        started = time.perf_counter()
        for cohort in cohorts(generators, participants, 20240611, replicate=replicate):
            runs = EngineRuns(cohort)
            for budget in budgets:
                at = default_budget(runs, budget / 100)
                sc = at.scores
                out.setdefault((cohort.generator, cohort.scenario), {}).setdefault(budget, []).append(
                    (sc.false_flags, sc.caught, sc.ahead, at.strictness)
                )
        print(f"(replicate {replicate}: {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return out


def print_table(results: dict, budgets: list[float], replicates: int) -> None:
    header = f"{'generator / scenario':<34}" + "".join(
        f"{f'B={b:g}%: mean ± SE [min–max] in band, caught/ahead':>58}" for b in budgets
    )
    print(header)
    print("-" * len(header))
    counts = {b: [0, 0] for b in budgets}  # scenarios whose mean is in the band, replicates in it
    totals = {b: [0, 0.0, 0.0] for b in budgets}
    for (generator, scenario), by_budget in results.items():
        cells = []
        for budget in budgets:
            rows = by_budget[budget]
            rates = [r for r, *_ in rows]
            mean = statistics.mean(rates)
            se = f"{statistics.stdev(rates) / math.sqrt(len(rates)):.1%}" if len(rates) > 1 else "–"
            inside = sum(in_band(r, budget / 100) for r in rates)
            mark = " " if in_band(mean, budget / 100) else "*"
            counts[budget][0] += mark == " "
            counts[budget][1] += inside
            caught = statistics.mean(c for _r, c, _a, _s in rows)
            ahead = statistics.mean(a for _r, _c, a, _s in rows)
            totals[budget][0] += 1
            totals[budget][1] += caught
            totals[budget][2] += ahead
            cells.append(
                f"{mean:>6.1%}{mark}± {se} [{min(rates):.1%}–{max(rates):.1%}] {inside}/{len(rates)},"
                f" {caught:.0%}/{ahead:.0%}"
            )
        print(f"{generator + ' / ' + scenario:<34}" + "".join(f"{c:>58}" for c in cells))
    print()
    for budget in budgets:
        n, caught, ahead = totals[budget]
        low, high = band(budget / 100)
        print(
            f"B = {budget:g}% (band {low:.0%}–{high:.0%}): mean in the band on {counts[budget][0]} of {n} scenarios"
            f" (* outside), {counts[budget][1]} of {n * replicates} replicates in it; mean over scenarios"
            f" {caught / n:.0%} of dropouts flagged by the last session, {ahead / n:.0%} ≥ 1 ahead"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--budgets", type=float, nargs="+", default=[8.0, 5.0])
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--participants", type=int, default=1500)
    args = parser.parse_args()
    chosen = [g.strip() for g in args.generators.split(",") if g.strip()]
    if unknown := sorted(set(chosen) - set(GENERATORS)):
        parser.error(f"unknown generator(s): {', '.join(unknown)}")
    started = time.perf_counter()
    results = measure(chosen, args.participants, args.replicates, args.budgets)
    print_table(results, args.budgets, args.replicates)
    print(f"\n({args.replicates} replicates of {len(results)} scenarios in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
