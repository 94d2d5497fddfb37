"""The early-warning detectors and ``compute_case``.

Each participant's series is walked once, session by session, so what the engine says at
session k is computed from observations up to k only (causal). At every session each detector
yields a *state* per kind (None, or severity + evidence + message). A finding is raised when a
kind's state starts (onset) or its severity rises within an episode; the latest raised finding of
an episode that still holds at the participant's last session is *active*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .data import (
    KIND_CEILING,
    KIND_LOW_SCORE,
    KIND_MISSED_CHECKS,
    KIND_NO_SHOW,
    KIND_ORDER,
    KIND_RELIABLE_DROP,
    KIND_REPAIRED_RUPTURE,
    KIND_RUPTURE,
    KIND_SPLIT_ALLIANCE,
    KIND_SUSTAINED_DECLINE,
    RUPTURE_TALKED_THROUGH,
    RUPTURE_UNREPAIRED,
    SERIES,
    SEVERITIES,
    SEVERITY_RANK,
    CaseResult,
    EngineSettings,
    Finding,
    Observation,
    ParticipantSummary,
)
from .statistics import (
    compute_mean,
    compute_reliable_change,
    compute_sem,
    compute_slope,
    compute_successive_sd,
    compute_t_quantile,
)

INFO, WARNING, ALERT = 0, 1, 2
SCORE_KINDS = (KIND_RELIABLE_DROP, KIND_SUSTAINED_DECLINE, KIND_LOW_SCORE, KIND_RUPTURE)
# How an engagement message names the signal a lapse follows (the first of SCORE_KINDS raised).
AFTER_SIGNAL = {
    KIND_RELIABLE_DROP: " after a drop in the scores",
    KIND_SUSTAINED_DECLINE: " after a sustained decline in the scores",
    KIND_LOW_SCORE: " after low scores",
    KIND_RUPTURE: " after a reported rupture that was not talked through",
}
# Informational kinds that never raise a case's risk.
POSITIVE_KINDS = (KIND_CEILING, KIND_REPAIRED_RUPTURE)
RISK_WEIGHT = {INFO: 0.05, WARNING: 0.30, ALERT: 0.55}
LABEL = {"total": "The total", "goals": "Goals", "tasks": "Tasks", "bond": "Bond"}
# Once this many usable checks precede the lag, the latest ones are kept out of the baseline.
LAG_MIN_POOL = 3


@dataclass(slots=True)
class _State:
    level: int
    subscale: str
    evidence: dict
    message: str


@dataclass(slots=True)
class _Thresholds:
    rc: dict[str, float]
    sem: dict[str, float]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _thresholds(settings: EngineSettings) -> _Thresholds:
    rc = {}
    sem = {}
    for series in SERIES:
        spread = settings.spread.get(series, settings.spread.get("total", 1.3))
        reliability = settings.reliability.get(series, settings.reliability.get("total", 0.9))
        rc[series] = compute_reliable_change(spread, reliability)
        sem[series] = max(compute_sem(spread, reliability), 1e-6)
    return _Thresholds(rc=rc, sem=sem)


@dataclass(slots=True)
class _Baseline:
    usual: float  # the usual level
    n: int  # checks it averages
    noise: float  # within-person noise SD
    scale: float  # SD of (usual − a new check): noise · √(1 + 1/n)
    threshold: float  # a drop beyond this is reliable (info)
    confirm: float  # a drop beyond this is confirmed by itself (warning)
    confirm_pair: float  # two reliable drops in a row averaging this much confirm each other


def _baseline(
    values: list[float], flagged: list[bool], rc: float, sem: float, settings: EngineSettings
) -> _Baseline | None:
    """The usual level from earlier checks (unflagged, lagged, windowed) and its thresholds.

    The noise is learnt from all unflagged earlier checks by successive differences, shrunk
    towards the SEM; since it is itself estimated, thresholds use Student-t quantiles.
    """
    usable = [v for v, f in zip(values, flagged, strict=True) if not f] if any(flagged) else values
    if len(usable) < settings.baseline_min_checks:
        return None
    pool = usable
    lag = settings.baseline_lag
    if lag and len(pool) - lag >= LAG_MIN_POOL:
        pool = pool[:-lag]
    pool = pool[-settings.baseline_window :]
    n = len(pool)
    own = compute_successive_sd(usable) or 0.0
    weight = settings.noise_prior_weight
    dof_own = len(usable) - 1
    noise = math.sqrt((weight * sem**2 + dof_own * own**2) / (weight + dof_own))
    dof = weight + dof_own
    scale = noise * math.sqrt(1.0 + 1.0 / n)
    threshold = max(rc, compute_t_quantile(settings.z_drop, dof) * scale)
    confirm = max(
        rc * settings.z_confirm / settings.z_drop,
        compute_t_quantile(settings.z_confirm, dof) * scale,
    )
    # the mean of two checks in a row is confirmed at the same level as one check by itself
    confirm_pair = max(
        rc, compute_t_quantile(settings.z_confirm, dof) * noise * math.sqrt(0.5 + 1.0 / n)
    )
    return _Baseline(
        usual=compute_mean(pool),
        n=n,
        noise=noise,
        scale=scale,
        threshold=threshold,
        confirm=confirm,
        confirm_pair=confirm_pair,
    )


@dataclass(slots=True)
class _Track:
    """What one participant's walk produced."""

    sessions: list[int]
    states: list[dict[str, _State | None]]
    totals: dict[int, float]  # session_number -> total, answered checks only
    summary: ParticipantSummary
    score_signal_sessions: list[int]


