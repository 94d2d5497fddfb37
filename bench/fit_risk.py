"""Fit the shipped risk calibration (measures/engine/risk_calibration.json) and report on it.

Run: .venv/bin/python bench/fit_risk.py [--participants 3000] [--seed 11] [--write]
No Django needed. Fits on a cohort from measures/simulation.py (seed), then prints AUC, Brier
score and a calibration table by decile of predicted risk on a held-out simulated cohort (seed
+ 1) and, out of sample, on two scenarios of bench/robustness.py's independent generator.
``--write`` stores the fitted table; without it nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measures.engine import EngineSettings, compute_case  # noqa: E402
from measures.engine.risk import (  # noqa: E402
    FEATURES,
    TABLE_PATH,
    RiskTable,
    compute_auc,
    compute_brier,
    compute_probability,
    compute_training_points,
    fit_risk_table,
)
from measures.simulation import OUTCOME_DROPOUT, simulate_cohort  # noqa: E402

# compute_case needs a table to compute the risk it is not asked for here; a flat one will do.
FLAT = RiskTable(dict.fromkeys(FEATURES, 0.0), 0.0, (0.0, 1.0), (0.5, 0.5))


def simulated_cases(participants: int, seed: int):
    for case in simulate_cohort(participants, seed):
        stopped = {pid: truth.outcome == OUTCOME_DROPOUT for pid, truth in case.truth.items()}
        yield case.participants, stopped


def robustness_cases(name: str, participants: int, seed: int):
    import robustness

    from measures.engine.replay import read_replay

    scenario = next(s for s in robustness.SCENARIOS if s.name == name)
    records = robustness.generate(scenario, participants, seed)
    stopped = {r.client_id: r.truth.outcome != robustness.COMPLETED for r in records}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        robustness.write_csv(records, path, scenario.rupture_column)
        with path.open(encoding="utf-8") as stream:
            cases = read_replay(stream, EngineSettings())
    for participants_of_case in cases.values():
        yield participants_of_case, {pid: stopped[pid] for pid in participants_of_case}


def points(cases, settings: EngineSettings):
    return compute_training_points(cases, lambda cut: compute_case(cut, settings, risk_table=FLAT).active)


def report(title: str, table: RiskTable, X: np.ndarray, y: np.ndarray) -> None:
    p = np.array([compute_probability(x, table) for x in X])
    base = np.full(len(y), y.mean())
    print(f"\n{title}: {len(y)} evaluation points, {y.mean():.1%} stop within three sessions")
    print(f"  AUC {compute_auc(p, y):.3f}   Brier {compute_brier(p, y):.4f}"
          f"   (a constant at the base rate: Brier {compute_brier(base, y):.4f})")
    print("  decile   points  mean predicted  observed")
    order = np.argsort(p, kind="stable")
    for d, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk):
            print(f"  {d:>6}  {len(chunk):>7}  {p[chunk].mean():>14.3f}  {y[chunk].mean():>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    settings = EngineSettings()
    started = time.perf_counter()
    X, y = points(simulated_cases(args.participants, args.seed), settings)
    table = fit_risk_table(X, y, cases=args.participants)
    print(f"fitted on {len(y)} points from {args.participants} simulated participants"
          f" in {time.perf_counter() - started:.1f} s")
    print("  pattern weights: " + ", ".join(f"{k} {v:+.2f}" for k, v in table.weights.items()))
    print(f"  isotonic map: {len(table.knots)} knots, probability {table.probabilities[0]:.3f}"
          f" to {table.probabilities[-1]:.3f}")
    report("training cohort (in sample)", table, X, y)
    Xh, yh = points(simulated_cases(args.participants, args.seed + 1), settings)
    report("held-out simulated cohort", table, Xh, yh)
    for name in ("two-items-medium", "short-irregular-missing"):
        Xr, yr = points(robustness_cases(name, args.participants // 2, args.seed), settings)
        report(f"independent generator, {name} (out of sample)", table, Xr, yr)
    if args.write:
        TABLE_PATH.write_text(json.dumps(table.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {TABLE_PATH}")


if __name__ == "__main__":
    main()
