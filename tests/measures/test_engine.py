"""The early-warning engine on hand-made series: one row per pattern, plus its statistics.

Pure: no database, no Django. A series is written compactly: a number gives the three subscales
that value, a tuple gives (goals, tasks, bond[, rupture]), "." is a session attended without a
check and "x" a no-show or late cancellation.
"""

import dataclasses
import datetime
import math
import statistics

import numpy as np
import pytest

from measures.engine import (
    KIND_CEILING,
    KIND_LOW_SCORE,
    KIND_MISSED_CHECKS,
    KIND_NO_SHOW,
    KIND_RELIABLE_DROP,
    KIND_REPAIRED_RUPTURE,
    KIND_RUPTURE,
    KIND_SPLIT_ALLIANCE,
    KIND_SUSTAINED_DECLINE,
    KINDS,
    SEVERITIES,
    EngineSettings,
    Observation,
    compute_case,
    compute_reliability,
    compute_reliable_change,
)
from measures.engine.calibration import apply_calibration, compute_calibration
from measures.engine.statistics import compute_successive_sd, compute_t_quantile

SETTINGS = EngineSettings()
FLAGS = ("warning", "alert")


def series(*spec):
    """Observations from the compact notation above, weekly from 2025-01-06."""
    start = datetime.date(2025, 1, 6)
    out = []
    for number, item in enumerate(spec, start=1):
        date = start + datetime.timedelta(weeks=number - 1)
        if item == "x":
            out.append(Observation(number, date, False, None, None, None))
        elif item == ".":
            out.append(Observation(number, date, True, None, None, None))
        elif isinstance(item, tuple):
            goals, tasks, bond, *rest = item
            out.append(Observation(number, date, True, goals, tasks, bond, *rest))
        else:
            out.append(Observation(number, date, True, item, item, item))
    return out


def run(*spec, settings=SETTINGS):
    return compute_case({"p": series(*spec)}, settings)


def kinds(result, severities=SEVERITIES):
    return {f.kind for f in result.findings if f.severity in severities}


def first(result, kind):
    return next(f for f in result.findings if f.kind == kind)


STABLE_HIGH = (8.5, 9, 8.5, 9, (9, 8.5, 9), 8.5, 9, (8.5, 9, 9), 9, 8.5, 9, 8.5)
STEADY_MODEST = (6, 6.5, (6, 6.5, 6), 6, 6.5, 6, (6.5, 6, 6), 6.5, 6, 6, 6.5, 6)
CEILING_THEN_DIP = (10, 10, 10, 10, 10, 10, 8)
V_SHAPED = (9, 9, 8.5, 9, 9, 9, (6, 6, 6, 2), 9, 9)
SUDDEN_DROP = (9, 9, 8.5, 9, 9, 9, 6, 6)
GRADUAL_DECLINE = (9, 9, 8.5, 9, 9, 9, 8.5, 8, 7.5, 7, 6.5, 6)
SILENT = (10, 10, 10, 10, 10, ".", ".", "x", "x")
BOND_DROP = (9, 9, 9, 9, 9, (9, 9, 6.5))
UNREPAIRED_RUPTURE = (9, 9, 9, (9, 9, 9, 1))
TALKED_THROUGH = (9, 9, 9, (9, 9, 9, 2))