def _track_participant(
    pid: str,
    observations: Sequence[Observation],
    settings: EngineSettings,
    th: _Thresholds,
) -> _Track:
    scale_max = settings.scale_max
    values: dict[str, list[float]] = {s: [] for s in SERIES}
    flagged: dict[str, list[bool]] = {s: [] for s in SERIES}
    check_sessions: list[int] = []
    check_totals: list[float] = []
    totals: dict[int, float] = {}

    prev: dict[str, _State | None] = {}
    states: list[dict[str, _State | None]] = []
    sessions: list[int] = []
    score_signal_sessions: list[int] = []

    cusum = 0.0
    cusum_checks = 0
    ceiling_run = 0
    low_checks = 0
    # series -> (was a reliable drop, size of the drop) at the previous check
    prev_drops: dict[str, tuple[bool, float] | None] = {}
    confirm_factor = settings.z_confirm / settings.z_drop
    dip: dict | None = None  # open dip episode, closed by recovery (-> repaired rupture)
    repaired_until = -1
    repaired_state: _State | None = None
    # engagement
    n_sessions_seen = 0
    n_events = 0
    run = 0
    run_no_shows = 0
    run_missed = 0
    run_start = 0
    rate_before_run = settings.engagement_prior_rate
    last_score_signal = -(10**9)
    last_signal_kind = ""
    ceiling_before_run = False
    answered = 0
    attended = 0
    latest_baseline: _Baseline | None = None

    for obs in observations:
        sn = obs.session_number
        state: dict[str, _State | None] = {}
        is_answered = obs.attended and obs.is_answered
        attended += obs.attended

        # ---- engagement (no-shows, skipped checks) -------------------------------------
        is_event = (not obs.attended) or (not is_answered)
        if is_event:
            if run == 0:
                prior_n = settings.engagement_prior_sessions
                rate_before_run = (settings.engagement_prior_rate * prior_n + n_events) / (
                    prior_n + n_sessions_seen
                )
                run_start = sn
                run_no_shows = run_missed = 0
                # full marks say nothing about the alliance, so engagement is all there is
                # to see: "polite full marks, then silence" is the silent-disengagement path
                ceiling_before_run = ceiling_run >= settings.ceiling_run
            run += 1
            run_no_shows += not obs.attended
            run_missed += bool(obs.attended)
        else:
            run = 0
        n_sessions_seen += 1
        n_events += is_event

        # ---- scores ----------------------------------------------------------------------
        drop_state: _State | None = None
        if is_answered:
            answered += 1
            current = {
                "goals": obs.goals,
                "tasks": obs.tasks,
                "bond": obs.bond,
                "total": obs.total,
            }
            was_ceiling = ceiling_run >= settings.ceiling_run
            # series -> (level, magnitude, baseline, threshold, confirm) for this check
            candidates: dict[str, tuple[int, float, _Baseline, float, float]] = {}
            confirmed_by: dict[str, str] = {}
            base_total: _Baseline | None = None
            this_flags: dict[str, bool] = {}
            this_drops: dict[str, tuple[bool, float] | None] = {}
            prior = prev.get(KIND_RELIABLE_DROP)
            for series in SERIES:
                x = current[series]
                if x is None:
                    continue
                base = _baseline(
                    values[series], flagged[series], th.rc[series], th.sem[series], settings
                )
                if series == "total":
                    base_total = base
                is_flag = False
                if base is not None:
                    threshold, confirm = base.threshold, base.confirm
                    if series == "total" and was_ceiling:
                        threshold = min(threshold, settings.ceiling_dip)
                        confirm = min(confirm, settings.ceiling_dip * confirm_factor)
                    drop = base.usual - x
                    is_flag = drop >= threshold
                    is_confirmed = drop >= confirm
                    previous = prev_drops.get(series)
                    is_repeat = (
                        is_flag
                        and previous is not None
                        and previous[0]
                        and (previous[1] + drop) / 2 >= base.confirm_pair
                    )
                    # hysteresis: an open drop stays open until back within half the threshold
                    is_held = (
                        prior is not None and prior.subscale == series and drop >= threshold / 2
                    )
                    if is_flag:
                        level = INFO
                        if is_confirmed or is_repeat:
                            level = WARNING
                        if is_repeat and (is_confirmed or drop >= 2 * threshold):
                            level = ALERT
                        candidates[series] = (level, drop / threshold, base, threshold, confirm)
                        confirmed_by[series] = (
                            "size" if is_confirmed else "next_check" if is_repeat else ""
                        )
                    elif is_held:
                        candidates[series] = (
                            prior.level,
                            drop / threshold,
                            base,
                            threshold,
                            confirm,
                        )
                this_flags[series] = is_flag
                this_drops[series] = (is_flag, drop) if base is not None else None
            for series in SERIES:
                if current[series] is not None:
                    values[series].append(current[series])
                    # only a confirmed drop stays out of the usual level: dropping every noisy
                    # low check would bias the usual level upwards
                    is_confirmed_drop = (
                        series in candidates
                        and this_flags[series]
                        and candidates[series][0] >= WARNING
                    )
                    flagged[series].append(is_confirmed_drop)
            prev_drops = this_drops

            total = current["total"]
            if total is not None:
                totals[sn] = total
                check_sessions.append(sn)
                check_totals.append(total)
            latest_baseline = base_total

            # reliable drop: the most severe series, then the largest relative drop ----------
            total_drop = this_flags.get("total", False)
            if candidates:
                series = max(candidates, key=lambda k: candidates[k][:2])
                level, magnitude, base, threshold, confirm = candidates[series]
                x = current[series]
                drop_state = _State(
                    level=level,
                    subscale=series,
                    evidence={
                        "baseline": _round(base.usual),
                        "current": _round(x),
                        "threshold": _round(threshold),
                        "confirm_threshold": _round(confirm),
                        "confirmed_by": confirmed_by.get(series, "held"),
                        "drop": _round(base.usual - x),
                        "reliable_change": _round(th.rc[series]),
                        "variability": _round(base.noise),
                        "baseline_checks": base.n,
                        "from_ceiling": series == "total" and was_ceiling,
                    },
                    message=(
                        f"{LABEL[series]} fell from a usual {_fmt(base.usual)} to {_fmt(x)} — "
                        f"more than the {_fmt(threshold)} points that noise explains."
                    ),
                )
            state[KIND_RELIABLE_DROP] = drop_state

            # sustained decline (robust one-sided CUSUM on the total) -----------------------
            sustained: _State | None = None
            if total is not None and base_total is not None:
                z = (base_total.usual - total) / base_total.scale
                cusum = max(0.0, cusum + min(z, settings.cusum_cap) - settings.cusum_k)
                cusum_checks = cusum_checks + 1 if cusum > 0 else 0
                recent = check_totals[-min(max(cusum_checks, 1), 3) :]
                shortfall = base_total.usual - compute_mean(recent)
                # statistically sustained *and* at least a fraction of a reliable change in size
                is_sizeable = shortfall >= th.rc["total"] * settings.sustained_min_change
                if cusum >= settings.cusum_h and is_sizeable:
                    level = ALERT if cusum >= 2 * settings.cusum_h else WARNING
                    sustained = _State(
                        level=level,
                        subscale="total",
                        evidence={
                            "baseline": _round(base_total.usual),
                            "current": _round(total),
                            "cusum": _round(cusum),
                            "threshold": settings.cusum_h,
                            "variability": _round(base_total.noise),
                            "checks_below": cusum_checks,
                            "recent_shortfall": _round(shortfall),
                        },
                        message=(
                            f"The total has stayed below the usual {_fmt(base_total.usual)} for "
                            f"{cusum_checks} checks (now {_fmt(total)}) — a sustained decline, "
                            "not session-to-session noise."
                        ),
                    )
            elif KIND_SUSTAINED_DECLINE in prev:
                sustained = prev[KIND_SUSTAINED_DECLINE]
            state[KIND_SUSTAINED_DECLINE] = sustained

            # low score against the clinic cutoff, tempered for steadily modest clients ----
            low: _State | None = None
            if total is not None:
                below = total < settings.cutoff
                low_checks = low_checks + 1 if below else 0
                if below:
                    usual = base_total.usual if base_total is not None else None
                    if usual is not None and usual >= settings.cutoff:
                        # below the cutoff by more than noise: a confirmed drop or a run
                        is_reliable = total_drop and candidates["total"][0] >= WARNING
                        recent = check_totals[-min(low_checks, 3) :]
                        is_sustained = (
                            low_checks >= settings.low_run
                            and usual - compute_mean(recent)
                            >= th.rc["total"] * settings.sustained_min_change
                        )
                        level = WARNING if is_reliable or is_sustained else INFO
                        message = (
                            f"The total fell below the clinic cutoff of {_fmt(settings.cutoff)} "
                            f"(now {_fmt(total)}, usually {_fmt(usual)})."
                        )
                    else:
                        level = INFO
                        usual_text = f" (usually {_fmt(usual)})" if usual is not None else ""
                        message = (
                            f"The total of {_fmt(total)} is below the clinic cutoff of "
                            f"{_fmt(settings.cutoff)}, as is usual for this client{usual_text}."
                            if usual is not None
                            else f"The total of {_fmt(total)} starts below the clinic cutoff of "
                            f"{_fmt(settings.cutoff)}."
                        )
                    low = _State(
                        level=level,
                        subscale="total",
                        evidence={
                            "current": _round(total),
                            "cutoff": settings.cutoff,
                            "baseline": _round(usual),
                            "steadily_modest": usual is not None and usual < settings.cutoff,
                        },
                        message=message,
                    )
            else:
                low = prev.get(KIND_LOW_SCORE)
            state[KIND_LOW_SCORE] = low

            # ceiling ---------------------------------------------------------------------
            if total is not None:
                ceiling_run = ceiling_run + 1 if total >= scale_max - 1e-9 else 0
            ceiling: _State | None = None
            if ceiling_run >= settings.ceiling_run:
                ceiling = _State(
                    level=INFO,
                    subscale="total",
                    evidence={"checks_at_top": ceiling_run, "scale_max": scale_max},
                    message=(
                        f"Full marks on {ceiling_run} checks in a row — the score cannot show a "
                        "further rise, so any dip from it counts."
                    ),
                )
            state[KIND_CEILING] = ceiling

        else:
            for kind in (KIND_RELIABLE_DROP, KIND_SUSTAINED_DECLINE, KIND_LOW_SCORE, KIND_CEILING):
                state[kind] = prev.get(kind)

        # ---- self-reported rupture -----------------------------------------------------------
        rupture_state: _State | None = None
        if obs.attended and obs.rupture is not None:
            if obs.rupture == RUPTURE_UNREPAIRED:
                level = WARNING
                if drop_state is not None or state.get(KIND_SUSTAINED_DECLINE) is not None:
                    level = ALERT
                rupture_state = _State(
                    level=level,
                    subscale="",
                    evidence={"rupture": obs.rupture, "session": sn},
                    message=(
                        f"The client said something felt off in session {sn} and it was not "
                        "talked through."
                    ),
                )
            elif obs.rupture == RUPTURE_TALKED_THROUGH:
                rupture_state = _State(
                    level=INFO,
                    subscale="",
                    evidence={"rupture": obs.rupture, "session": sn},
                    message=(
                        f"The client said something felt off in session {sn} and it was talked "
                        "through."
                    ),
                )
        elif not is_answered:
            rupture_state = prev.get(KIND_RUPTURE)
        state[KIND_RUPTURE] = rupture_state

        # ---- repaired rupture: a dip that came back to the usual level ------------------
        is_dipping = drop_state is not None or (
            rupture_state is not None and is_answered and obs.rupture is not None
        )
        if is_answered and is_dipping:
            total = obs.total
            if dip is None:
                dip = {
                    "session": sn,
                    "lowest": total,
                    "usual": latest_baseline.usual if latest_baseline else None,
                    "threshold": latest_baseline.threshold if latest_baseline else None,
                    "checks": 0,
                }
            elif total is not None and (dip["lowest"] is None or total < dip["lowest"]):
                dip["lowest"] = total
            dip["checks"] += 1
        elif is_answered and dip is not None and obs.total is not None:
            base = latest_baseline
            usual = dip["usual"] if dip["usual"] is not None else (base.usual if base else None)
            threshold = (
                dip["threshold"]
                if dip["threshold"] is not None
                else (base.threshold if base else th.rc["total"])
            )
            if usual is None or obs.total >= usual - threshold / 2:
                lowest = dip["lowest"]
                dip_text = (
                    f"dipped to {_fmt(lowest)} in session {dip['session']}"
                    if lowest is not None
                    else f"had a rupture in session {dip['session']}"
                )
                repaired_state = _State(
                    level=INFO,
                    subscale="total",
                    evidence={
                        "dip_session": dip["session"],
                        "lowest": _round(lowest),
                        "baseline": _round(usual),
                        "current": _round(obs.total),
                        "checks_to_recover": dip["checks"],
                    },
                    message=(
                        f"The total {dip_text} and recovered to {_fmt(obs.total)} by session "
                        f"{sn} — a repaired rupture."
                    ),
                )
                repaired_until = sn + settings.repair_hold
                dip = None
                cusum = 0.0
                cusum_checks = 0
                state[KIND_SUSTAINED_DECLINE] = None
            elif obs.total is not None and (dip["lowest"] is None or obs.total < dip["lowest"]):
                dip["lowest"] = obs.total
        state[KIND_REPAIRED_RUPTURE] = repaired_state if sn <= repaired_until else None
        if sn > repaired_until:
            repaired_state = None

        # ---- engagement findings ----------------------------------------------------------
        signalled = [
            kind
            for kind in SCORE_KINDS
            if state.get(kind) is not None and state[kind].level >= WARNING
        ]
        if signalled:
            last_score_signal = sn
            last_signal_kind = signalled[0]
            score_signal_sessions.append(sn)
        no_show_state: _State | None = None
        missed_state: _State | None = None
        if run:
            probability = rate_before_run**run
            run_level = -1
            if probability <= settings.engagement_alpha / 10:
                run_level = ALERT
            elif probability <= settings.engagement_alpha:
                run_level = WARNING
            follows_drop = last_score_signal >= run_start - settings.escalation_window
            # after full marks the scores cannot warn, so a run of lapses needs less evidence
            # than usual, but still evidence against this client's own habits: a client who
            # often skips a check is not disengaging when they skip two after full marks
            follows_ceiling = (
                ceiling_before_run
                and run >= settings.missed_run
                and probability <= settings.engagement_alpha_ceiling
            )
            follows = follows_drop or follows_ceiling
            evidence = {
                "run": run,
                "no_shows": run_no_shows,
                "skipped_checks": run_missed,
                "usual_rate": _round(rate_before_run),
                "probability": round(probability, 6),
                "follows_signal": follows_drop,
                "follows_kind": last_signal_kind if follows_drop else "",
                "follows_ceiling": follows_ceiling,
            }
            after = ""
            if follows_drop:
                after = AFTER_SIGNAL[last_signal_kind]
            elif follows_ceiling:
                after = " after a run of full marks"
            unusual = (
                f", unusual for this client (usual rate {rate_before_run:.0%})"
                if run_level >= WARNING
                else ""
            )
            if run_no_shows:
                level = min(ALERT, max(INFO, run_level) + follows)
                no_show_state = _State(
                    level=level,
                    subscale="",
                    evidence=evidence,
                    message=(
                        f"{run_no_shows} missed session(s) and {run_missed} skipped check(s) in "
                        f"the last {run} scheduled session(s){after}{unusual}."
                        if run > 1
                        else f"No-show or late cancellation at session {sn}{after}."
                    ),
                )
            if run_missed:
                base_level = INFO if run >= settings.missed_run else -1
                level = min(ALERT, max(base_level, run_level) + follows)
                if level >= INFO:
                    missed_state = _State(
                        level=level,
                        subscale="",
                        evidence=evidence,
                        message=(
                            f"No check answered in the last {run} scheduled session(s) "
                            f"({run_missed} attended without a check, {run_no_shows} missed)"
                            f"{after}{unusual}."
                        ),
                    )
        state[KIND_NO_SHOW] = no_show_state
        state[KIND_MISSED_CHECKS] = missed_state

        sessions.append(sn)
        states.append(state)
        prev = state

    # ---- summary --------------------------------------------------------------------------
    final_base = _baseline(
        values["total"], flagged["total"], th.rc["total"], th.sem["total"], settings
    )
    slope = None
    window = settings.slope_window
    if len(check_totals) >= 3:
        slope = compute_slope(check_sessions[-window:], check_totals[-window:])
    trend = "none"
    if slope is not None:
        span = check_sessions[-1] - check_sessions[-window:][0]
        noise = final_base.noise if final_base else th.sem["total"]
        change = slope * span
        trend = "flat"
        if abs(change) >= max(noise, 0.5):
            trend = "up" if change > 0 else "down"
    latest: dict[str, float | None] = {"goals": None, "tasks": None, "bond": None, "total": None}
    for obs in reversed(observations):
        if obs.attended and obs.is_answered:
            latest = {
                "goals": obs.goals,
                "tasks": obs.tasks,
                "bond": obs.bond,
                "total": _round(obs.total),
            }
            break
    summary = ParticipantSummary(
        participant_id=pid,
        baseline=_round(final_base.usual) if final_base else None,
        variability=_round(final_base.noise) if final_base else None,
        slope=_round(slope),
        latest=latest,
        answered=answered,
        scheduled=attended,
        trend=trend,
    )
    return _Track(sessions, states, totals, summary, score_signal_sessions)


