"""What a detector fit to each scenario's own truth attains: a reference for issue 10's targets.

Run: .venv/bin/python bench/attainable.py [--generators sim,robust,third] [--participants 1500]
No Django needed. Prints figures; never passes or fails on them (DESIGN.md, bench/).

Issue 10 asks, at the budget, for 80% of dropouts flagged by their last session and 50% at least
one session ahead, on average over scenarios, "stating plainly where a scenario's truth makes that
impossible". The engine never sees who dropped out. This bench gives a rule every advantage the
engine lacks, to see how far the scenarios' visible data can carry any rule:

- it is *fit to the scenario's own truth* (who dropped out, and from which session the decline
  ran), which no clinic has and which the engine must never be tuned on;
- it reads everything the engine reads, session by session and causally: each score's fall from
  the client's first checks and from their best so far, the latest two checks, the recent slope,
  how low the total is, said ruptures, skipped checks and no-shows in the last three sessions,
  and the gap to the other members of a couple or family;
- it is a logistic model over those readings (with their squares), fit on half the cases and
  scored on the other half, then the halves swapped (two-fold cross-fitting), so every client is
  scored by a model that never saw them;
- as for the engine (bench/early_warning.py's definitions), a case is flagged at a session when
  any member's score passes the bar, the bar is set so that the share of rupture-free completers
  ever flagged stays within each target rate, and a dropout is caught when the case is flagged
  between the decline's onset and the last attended session (ahead: at least one session before).

This is not a proof of what is impossible (a richer model might do better), but a rule that
knows the answers and still falls short of 80/50 says the shortfall lies in the data, not in
the engine's calibration. Beside it the bench prints the engine tuned to 5% and 8% on the same cohort (as
``bench/early_warning.py --curves`` tunes it), so the gap between the two is read off one table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from early_warning import GENERATORS, RATES, Cohort, EngineRuns, Row, cohorts, score  # noqa: E402
from early_warning import _engine_score as engine_score  # noqa: E402

from measures.engine import Observation  # noqa: E402
from measures.simulation import OUTCOME_COMPLETED, OUTCOME_DROPOUT  # noqa: E402

SCORES = ("total", "goals", "tasks", "bond")
RECENT = 3  # sessions counted back for ruptures, skipped checks and no-shows
RIDGE = 1.0  # the logistic model's L2 penalty, on standardised readings
FALLS = 2 * len(SCORES) + 6  # the readings _falls gives
SQUARED = slice(9, 9 + FALLS - 1)  # which readings the logistic model also takes squared (not the flag)


def _readings(observations: list[Observation], others: list[list[Observation]], top: float) -> np.ndarray:
    """One row of readings per scheduled session, from that session and those before it only."""
    rows = []
    answered: list[Observation] = []
    for i, o in enumerate(observations):
        if o.total is not None:
            answered.append(o)
        recent = observations[max(0, i - RECENT + 1) : i + 1]
        row = [
            float(o.total is not None),
            float(not o.attended),
            float(o.attended and o.total is None),
            float((o.rupture or 0) > 0),
            sum(1 for r in recent if not r.attended) / RECENT,
            sum(1 for r in recent if r.attended and r.total is None) / RECENT,
            sum(1 for r in recent if (r.rupture or 0) > 0) / RECENT,
            float(np.log1p(o.session_number)),
            float(np.log1p(len(answered))),
        ]
        row += _falls(answered, top)
        gaps = [
            abs(answered[-1].total - latest.total)
            for other in others
            if answered
            for latest in [_latest(other, o.session_number)]
            if latest is not None
        ]
        row.append(max(gaps, default=0.0))
        rows.append(row)
    values = np.array(rows, dtype=float)
    return np.hstack([values, values[:, SQUARED] ** 2])


def _falls(answered: list[Observation], top: float) -> list[float]:
    """How far the latest checks lie below the client's earlier ones (zeros before two checks)."""
    if len(answered) < 2:
        return [0.0] * FALLS
    first = answered[: min(3, len(answered) - 1)]
    before = answered[:-1]
    out = []
    for name in SCORES:
        out.append(statistics.mean(getattr(a, name) for a in first) - getattr(answered[-1], name))
        out.append(max(getattr(a, name) for a in before) - getattr(answered[-1], name))
    totals = [a.total for a in answered]
    spread = statistics.pstdev(totals[:-1]) if len(totals) > 2 else 0.0
    out += [
        statistics.mean(totals[:-1]) - totals[-1],
        statistics.mean(a.total for a in first) - statistics.mean(totals[-2:]),
        float(np.polyfit(range(len(totals[-4:])), totals[-4:], 1)[0]),
        top - totals[-1],
        spread,
        1.0,
    ]
    return out


def _latest(observations: list[Observation], session: int) -> Observation | None:
    answered = [o for o in observations if o.total is not None and o.session_number <= session]
    return answered[-1] if answered else None


@dataclass(slots=True)
class _Member:
    case: int
    outcome: str
    clean: bool  # a rupture-free completer
    onset: int | None
    last: int | None
    sessions: np.ndarray  # session numbers
    x: np.ndarray  # readings, one row per session
    score: np.ndarray | None = None


def _members(cohort: Cohort) -> list[_Member]:
    top = cohort.settings.scale_max
    out = []
    for index, case in enumerate(cohort.cases):
        for pid, observations in case.participants.items():
            truth = case.truth[pid]
            others = [obs for other, obs in case.participants.items() if other != pid]
            out.append(
                _Member(
                    index,
                    truth.outcome,
                    truth.outcome == OUTCOME_COMPLETED and truth.is_rupture_free,
                    truth.decline_start,
                    truth.last_attended,
                    np.array([o.session_number for o in observations]),
                    _readings(observations, others, top),
                )
            )
    return out