@pytest.mark.parametrize(
    ("name", "spec", "expected_flags", "forbidden_flags"),
    [
        ("stable high", STABLE_HIGH, set(), {code for code, _ in KINDS}),
        ("steady modest", STEADY_MODEST, set(), {KIND_LOW_SCORE, KIND_RELIABLE_DROP}),
        ("ceiling then dip", CEILING_THEN_DIP, {KIND_RELIABLE_DROP}, set()),
        ("V-shaped rupture", V_SHAPED, {KIND_RELIABLE_DROP}, {KIND_SUSTAINED_DECLINE}),
        ("sudden drop", SUDDEN_DROP, {KIND_RELIABLE_DROP}, set()),
        ("gradual decline", GRADUAL_DECLINE, {KIND_SUSTAINED_DECLINE}, set()),
        ("silent disengagement", SILENT, {KIND_MISSED_CHECKS, KIND_NO_SHOW}, set()),
        ("bond drop", BOND_DROP, {KIND_RELIABLE_DROP}, {KIND_LOW_SCORE}),
        ("unrepaired rupture", UNREPAIRED_RUPTURE, {KIND_RUPTURE}, {KIND_RELIABLE_DROP}),
        ("talked-through rupture", TALKED_THROUGH, set(), {KIND_RUPTURE}),
    ],
)
def test_each_pattern_raises_the_expected_warnings(name, spec, expected_flags, forbidden_flags):
    raised = kinds(run(*spec), FLAGS)
    assert expected_flags <= raised, name
    assert not (forbidden_flags & raised), name


@pytest.mark.parametrize(
    ("spec", "kind", "session", "severity"),
    [
        (CEILING_THEN_DIP, KIND_CEILING, 3, "info"),
        (CEILING_THEN_DIP, KIND_RELIABLE_DROP, 7, "warning"),
        (V_SHAPED, KIND_RELIABLE_DROP, 7, "warning"),
        (V_SHAPED, KIND_RUPTURE, 7, "info"),  # talked through
        (V_SHAPED, KIND_REPAIRED_RUPTURE, 8, "info"),
        (SUDDEN_DROP, KIND_RELIABLE_DROP, 7, "warning"),
        (UNREPAIRED_RUPTURE, KIND_RUPTURE, 4, "warning"),
        (TALKED_THROUGH, KIND_RUPTURE, 4, "info"),
        (SILENT, KIND_CEILING, 3, "info"),
        (SILENT, KIND_MISSED_CHECKS, 7, "warning"),
    ],
)
def test_findings_are_raised_at_the_right_session_and_severity(spec, kind, session, severity):
    finding = first(run(*spec), kind)
    assert (finding.session_number, finding.severity) == (session, severity)


def test_a_steady_modest_client_is_not_flagged_low_again_and_again():
    result = run(*STEADY_MODEST)
    low = [f for f in result.findings if f.kind == KIND_LOW_SCORE]
    assert len(low) == 1
    assert low[0].severity == "info"
    # ... but the condition is still shown as holding
    assert [f.kind for f in result.active] == [KIND_LOW_SCORE]


def test_a_fall_below_the_cutoff_from_a_high_usual_level_is_a_warning():
    result = run(9, 9, 8.5, 9, 9, 6, 6, 6)
    low = [f for f in result.findings if f.kind == KIND_LOW_SCORE]
    assert low and low[-1].severity == "warning"
    assert "from a usual 8.8" in low[0].message


def test_a_dip_from_full_marks_counts_where_the_same_dip_elsewhere_is_noise():
    from_ceiling = run(10, 10, 10, 10, 10, 9)
    from_high = run(9, 9.5, 9, 9.5, 9, 8.5)
    drop = first(from_ceiling, KIND_RELIABLE_DROP)
    assert drop.evidence["from_ceiling"] is True
    assert drop.session_number == 6
    assert KIND_RELIABLE_DROP not in kinds(from_high)


def test_a_v_shaped_dip_is_recorded_as_repaired_and_no_longer_active():
    result = run(*V_SHAPED)
    repaired = first(result, KIND_REPAIRED_RUPTURE)
    assert repaired.evidence["dip_session"] == 7
    assert repaired.evidence["lowest"] == 6.0
    active = {f.kind for f in result.active}
    assert KIND_REPAIRED_RUPTURE in active
    assert KIND_RELIABLE_DROP not in active
    assert KIND_SUSTAINED_DECLINE not in active