def _split_states(
    tracks: Mapping[str, _Track],
    settings: EngineSettings,
    th: _Thresholds,
    labels: Mapping[str, str] | None = None,
) -> tuple[list[int], list[dict[str, _State]]]:
    """Per session of the case, the split-alliance state keyed by the lower member."""
    all_sessions = sorted({sn for track in tracks.values() for sn in track.sessions})
    pair_diffs: dict[tuple[str, str], list[float]] = {}
    pair_flags: dict[tuple[str, str], list[bool]] = {}
    result: list[dict[str, _State]] = []
    prev: dict[str, _State] = {}
    prev_pair_flag: dict[tuple[str, str], bool] = {}
    for sn in all_sessions:
        scores = {pid: t.totals[sn] for pid, t in tracks.items() if sn in t.totals}
        if len(scores) < 2:
            result.append(prev)
            continue
        state: dict[str, _State] = {}
        ordered = sorted(scores, key=lambda pid: (scores[pid], pid))
        low, high = ordered[0], ordered[-1]
        # every pair's history, so a later split can be judged against its own usual gap
        is_split_now: dict[tuple[str, str], bool] = {}
        candidate: _State | None = None
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                key = (a, b) if a < b else (b, a)
                diff = scores[key[1]] - scores[key[0]]
                history = pair_diffs.setdefault(key, [])
                flags = pair_flags.setdefault(key, [])
                base = _baseline(
                    history, flags, th.rc["total"], th.sem["total"] * math.sqrt(2.0), settings
                )
                # orient the gap as (higher - lower) for the current lower member
                sign = 1.0 if key[0] == a else -1.0
                gap = sign * diff
                usual_gap = sign * base.usual if base is not None else 0.0
                threshold = base.threshold if base is not None else th.rc["total"]
                widening = gap - usual_gap
                # a split is a change in the pair's usual gap, so it needs their history first
                is_split = base is not None and gap >= th.rc["total"] and widening >= threshold
                is_split_now[key] = is_split
                was_pair_split = prev_pair_flag.get(key, False)
                history.append(diff)
                # a persisting split stays out of the pair's usual gap (a chronic one is learnt)
                flags.append(is_split and was_pair_split)
                if a == low and b == high:
                    was_split = prev_pair_flag.get(key, False)
                    held = low in prev and widening >= threshold / 2
                    is_chronic = gap >= th.rc["total"] and usual_gap >= th.rc["total"]
                    if is_split or held or is_chronic:
                        if is_split:
                            # one wide gap is one member's dip (their own reliable_drop);
                            # a split is a gap that persists at the next joint check
                            level = WARNING if was_split else INFO
                            if was_split and widening >= base.confirm:
                                level = ALERT
                        elif held:
                            level = prev[low].level
                        else:
                            level = INFO  # a chronic gap the case started with
                        candidate = _State(
                            level=level,
                            subscale="total",
                            evidence={
                                "lower": low,
                                "higher": high,
                                "lower_total": _round(scores[low]),
                                "higher_total": _round(scores[high]),
                                "gap": _round(gap),
                                "usual_gap": _round(usual_gap),
                                "threshold": _round(threshold),
                            },
                            message=_split_message(
                                is_split, held, scores[low], scores[high],
                                (labels or {}).get(high, high), gap, usual_gap, threshold,
                            ),
                        )
        prev_pair_flag.update(is_split_now)
        if candidate is not None:
            state[low] = candidate
        result.append(state)
        prev = state
    return all_sessions, result


