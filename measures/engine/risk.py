"""A risk that means something: the chance that a client stops coming within three sessions.

Two stages, both fitted by ``bench/fit_risk.py`` on simulated cohorts and shipped as a small JSON
table (``risk_calibration.json``):

1. *the pattern*: a linear score of the participant's active findings (each risk kind's severity
   level, 0 none … 3 alert), whether it is an unresolved confrontation, and one simple feature,
   the sessions missed in a row up to now (capped at 3), with weights from an L2-regularised
   logistic regression (the confrontation's weight from the literature, see below);
2. *what it means*: isotonic regression (pool-adjacent-violators) of "stopped coming within the
   next three sessions" on that score, so the probability is monotone in the score and
   calibrated on the data it was fitted on.

A clinic with ``MIN_CLOSED_CASES`` closed cases of known outcome refits stage 2 on its own
cases (``fit_risk_table(..., base=shipped)``): the pattern's weights stay those learnt from the
large simulated cohorts, what a score *means* becomes the clinic's own experience.

Ground truth at an evaluation point (after session k of a participant's series): the client is
a dropout and their last attended session is before k + HORIZON, i.e. at least one of the next
HORIZON sessions is never attended and they do not come back (points after the last attended
session count: they have stopped). Completers are 0 everywhere. Pure NumPy; no Django.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .contract import (
    KIND_CEILING,
    KIND_ORDER,
    KIND_REPAIRED_RUPTURE,
    KIND_RUPTURE,
    RUPTURE_TYPE_CONFRONTATION,
    RUPTURE_UNREPAIRED,
    SEVERITY_RANK,
)
from .data import Finding, Observation

HORIZON = 3
MIN_CLOSED_CASES = 50
MISSED_CAP = 3
RISK_KINDS = tuple(k for k in KIND_ORDER if k not in (KIND_CEILING, KIND_REPAIRED_RUPTURE))
FEATURES = (*RISK_KINDS, "unresolved_confrontation", "missed_in_a_row")
# The simulators draw no kinds of rupture, so the weight of an unresolved confrontation cannot be
# learnt from them: it is the literature's, d ≈ .74 as a log odds ratio (d · π/√3, Chinn 2000).
CONFRONTATION_LOG_ODDS = 1.34
# Each isotonic block is shrunk towards the overall rate as if it held this many more points,
# so that a small block never claims "none of them" or "all of them".
SHRINK_POINTS = 2.0
TABLE_PATH = Path(__file__).resolve().parent / "risk_calibration.json"
SOURCE_SIMULATED = "simulated"
SOURCE_CLINIC = "clinic"


@dataclass(frozen=True, slots=True)
class RiskTable:
    """A fitted risk model: pattern weights, and the isotonic map from score to probability."""

    weights: dict[str, float]
    intercept: float
    knots: tuple[float, ...]  # scores, increasing
    probabilities: tuple[float, ...]  # non-decreasing, in (0, 1)
    source: str = SOURCE_SIMULATED
    cases: int = 0

    def to_json(self) -> dict:
        return {
            "weights": {k: round(v, 4) for k, v in self.weights.items()},
            "intercept": round(self.intercept, 4),
            "knots": [round(x, 4) for x in self.knots],
            "probabilities": [round(p, 4) for p in self.probabilities],
            "source": self.source,
            "cases": self.cases,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> RiskTable:
        return cls(
            weights={k: float(data["weights"].get(k, 0.0)) for k in FEATURES},
            intercept=float(data["intercept"]),
            knots=tuple(float(x) for x in data["knots"]),
            probabilities=tuple(float(p) for p in data["probabilities"]),
            source=str(data.get("source", SOURCE_SIMULATED)),
            cases=int(data.get("cases", 0)),
        )


@lru_cache(maxsize=1)
def shipped_table() -> RiskTable:
    """The table fitted on simulated cohorts (``bench/fit_risk.py``), shipped with the code."""
    return RiskTable.from_json(json.loads(TABLE_PATH.read_text(encoding="utf-8")))


def compute_features(active: Sequence[Finding], observations: Sequence[Observation]) -> np.ndarray:
    """One participant's feature vector (FEATURES order) from their active findings and series."""
    x = np.zeros(len(FEATURES))
    index = {kind: i for i, kind in enumerate(FEATURES)}
    for finding in active:
        if finding.kind in index:
            i = index[finding.kind]
            x[i] = max(x[i], SEVERITY_RANK[finding.severity] + 1)
        evidence = finding.evidence
        if (
            finding.kind == KIND_RUPTURE
            and evidence.get("rupture") == RUPTURE_UNREPAIRED
            and evidence.get("rupture_type") == RUPTURE_TYPE_CONFRONTATION
        ):
            x[index["unresolved_confrontation"]] = 1.0
    missed = 0
    for obs in reversed(observations):
        if obs.attended:
            break
        missed += 1
    x[index["missed_in_a_row"]] = min(missed, MISSED_CAP)
    return x


