"""The clinic's outcome correction of its false-flag budget, measured on the three yardsticks.

Run: .venv/bin/python bench/outcome_correction.py [--generators sim,robust,third] [--participants 1500]
        [--budgets 8 5]
Loads Django's settings (for the app's correct_budget), opens no database. Prints figures; never
passes or fails on them (DESIGN.md, bench/).

The app keeps a clinic's budget B by calibration on simulated steady courses (measures.engine.budget);
once MIN_COMPLETED_CASES cases have closed as completed it reads the share of their clients ever
flagged and corrects the aim with measures.outcomes.correct_budget. This bench does what a clinic's
year does, on each scenario of bench/early_warning.py's cohorts: calibrate at B (strictness s1),
read the completers' flagged share at s1 as the clinic reads it (a case's flag counts for each
member; completers who said something felt off left out, as the app leaves them out; with
--all-completers every completer counts), correct the aim with the app's own function, calibrate
again (s2). It prints, per scenario, the rate that decides the issue's band (rupture-free
completers flagged, from the generators' truth) before and after, the aim, and the dropouts caught
by the last session / ≥ 1 ahead.

Measured this way, the first correction (B·B / observed both ways, every completer counted) took
the band from 12 to 4 of 14 scenarios at 8% and from 11 to 5 at 5%: the completers' flagged share
counts right flags too (dips that were repaired), so it over-states false flags and aimed too
strict. The app's correction now only raises the aim (see correct_budget).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from early_warning import FLAG_SEVERITIES, EngineRuns, _engine_score, cohorts, in_band  # noqa: E402

from measures.engine import compute_case  # noqa: E402
from measures.engine.budget import calibrate_strictness  # noqa: E402
from measures.simulation import OUTCOME_COMPLETED  # noqa: E402

# correct_budget is the app's own (measures.outcomes, beside the models it reads): Django's settings
# are loaded for it, no database is opened.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")
import django  # noqa: E402

django.setup()
from measures.outcomes import correct_budget  # noqa: E402


def _reported_rupture(observations) -> bool:
    return any(o.rupture for o in observations)  # 1 (felt off) or 2 (talked through)


def completed_share(runs: EngineRuns, strictness: float, *, without_reported=False) -> tuple[int, int, int]:
    """(flagged, total, cases) over the completers, as measures.outcomes.completed_flag_counts
    reads a clinic: clients of cases with a completer, flagged if their case has a flag; with
    ``without_reported``, only completers who never said something felt off."""
    settings = runs.settings(strictness)
    flagged = total = cases = 0
    for case in runs.cohort.cases:
        completers = sum(
            1
            for pid, t in case.truth.items()
            if t.outcome == OUTCOME_COMPLETED and not (without_reported and _reported_rupture(case.participants[pid]))
        )
        if not completers:
            continue
        cases += 1
        total += completers
        findings = compute_case(case.participants, settings).findings
        if any(f.severity in FLAG_SEVERITIES for f in findings):
            flagged += completers
    return flagged, total, cases


def calibrated(runs: EngineRuns, budget: float) -> float | None:
    series = [obs for c in runs.cohort.cases for obs in c.participants.values()]
    sizes = [len(c.participants) for c in runs.cohort.cases]
    fit = calibrate_strictness(series, runs.cohort.settings, budget, case_sizes=sizes)
    return fit.strictness if fit else None


def measure(runs: EngineRuns, budget: float, without_reported: bool):
    first = calibrated(runs, budget)
    if first is None:
        return "too few clients for a budget"
    flagged, total, cases = completed_share(runs, first, without_reported=without_reported)
    aim = correct_budget(budget, flagged, total, cases)
    second = calibrated(runs, aim)
    before, after = runs.false_flags(first), runs.false_flags(second)
    scores = [_engine_score(runs.at(s)) for s in (first, second)]
    marks = ["" if in_band(rate, budget) else "*" for rate in (before, after)]
    return (
        f"s {first:4.2f} {before:5.1%}{marks[0]:1} {scores[0].caught:4.0%}/{scores[0].ahead:<4.0%} | "
        f"completers flagged {flagged / max(1, total):5.1%} ({cases} cases) → aim {aim:5.1%} | "
        f"s {second:4.2f} {after:5.1%}{marks[1]:1} {scores[1].caught:4.0%}/{scores[1].ahead:<4.0%}"
    ), before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="sim,robust,third")
    parser.add_argument("--participants", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--budgets", type=float, nargs="+", default=[8, 5], help="percent")
    parser.add_argument(
        "--all-completers", action="store_true",
        help="count every completer (before: only those who never reported that something felt off)",
    )
    args = parser.parse_args()
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    budgets = [b / 100 for b in args.budgets]
    counts = {b: [0, 0, 0] for b in budgets}  # scenarios, in band before, in band after
    print("rupture-free completers flagged and dropouts caught (last / ≥ 1 ahead); * outside the band")
    for cohort in cohorts(generators, args.participants, args.seed):
        runs = EngineRuns(cohort)
        for budget in budgets:
            result = measure(runs, budget, not args.all_completers)
            if isinstance(result, str):
                print(f"{cohort.generator:>6} {cohort.scenario:<30} B {budget:3.0%}  {result}", flush=True)
                continue
            line, before, after = result
            counts[budget][0] += 1
            counts[budget][1] += in_band(before, budget)
            counts[budget][2] += in_band(after, budget)
            print(f"{cohort.generator:>6} {cohort.scenario:<30} B {budget:3.0%}  {line}", flush=True)
    for budget, (n, before, after) in counts.items():
        print(f"B = {budget:.0%}: in band on {before} of {n} scenarios at calibration, {after} after the correction")


if __name__ == "__main__":
    main()