def _split_message(
    is_split: bool, held: bool, low: float, high: float, other: str,
    gap: float, usual_gap: float, threshold: float,
) -> str:
    """The sentence for a split-alliance state; each claim matches its evidence."""
    where = f"This client rates the alliance {_fmt(low)}, {_fmt(gap)} points below {other} ({_fmt(high)})"
    if is_split:
        return (
            f"{where}: the gap between them grew from a usual {_fmt(usual_gap)} by more than "
            f"the {_fmt(threshold)} points that noise explains."
        )
    if held:
        return f"{where}: the gap that opened recently has not closed (usually {_fmt(usual_gap)})."
    return f"{where}, a gap they have had from the start (usually {_fmt(usual_gap)})."


def _raise(
    pid: str,
    sessions: Sequence[int],
    states: Sequence[Mapping[str, _State | None]],
    kinds: Sequence[str],
) -> tuple[list[Finding], list[Finding]]:
    """Turn per-session states into raised findings (onsets, escalations) and active ones."""
    raised: list[Finding] = []
    active: list[Finding] = []
    for kind in kinds:
        episode_level = -1
        last: Finding | None = None
        current: _State | None = None
        for sn, state in zip(sessions, states, strict=True):
            current = state.get(kind)
            if current is None:
                episode_level = -1
                last = None
                continue
            if current.level > episode_level:
                episode_level = current.level
                last = Finding(
                    participant_id=pid,
                    session_number=sn,
                    kind=kind,
                    severity=SEVERITIES[current.level],
                    subscale=current.subscale,
                    evidence=current.evidence,
                    message=current.message,
                )
                raised.append(last)
        if current is not None and last is not None:
            active.append(last)
    return raised, active