def test_an_unrepaired_drop_stays_active_and_escalates_once():
    result = run(*SUDDEN_DROP)
    drops = [f for f in result.findings if f.kind == KIND_RELIABLE_DROP]
    # confirmed by size at 7, by persistence at 8; further low checks add no new finding
    assert [(f.session_number, f.severity) for f in drops] == [(7, "warning"), (8, "alert")]
    longer = run(*SUDDEN_DROP, 6, 6)
    assert [f for f in longer.findings if f.kind == KIND_RELIABLE_DROP] == drops
    assert [f for f in longer.active if f.kind == KIND_RELIABLE_DROP] == drops[-1:]


def test_messages_carry_the_numbers():
    drop = first(run(*BOND_DROP), KIND_RELIABLE_DROP)
    assert drop.subscale == "bond"
    assert drop.message == (
        "Bond fell from a usual 9.0 to 6.5, more than the 1.6 that day-to-day variation explains."
    )
    assert drop.evidence["baseline"] == 9.0
    assert drop.evidence["current"] == 6.5
    assert math.isclose(drop.evidence["threshold"], 1.61, abs_tol=0.01)


def test_no_show_after_a_drop_escalates():
    plain = first(run(9, 9, 9, 9, "x"), KIND_NO_SHOW)
    after_drop = first(run(9, 9, 9, 9, 6, "x"), KIND_NO_SHOW)
    assert plain.severity == "info"
    assert after_drop.severity == "warning"
    assert after_drop.evidence["follows_signal"] is True


def test_a_single_skipped_check_is_not_a_finding_but_a_run_is():
    assert KIND_MISSED_CHECKS not in kinds(run(9, 9, 9, 9, ".", 9, 9))
    result = run(9, 9, 9, 9, 9, ".", ".", ".")
    missed = [f for f in result.findings if f.kind == KIND_MISSED_CHECKS]
    assert [(f.session_number, f.severity) for f in missed] == [(7, "info"), (8, "warning")]


def test_engagement_is_weighed_against_the_clients_own_habits():
    usually_answers = run(9, 9, 9, 9, 9, 9, 9, 9, 9, 9, ".", ".", ".")
    often_skips = run(9, ".", 9, ".", 9, 9, ".", 9, ".", 9, ".", ".", ".")
    assert KIND_MISSED_CHECKS in kinds(usually_answers, FLAGS)
    assert KIND_MISSED_CHECKS in kinds(often_skips)
    assert KIND_MISSED_CHECKS not in kinds(often_skips, FLAGS)


def test_split_alliance_names_the_lower_member_and_grows_with_persistence():
    high = series(9, 9, 9, 9, 9, 9, 9, 9)
    falling = series(9, 8.5, 9, 9, 9, 7, 7, 7)
    result = compute_case({"high": high, "low": falling}, SETTINGS)
    splits = [f for f in result.findings if f.kind == KIND_SPLIT_ALLIANCE]
    assert [(f.participant_id, f.session_number, f.severity) for f in splits] == [
        ("low", 6, "info"),
        ("low", 7, "warning"),
        ("low", 8, "alert"),
    ]
    assert "high" in splits[-1].message and "7.0" in splits[-1].message
    assert "held for 3 checks in a row" in splits[-1].message
    assert not [f for f in result.findings if f.participant_id == "high"]
    named = compute_case(
        {"high": high, "low": falling}, SETTINGS, labels={"high": "Robin", "low": "Jordan"}
    )
    split = [f for f in named.findings if f.kind == KIND_SPLIT_ALLIANCE][-1]
    assert "below Robin (" in split.message and "high" not in split.message