def compute_probability(x: np.ndarray, table: RiskTable) -> float:
    """P(stops coming within HORIZON sessions) for one feature vector."""
    weights = np.array([table.weights.get(k, 0.0) for k in FEATURES])
    score = table.intercept + float(np.dot(weights, x))
    return float(np.interp(score, table.knots, table.probabilities))


def compute_dropout_probability(
    participants: Mapping[str, Sequence[Observation]],
    active: Sequence[Finding],
    table: RiskTable | None = None,
) -> float | None:
    """The case's probability: the highest of its participants' (the case ends if one stops).

    None when no participant has a session yet.
    """
    table = table or shipped_table()
    best = None
    for pid, observations in participants.items():
        if not observations:
            continue
        mine = [f for f in active if f.participant_id == pid]
        p = compute_probability(compute_features(mine, observations), table)
        best = p if best is None else max(best, p)
    return best


# Fitting ------------------------------------------------------------------------------------


def fit_isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: the non-decreasing step fit of y on x (least squares).

    Returns (knots, values): one knot per pooled block at its mean x, with the block's mean y
    shrunk towards the overall mean by SHRINK_POINTS; interpolate between knots.
    """
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    # blocks of tied x first: a score cannot be split
    uniq, start = np.unique(xs, return_index=True)
    counts = np.diff(np.append(start, len(xs)))
    sums = np.add.reduceat(ys, start)
    sx, sy, sn = [], [], []
    for ux, s, n in zip(uniq, sums, counts, strict=True):
        sx.append(ux * n)
        sy.append(s)
        sn.append(float(n))
        while len(sy) > 1 and sy[-2] / sn[-2] > sy[-1] / sn[-1]:
            for block in (sx, sy, sn):
                tail = block.pop()
                block[-1] += tail
    n = np.array(sn)
    overall = ys.mean()
    values = (np.array(sy) + SHRINK_POINTS * overall) / (n + SHRINK_POINTS)
    return np.array(sx) / n, np.maximum.accumulate(values)


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25) -> np.ndarray:
    """L2-regularised logistic regression by Newton steps; returns [intercept, *weights]."""
    A = np.column_stack([np.ones(len(X)), X])
    beta = np.zeros(A.shape[1])
    penalty = np.full(A.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ beta, -30, 30)))
        gradient = A.T @ (y - p) - penalty * beta
        hessian = (A * (p * (1 - p))[:, None]).T @ A + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def fit_risk_table(
    X: np.ndarray, y: np.ndarray, *, base: RiskTable | None = None, source: str = SOURCE_SIMULATED,
    cases: int = 0,
) -> RiskTable:
    """Fit a RiskTable on training points (features X, 0/1 outcomes y).

    With ``base``, its pattern weights are kept and only the isotonic map is refitted (a clinic's
    own closed cases are too few to learn the weights, enough to say what a score means).
    """
    X, y = np.asarray(X, float), np.asarray(y, float)
    if base is None:
        # A finding never lowers the risk: a feature whose weight comes out negative (in the
        # simulator, answered ruptures mostly belong to completers who repair them) is dropped
        # and the rest refitted, until all weights are >= 0.
        shown = X.std(axis=0) > 0  # a feature the data never show gets no weight from them
        keep = shown.copy()
        while True:
            beta = fit_logistic(X[:, keep], y)
            if (beta[1:] >= 0).all():
                break
            keep[np.flatnonzero(keep)[beta[1:] < 0]] = False
        full = np.zeros(len(FEATURES))
        full[keep] = beta[1:]
        intercept, weights = float(beta[0]), dict(zip(FEATURES, map(float, full), strict=True))
        if not shown[FEATURES.index("unresolved_confrontation")]:
            weights["unresolved_confrontation"] = CONFRONTATION_LOG_ODDS
    else:
        intercept, weights = base.intercept, dict(base.weights)
    w = np.array([weights[k] for k in FEATURES])
    knots, values = fit_isotonic(intercept + X @ w, y)
    return RiskTable(weights, intercept, tuple(knots), tuple(values), source=source, cases=cases)


def last_attended(observations: Sequence[Observation]) -> int | None:
    numbers = [obs.session_number for obs in observations if obs.attended]
    return max(numbers) if numbers else None


def compute_training_points(
    cases: Iterable[tuple[Mapping[str, Sequence[Observation]], Mapping[str, bool]]],
    evaluate,
) -> tuple[np.ndarray, np.ndarray]:
    """Training points from whole courses of known outcome.

    ``cases``: (participant id → observations sorted by session, participant id → stopped
    coming (a dropout) or not). ``evaluate(participants)`` returns the active findings of a case
    truncated at a session (the engine's ``compute_case(...).active``). Every session of every
    participant is an evaluation point, evaluated on the data up to it only (causal).
    """
    rows, labels = [], []
    for participants, stopped in cases:
        numbers = sorted({obs.session_number for series in participants.values() for obs in series})
        lasts = {pid: last_attended(obs) for pid, obs in participants.items()}
        ends = {pid: obs[-1].session_number for pid, obs in participants.items() if obs}
        for k in numbers:
            cut = {pid: [o for o in obs if o.session_number <= k] for pid, obs in participants.items()}
            cut = {pid: obs for pid, obs in cut.items() if obs and ends[pid] >= k}
            if not cut:
                continue
            active = evaluate(cut)
            for pid, observations in cut.items():
                mine = [f for f in active if f.participant_id == pid]
                rows.append(compute_features(mine, observations))
                last = lasts[pid]
                labels.append(bool(stopped[pid]) and (last is None or last < k + HORIZON))
    return np.array(rows).reshape(-1, len(FEATURES)), np.array(labels, float)


def compute_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), by ranks."""
    p, y = np.asarray(p, float), np.asarray(y, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if not n1 or not n0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    _, start, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    for s, c in zip(start, counts, strict=True):
        ranks[order[s : s + c]] = s + (c + 1) / 2.0
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def compute_brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def compute_clinic_table(
    cases: Sequence[tuple[Mapping[str, Sequence[Observation]], Mapping[str, bool]]],
    evaluate,
    base: RiskTable | None = None,
) -> RiskTable | None:
    """The risk calibration refitted on a clinic's own closed cases of known outcome.

    ``cases`` as for compute_training_points (stopped = the case ended as dropped out). None
    below MIN_CLOSED_CASES cases, or when the cases hold no dropout or no completer: then the
    shipped table stays in use. The pattern weights stay ``base``'s (the shipped table's).
    """
    if len(cases) < MIN_CLOSED_CASES:
        return None
    X, y = compute_training_points(cases, evaluate)
    if not len(y) or y.min() == y.max():
        return None
    return fit_risk_table(X, y, base=base or shipped_table(), source=SOURCE_CLINIC, cases=len(cases))