def _labelled(members: list[_Member]) -> tuple[np.ndarray, np.ndarray]:
    """Sessions the model learns from: a dropout's from the onset to the last attended session
    (1), and every session of a rupture-free completer (0)."""
    xs, ys = [], []
    for m in members:
        if m.clean:
            xs.append(m.x)
            ys.append(np.zeros(len(m.x)))
        elif m.outcome == OUTCOME_DROPOUT and m.last:
            window = (m.sessions >= (m.onset or 1)) & (m.sessions <= m.last)
            xs.append(m.x[window])
            ys.append(np.ones(int(window.sum())))
    return np.vstack(xs), np.concatenate(ys)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge logistic regression by Newton's method, on standardised readings."""
    mean, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / sd])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], RIDGE)
    penalty[0] = 0.0
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w, mean, sd


def _cross_fit(members: list[_Member], cases: int) -> None:
    fold = np.random.default_rng(0).permutation(cases) % 2
    for k in (0, 1):
        w, mean, sd = _fit(*_labelled([m for m in members if fold[m.case] != k]))
        for m in members:
            if fold[m.case] == k:
                m.score = w[0] + ((m.x - mean) / sd) @ w[1:]


def _case_series(members: list[_Member]) -> dict[int, dict[int, float]]:
    """Per case, the highest member score at each session number."""
    out: dict[int, dict[int, float]] = {}
    for m in members:
        series = out.setdefault(m.case, {})
        for s, v in zip(m.sessions.tolist(), m.score.tolist(), strict=True):
            series[s] = max(series.get(s, -np.inf), v)
    return out


def attainable(cohort: Cohort, rows: list[Row]) -> list[tuple[float, float, float]]:
    """(caught by last, ahead, achieved false-flag rate) at each of RATES, scored by
    early_warning.score on the engine's ``rows`` of the same cohort (their truth: any run's)."""
    members = _members(cohort)
    _cross_fit(members, len(cohort.cases))
    series = _case_series(members)
    # collect() walks the cases and their members in the order _members does
    assert [r.case_id for r in rows] == [cohort.cases[m.case].case_id for m in members]
    clean = np.sort([max(series[m.case].values()) for m in members if m.clean])[::-1]
    points = []
    for target in RATES:
        allowed = int(np.floor(target * len(clean) + 1e-9))
        bar = clean[allowed] if allowed < len(clean) else -np.inf
        flagged = {case: [s for s, v in sorted(by.items()) if v > bar] for case, by in series.items()}
        of_row = {id(r): flagged[m.case] for r, m in zip(rows, members, strict=True)}
        sc = score("fit", rows, lambda r, of_row=of_row: of_row[id(r)], lambda r: [])
        points.append((sc.caught, sc.ahead, sc.false_flags))
    return points


def _cell(caught: float, ahead: float, rate: float | None = None) -> str:
    return f"{caught:.0%}/{ahead:.0%}" + (f" ({rate:.1%})" if rate is not None else "")


ENGINE_RATES = (0.05, 0.08)


def _engine(runs: EngineRuns) -> list[tuple[float, float, float]]:
    """The engine at its most sensitive strictness within each of ENGINE_RATES (as --curves)."""
    points = []
    for target in ENGINE_RATES:
        sc = engine_score(runs.at(runs.tuned(target)))
        points.append((sc.caught, sc.ahead, sc.false_flags))
    return points


def _mean(rows: list[list[tuple[float, float, float]]], i: int) -> str:
    return _cell(*(statistics.mean(p[i][j] for p in rows) for j in (0, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default=",".join(GENERATORS), help="any of sim,robust,third")
    parser.add_argument("--participants", type=int, default=1500, help="per scenario")
    parser.add_argument("--seed", type=int, default=20240611, help="the simulator's seed")
    args = parser.parse_args()
    started = time.perf_counter()
    chosen = [g.strip() for g in args.generators.split(",") if g.strip()]
    print("Dropouts flagged by last / ≥ 1 ahead (achieved false-flag rate): a rule fit to each scenario's")
    print("own truth (cross-fitted), and the engine tuned to the same rate without it")
    head = "".join(f"{f'fit, ≤ {t:.0%}':>17}" for t in RATES)
    head += "".join(f"{f'engine, ≤ {t:.0%}':>17}" for t in ENGINE_RATES)
    print(f"   {'generator / scenario':<34}{head}")
    fitted, engine, names = [], [], []
    for cohort in cohorts(chosen, args.participants, args.seed):
        runs = EngineRuns(cohort)
        engine.append(_engine(runs))
        fitted.append(attainable(cohort, next(iter(runs.rows.values()))))
        names.append(cohort.scenario)
        cells = "".join(f"{_cell(*p):>17}" for p in fitted[-1] + engine[-1])
        print(f"   {cohort.generator + ' / ' + cohort.scenario:<34}{cells}")
    means = (("mean over scenarios", lambda n: True), ("... without small-file", lambda n: n != "small-file"))
    for title, keep in means:
        f = [p for p, n in zip(fitted, names, strict=True) if keep(n)]
        e = [p for p, n in zip(engine, names, strict=True) if keep(n)]
        cells = [_mean(f, i) for i in range(len(RATES))] + [_mean(e, i) for i in range(len(ENGINE_RATES))]
        print(f"   {title:<34}" + "".join(f"{c:>17}" for c in cells))
        index = RATES.index(0.08)
        better = [max(a[index], b[1], key=lambda p: p[0]) for a, b in zip(f, e, strict=True)]
        print(f"   {'':<34}the better of the two per scenario at 8%: {_mean([[p] for p in better], 0)}")
    print(f"\n(in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