STEADY_PAIR = (0.5,) * 5  # five joint checks, the lower partner 0.5 below the other
NOISY_PAIR = (0.5, 0.25, 0.75, 0.5, 0.5)
# (usual gaps, then the gaps that follow) -> (check after the history, severity) raised. With the
# steady pair's history the gap that day-to-day variation explains is the RC floor, 1.14.
SPLIT_SEVERITY = [
    ("within noise", STEADY_PAIR, [1], []),
    ("small one-off", STEADY_PAIR, [2], [(1, "info")]),
    ("small, 2 in a row", STEADY_PAIR, [2, 2], [(1, "info"), (2, "warning")]),
    ("small, 3 in a row", STEADY_PAIR, [2, 2, 2], [(1, "info"), (2, "warning"), (3, "alert")]),
    ("small, not in a row", STEADY_PAIR, [2, 0.5, 2], [(1, "info"), (3, "info")]),
    ("large one-off (2x)", STEADY_PAIR, [3], [(1, "warning")]),
    ("4 points, steady pair (3x)", STEADY_PAIR, [4], [(1, "alert")]),
    ("4 points, noisier pair", NOISY_PAIR, [4], [(1, "warning")]),
    ("very large one-off", NOISY_PAIR, [5], [(1, "alert")]),
    ("large, 2 in a row", NOISY_PAIR, [3, 3], [(1, "warning"), (2, "alert")]),
    ("large, then smaller", NOISY_PAIR, [3, 2], [(1, "warning")]),
]


def split_severities(usual, gaps, settings=SETTINGS):
    """The split findings of a couple whose lower partner is ``gap`` below a steady 9."""
    every = [*usual, *gaps]
    result = compute_case(
        {"a": series(*[9] * len(every)), "b": series(*[9 - gap for gap in every])}, settings
    )
    return [
        (f.session_number - len(usual), f.severity)
        for f in result.findings
        if f.kind == KIND_SPLIT_ALLIANCE
    ]


@pytest.mark.parametrize(
    ("usual", "gaps", "expected"), [r[1:] for r in SPLIT_SEVERITY], ids=[r[0] for r in SPLIT_SEVERITY]
)
def test_a_split_grows_with_its_size_beyond_the_usual_gap_and_its_persistence(
    usual, gaps, expected
):
    assert split_severities(usual, gaps) == expected


def test_a_four_point_split_between_partners_usually_half_a_point_apart_is_a_flag():
    for usual in (STEADY_PAIR, NOISY_PAIR, (0.5,) * 3, (0.5, 0.5)):
        ((check, severity),) = split_severities(usual, [4])
        assert check == 1 and severity in FLAGS, usual


@pytest.mark.parametrize(
    ("changes", "gaps", "expected"),
    [
        ({"split_large": 4.0, "split_very_large": 6.0}, [4], [(1, "info")]),
        ({"split_very_large": 4.0}, [4], [(1, "warning")]),
        ({"split_warning_run": 3, "split_alert_run": 4}, [2, 2, 2], [(1, "info"), (3, "warning")]),
        # checks under the run's bar are split but do not count towards persistence
        ({"split_run_bar": 10.0}, [2, 2, 2], [(1, "info")]),
    ],
)
def test_the_split_levels_are_the_settings(changes, gaps, expected):
    settings = dataclasses.replace(SETTINGS, **changes)
    assert split_severities(STEADY_PAIR, gaps, settings) == expected


def test_a_chronic_gap_between_partners_is_not_a_split_warning():
    result = compute_case(
        {"a": series(*[9] * 10), "b": series(*[7.5] * 10)},
        SETTINGS,
    )
    assert KIND_SPLIT_ALLIANCE not in kinds(result, FLAGS)