def _sort_key(finding: Finding) -> tuple[int, str, int]:
    return (finding.session_number, finding.participant_id, KIND_ORDER[finding.kind])


def compute_risk(active: Sequence[Finding]) -> int:
    """Case risk 0–100 from the active findings: 1 − Π(1 − weight), weights by severity.

    Positive/informational kinds (ceiling, repaired rupture) add nothing; an empty list is 0.
    """
    keep = 1.0
    for finding in active:
        if finding.kind in POSITIVE_KINDS:
            continue
        keep *= 1.0 - RISK_WEIGHT[SEVERITY_RANK[finding.severity]]
    return int(round(100 * (1.0 - keep)))


def compute_case(
    participants: Mapping[str, Sequence[Observation]],
    settings: EngineSettings,
    labels: Mapping[str, str] | None = None,
) -> CaseResult:
    """Run every detector over one case (an individual, a couple or a family).

    ``participants`` maps participant id -> that participant's observations (sorted here by
    session number). The result is causal: findings at session k use observations up to k only.
    A case with one participant never yields split_alliance; split findings name the lower member.
    ``labels`` (participant id -> a name a therapist knows) words messages that mention another
    member; without it they use the id (as the replay does, whose ids are the clinic's own).
    """
    th = _thresholds(settings)
    tracks: dict[str, _Track] = {}
    findings: list[Finding] = []
    active: list[Finding] = []
    summaries: dict[str, ParticipantSummary] = {}
    own_kinds = [code for code in KIND_ORDER if code != KIND_SPLIT_ALLIANCE]
    for pid, observations in participants.items():
        ordered = sorted(observations, key=lambda o: o.session_number)
        track = _track_participant(pid, ordered, settings, th)
        tracks[pid] = track
        summaries[pid] = track.summary
        raised, still = _raise(pid, track.sessions, track.states, own_kinds)
        findings.extend(raised)
        active.extend(still)

    if len(tracks) >= 2:
        case_sessions, split = _split_states(tracks, settings, th, labels)
        for pid, track in tracks.items():
            # a participant's split state, evaluated only up to their own last session
            last = track.sessions[-1] if track.sessions else None
            per_pid = [
                {KIND_SPLIT_ALLIANCE: state.get(pid)}
                for sn, state in zip(case_sessions, split, strict=True)
                if last is not None and sn <= last
            ]
            sessions = [sn for sn in case_sessions if last is not None and sn <= last]
            raised, still = _raise(pid, sessions, per_pid, [KIND_SPLIT_ALLIANCE])
            findings.extend(raised)
            active.extend(still)

    findings.sort(key=_sort_key)
    active.sort(key=_sort_key)
    has_data = any(track.sessions for track in tracks.values())
    risk = compute_risk(active) if has_data else 0
    return CaseResult(findings=findings, active=active, summaries=summaries, risk_score=risk)
