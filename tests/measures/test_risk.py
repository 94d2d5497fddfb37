"""The caseload's risk: a calibrated probability of stopping within the next three sessions."""

import json

import numpy as np
import pytest

from measures.engine import EngineSettings, compute_case
from measures.engine.data import Finding, Observation
from measures.engine.risk import (
    FEATURES,
    MIN_CLOSED_CASES,
    SOURCE_CLINIC,
    TABLE_PATH,
    RiskTable,
    compute_auc,
    compute_brier,
    compute_clinic_table,
    compute_dropout_probability,
    compute_features,
    compute_probability,
    compute_training_points,
    fit_isotonic,
    fit_risk_table,
    shipped_table,
)
from measures.simulation import OUTCOME_DROPOUT, simulate_cohort

SETTINGS = EngineSettings()


def evaluate(cut):
    return compute_case(cut, SETTINGS).active


def cohort(n, seed):
    return [
        (case.participants, {pid: t.outcome == OUTCOME_DROPOUT for pid, t in case.truth.items()})
        for case in simulate_cohort(n, seed)
    ]


@pytest.fixture(scope="module")
def split():
    return compute_training_points(cohort(300, 101), evaluate), compute_training_points(cohort(300, 102), evaluate)


def test_pool_adjacent_violators_is_monotone_and_pools_violations():
    x = np.array([0, 1, 2, 3, 4, 5], float)
    y = np.array([0, 1, 0, 0, 1, 1], float)
    knots, values = fit_isotonic(x, y)
    assert np.all(np.diff(values) >= 0) and np.all(np.diff(knots) > 0)
    assert list(knots) == [0, 2, 4, 5]  # (0), (1, 2, 3) pooled: 1 then 0 violates, (4), (5)
    # shrunk towards the overall rate (1/2): never "none" or "all"
    # ((sum + 2 · 1/2) / (n + 2) for blocks of 0/1, 1/3, 1/1, 1/1)
    assert values == pytest.approx([1 / 3, 2 / 5, 2 / 3, 2 / 3])


def test_the_fitted_probability_is_monotone_in_the_score_and_within_0_and_1(split):
    (X, y), _ = split
    table = fit_risk_table(X, y)
    assert all(w >= 0 for w in table.weights.values())  # a finding never lowers the risk
    grid = np.linspace(min(table.knots) - 5, max(table.knots) + 5, 200)
    p = np.interp(grid, table.knots, table.probabilities)
    assert np.all(np.diff(p) >= 0) and np.all((p > 0) & (p < 1))


def test_it_beats_a_constant_on_held_out_data(split):
    (X, y), (Xh, yh) = split
    table = fit_risk_table(X, y)
    p = np.array([compute_probability(x, table) for x in Xh])
    assert compute_brier(p, yh) < compute_brier(np.full(len(yh), y.mean()), yh)
    assert compute_auc(p, yh) > 0.7


def test_the_shipped_table_is_the_fitted_one_and_reads_back():
    data = json.loads(TABLE_PATH.read_text())
    table = shipped_table()
    assert table == RiskTable.from_json(data) and RiskTable.from_json(table.to_json()) == table
    assert set(table.weights) == set(FEATURES)
    assert list(table.probabilities) == sorted(table.probabilities)


def obs(n, attended=True, score=9.0, **extra):
    import datetime

    s = score if attended else None
    return Observation(n, datetime.date(2025, 1, n), attended, s, s, s, **extra)


def finding(kind, severity, **evidence):
    return Finding("p", 3, kind, severity, "", evidence, "")


def test_features_count_severity_missed_sessions_and_an_unresolved_confrontation():
    series = [obs(1), obs(2), obs(3, attended=False), obs(4, attended=False)]
    x = compute_features(
        [finding("no_show", "warning"), finding("rupture", "alert", rupture=1, rupture_type="confrontation")],
        series,
    )
    as_dict = dict(zip(FEATURES, x, strict=True))
    assert as_dict["no_show"] == 2 and as_dict["rupture"] == 3
    assert as_dict["unresolved_confrontation"] == 1 and as_dict["missed_in_a_row"] == 2
    talked = compute_features([finding("rupture", "info", rupture=2, rupture_type="confrontation")], series)
    assert dict(zip(FEATURES, talked, strict=True))["unresolved_confrontation"] == 0


def test_an_unresolved_confrontation_raises_the_probability_more_than_a_withdrawal():
    series = {"p": [obs(1), obs(2), obs(3)]}
    withdrawal = [finding("rupture", "warning", rupture=1, rupture_type="withdrawal")]
    confrontation = [finding("rupture", "alert", rupture=1, rupture_type="confrontation")]
    assert compute_dropout_probability(series, confrontation) > compute_dropout_probability(series, withdrawal)
    assert compute_dropout_probability({"p": []}, []) is None


def test_the_case_probability_is_its_most_at_risk_member():
    table = shipped_table()
    parts = {"a": [obs(1), obs(2)], "b": [obs(1), obs(2, attended=False)]}
    p = compute_dropout_probability(parts, [], table)
    assert p == compute_dropout_probability({"b": parts["b"]}, [], table)
    assert p > compute_dropout_probability({"a": parts["a"]}, [], table)


def test_a_clinic_refit_needs_enough_closed_cases_and_keeps_the_pattern_weights():
    cases = cohort(120, 7)
    assert compute_clinic_table(cases[: MIN_CLOSED_CASES - 1], evaluate) is None
    table = compute_clinic_table(cases[:MIN_CLOSED_CASES], evaluate)
    assert table is not None and table.source == SOURCE_CLINIC and table.cases == MIN_CLOSED_CASES
    assert table.weights == shipped_table().weights
    assert list(table.probabilities) == sorted(table.probabilities)
    # a clinic where half the cases dropped out: a client without findings is at more risk there
    doubled = [(parts, dict.fromkeys(stopped, True)) if i % 2 else (parts, stopped)
               for i, (parts, stopped) in enumerate(cases[:60])]
    more = compute_clinic_table(doubled, evaluate)
    base = np.zeros(len(FEATURES))
    assert compute_probability(base, more) > compute_probability(base, table)


def test_only_completers_or_only_dropouts_give_no_refit():
    cases = [(parts, dict.fromkeys(stopped, False)) for parts, stopped in cohort(60, 9)]
    assert compute_clinic_table(cases, evaluate) is None