def test_split_messages_say_only_what_their_evidence_shows():
    """Each split sentence matches its numbers: "more than day-to-day variation explains" only
    when the gap really grew by more than the threshold; a chronic or held-over gap is described
    as such; the level follows the widening and the checks in a row."""
    from measures.simulation import simulate_cohort

    splits = [
        finding
        for case in simulate_cohort(400, seed=11)
        if len(case.participants) > 1
        for finding in compute_case(case.participants, SETTINGS).findings
        if finding.kind == KIND_SPLIT_ALLIANCE
    ]
    chronic = compute_case({"a": series(*[9] * 10), "b": series(*[6.5] * 10)}, SETTINGS).findings
    splits += [f for f in chronic if f.kind == KIND_SPLIT_ALLIANCE]
    kinds_of_sentence = {
        "variation explains": 0, "has not closed": 0, "usual for them": 0, "in a row": 0
    }
    for finding in splits:
        evidence, message = finding.evidence, finding.message
        grown = evidence["gap"] - evidence["usual_gap"]
        assert math.isclose(evidence["widening"], grown, abs_tol=0.011)
        assert f"{evidence['gap']:.1f} points below" in message
        if "day-to-day variation explains" in message:
            kinds_of_sentence["variation explains"] += 1
            assert grown >= evidence["threshold"] - 0.01, (message, evidence)
            said = float(message.split(" by ")[1].split(",")[0])
            assert math.isclose(said, evidence["widening"], abs_tol=0.06), message
            assert evidence["split_checks"] >= 1
            if finding.severity != "info":  # large (2x), or held for 2 checks
                assert grown >= 2 * evidence["threshold"] - 0.02 or evidence["split_checks"] >= 2
            if finding.severity == "alert":  # very large (3x), held for 3 checks, or both
                large, checks = grown / evidence["threshold"], evidence["split_checks"]
                assert large >= 2.98 or checks >= 3 or (large >= 1.98 and checks >= 2), evidence
        else:
            assert evidence["split_checks"] == 0
            assert "has not closed" in message or "usual for them" in message
            kinds_of_sentence["has not closed" if "has not closed" in message else "usual for them"] += 1
        assert ("in a row" in message) == (evidence["split_checks"] >= 2), message
        kinds_of_sentence["in a row"] += "in a row" in message
    # a held-over gap never raises a finding of its own (it keeps the episode's level)
    del kinds_of_sentence["has not closed"]
    assert all(kinds_of_sentence.values()), kinds_of_sentence


@pytest.mark.parametrize("spec", [SUDDEN_DROP, V_SHAPED, GRADUAL_DECLINE, SILENT, STABLE_HIGH])
def test_a_single_participant_case_never_has_a_split_alliance(spec):
    assert KIND_SPLIT_ALLIANCE not in kinds(run(*spec))


@pytest.mark.parametrize(
    "spec", [SUDDEN_DROP, V_SHAPED, GRADUAL_DECLINE, SILENT, STEADY_MODEST, CEILING_THEN_DIP]
)
def test_at_most_one_active_finding_per_participant_and_kind(spec):
    result = compute_case({"a": series(*spec), "b": series(*STABLE_HIGH)}, SETTINGS)
    keys = [(f.participant_id, f.kind) for f in result.active]
    assert len(keys) == len(set(keys))
    assert all(f in result.findings for f in result.active)


def test_findings_use_only_the_contract_codes_and_are_in_session_order():
    codes = {code for code, _label in KINDS}
    for spec in (SUDDEN_DROP, V_SHAPED, GRADUAL_DECLINE, SILENT, CEILING_THEN_DIP):
        result = run(*spec)
        assert {f.kind for f in result.findings} <= codes
        assert {f.severity for f in result.findings} <= set(SEVERITIES)
        sessions = [f.session_number for f in result.findings]
        assert sessions == sorted(sessions)


def test_contract_constants():
    assert [code for code, _ in KINDS] == [
        "reliable_drop",
        "sustained_decline",
        "low_score",
        "rupture",
        "missed_checks",
        "no_show",
        "split_alliance",
        "ceiling",
        "repaired_rupture",
    ]
    assert SEVERITIES == ("info", "warning", "alert")


def test_risk_orders_a_declining_case_above_a_stable_one():
    assert compute_case({}, SETTINGS).risk_score == 0
    assert compute_case({"p": []}, SETTINGS).risk_score == 0
    assert compute_case({}, SETTINGS).dropout_probability is None
    stable = run(*STABLE_HIGH)
    repaired = run(*V_SHAPED).risk_score
    declining = run(*GRADUAL_DECLINE).risk_score
    # the risk is a probability of stopping within three sessions, × 100: small, not nil,
    # without a finding (a repaired rupture adds nothing)
    assert 0 < stable.dropout_probability < 0.05
    assert stable.risk_score == round(100 * stable.dropout_probability)
    assert repaired == stable.risk_score < declining
    assert 50 <= declining <= 100


def test_summary_describes_the_series():
    summary = run(*GRADUAL_DECLINE, ".", "x").summaries["p"]
    assert summary.answered == 12
    assert summary.scheduled == 13  # attended sessions
    assert summary.trend == "down"
    assert summary.slope is not None and summary.slope < -0.3
    assert summary.latest == {"goals": 6, "tasks": 6, "bond": 6, "total": 6.0}
    assert summary.baseline is not None and summary.baseline > 8.5
    flat = run(*STABLE_HIGH).summaries["p"]
    assert flat.trend == "flat"
    assert run(9, "x").summaries["p"].trend == "none"


def test_the_cutoff_comes_from_the_settings():
    strict = EngineSettings(cutoff=9.5)
    low = first(run(*STABLE_HIGH, settings=strict), KIND_LOW_SCORE)
    assert "cutoff of 9.5" in low.message
    assert KIND_LOW_SCORE not in kinds(run(*STABLE_HIGH))


def test_the_reliable_change_threshold_comes_from_reliability_and_spread():
    noisy = EngineSettings(reliability={"total": 0.5, "goals": 0.5, "tasks": 0.5, "bond": 0.5})
    two_points_down = (9, 9, 8.5, 9, 9, 9, 7)
    assert KIND_RELIABLE_DROP in kinds(run(*two_points_down), FLAGS)
    assert KIND_RELIABLE_DROP not in kinds(run(*two_points_down, settings=noisy))


# ---- statistics --------------------------------------------------------------------------


def test_reliable_change_is_the_jacobson_truax_threshold():
    assert math.isclose(compute_reliable_change(1.3, 0.9), 1.96 * 1.3 * math.sqrt(2 * 0.1))
    assert compute_reliable_change(1.0, 1.0) == 0.0
    assert compute_reliable_change(2.0, 0.5) > compute_reliable_change(1.0, 0.5)
    with pytest.raises(ValueError):
        compute_reliable_change(-1.0, 0.8)


def test_cronbachs_alpha_from_item_rows():
    # Items that move together perfectly: alpha is 1.
    assert compute_reliability([[1, 1], [2, 2], [3, 3]]) == pytest.approx(1.0)
    # Against the definition k/(k-1) · (1 − Σ item variances / variance of the sums).
    rows = [[1, 2, 1], [2, 3, 3], [3, 3, 2], [4, 4, 4], [5, 5, 5]]
    data_alpha = compute_reliability(rows)
    k = 3
    item_var = sum(statistics.variance([r[i] for r in rows]) for i in range(k))
    total_var = statistics.variance([sum(r) for r in rows])
    assert data_alpha == pytest.approx(k / (k - 1) * (1 - item_var / total_var))
    # Unrelated items: no reliability, clipped at 0.
    assert compute_reliability([[1, 5], [5, 2], [2, 4], [4, 1]]) == 0.0


@pytest.mark.parametrize(
    "rows",
    [[], [[1, 2]], [[1], [2], [3]], [[1, 2], [1, 2, 3]], [[3, 3], [3, 3]], [[1, None], [2, 3]]],
)
def test_cronbachs_alpha_is_none_when_undefined(rows):
    assert compute_reliability(rows) is None


def test_t_quantiles_widen_the_normal_one_for_few_degrees_of_freedom():
    assert compute_t_quantile(1.96, 5) == pytest.approx(2.571, abs=0.01)
    assert compute_t_quantile(1.96, 30) == pytest.approx(2.042, abs=0.005)
    assert compute_t_quantile(1.96, 10**6) == pytest.approx(1.96, abs=1e-4)
    assert compute_t_quantile(2.6, 4) > compute_t_quantile(2.6, 8) > 2.6


def test_successive_differences_ignore_a_slow_trend():
    rising = [5 + 0.5 * i for i in range(10)]
    assert compute_successive_sd(rising) == pytest.approx(0.5 / math.sqrt(2))
    assert statistics.stdev(rising) > 1.0
    assert compute_successive_sd([9]) is None


def test_calibration_learns_noise_and_spread_from_the_caseload():
    rng = np.random.default_rng(0)

    def cohort(noise):
        return [
            series(*[float(np.clip(level + rng.normal(0, noise), 0, 10)) for _ in range(8)])
            for level in rng.normal(7, 1.2, size=200)
        ]

    calm = compute_calibration(cohort(0.3))
    noisy = compute_calibration(cohort(1.0))
    assert calm.participants == 200
    assert calm.spread["total"] == pytest.approx(1.2, abs=0.2)
    # r = 1 − noise² / spread²
    assert calm.reliability["total"] == pytest.approx(1 - 0.3**2 / 1.2**2, abs=0.05)
    assert noisy.reliability["total"] < calm.reliability["total"] - 0.3
    assert compute_calibration(cohort(0.3)[:10]) is None  # too few clients: keep the defaults
    settings = apply_calibration(SETTINGS, calm)
    assert settings.reliability == calm.reliability
    assert settings.cutoff == SETTINGS.cutoff
    assert apply_calibration(SETTINGS, None) is SETTINGS


def _sem(calibration, series_name="total"):
    spread = calibration.spread[series_name]
    return spread * math.sqrt(1 - calibration.reliability[series_name])


@pytest.mark.parametrize("ceiling_share", [0.0, 0.2, 0.4])
def test_full_marks_twice_in_a_row_do_not_pass_for_precision(ceiling_share):
    """Clients at the top of the scale hide their noise; the within-person noise (SEM) learnt
    from a caseload must not shrink because many clients give full marks every time."""
    rng = np.random.default_rng(1)
    n_top = int(300 * ceiling_share)
    varying = [
        series(*[float(np.clip(level + rng.normal(0, 0.6), 0, 10)) for _ in range(10)])
        for level in rng.normal(7, 0.8, size=300 - n_top)
    ]
    at_top = [series(*[10.0] * 10) for _ in range(n_top)]
    calibration = compute_calibration(varying + at_top)
    assert _sem(calibration) == pytest.approx(0.6, rel=0.2)


@pytest.mark.parametrize(
    ("name", "spec", "flagged"),
    [
        ("full marks, then two skips from a client who never skips", (10,) * 10 + (".", "."), True),
        (
            "full marks, then two skips from a client who often skips",
            (10, ".", 10, 10, ".", 10, ".", 10, 10, ".", 10, 10, ".", 10, 10, ".", "."),
            False,
        ),
        (
            "full marks, then three skips from that client",
            (10, ".", 10, 10, ".", 10, ".", 10, 10, ".", 10, 10, ".", 10, 10, ".", ".", "."),
            True,
        ),
    ],
)
def test_lapses_after_full_marks_are_weighed_against_the_clients_own_habits(name, spec, flagged):
    result = run(*spec)
    assert (KIND_MISSED_CHECKS in kinds(result, FLAGS)) is flagged, name


@pytest.mark.parametrize(
    "spec, wording, kind",
    [
        (
            (8, 8, 8, (8, 8, 8, 1), ".", "."),
            "after a reported rupture that was not talked through",
            "rupture",
        ),
        ((9, 9, 8.5, 9, 9, 9, 5, 5, ".", "."), "after a drop in the scores", "reliable_drop"),
    ],
    ids=["rupture", "drop"],
)
def test_a_lapse_message_names_the_signal_it_follows(spec, wording, kind):
    lapses = [f for f in run(*spec).findings if f.kind in (KIND_MISSED_CHECKS, KIND_NO_SHOW)]
    assert lapses, "the lapse after a signal is flagged"
    assert all(wording in f.message for f in lapses if f.evidence["follows_signal"])
    assert any(f.evidence["follows_kind"] == kind for f in lapses)
    if kind == "rupture":  # the scores never dropped, so no message may say they did
        assert not any("drop in the scores" in f.message for f in lapses)
