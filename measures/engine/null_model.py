"""A null model of a clinic's own data: how its clients' checks go when nothing goes wrong.

The false-flag budget (measures.engine.budget) is kept on courses simulated from this model, so
every estimate is robust to the minority of clients who decline: levels are medians, noise comes
from trimmed mean squares of differences (a slide's or a rupture's big steps are trimmed away), and
a client's trailing no-shows (a dropout's signature, never a steady course's) are left out of the
attendance habits.

The model: subscale s of a client at session t is L_s + u(t) + e_s(t), clipped to the scale and
rounded as the data are. L is the client's usual level per subscale (a bootstrap of the clinic's
clients, each with its own attendance habits and course length), u a session state shared by the
subscales with carry-over rho (AR(1) over scheduled sessions), e_s subscale noise. Successive
differences identify the parts without centring on each client's mean (which biases short series):
for the total, V(k) = E[(T(t+k) − T(t))²]/2 = σ_u²(1 − ρ^k) + σ_e²/3, and the subscales' spread
around their total gives σ_e.
"""

from __future__ import annotations

import datetime
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .calibration import MIN_CHECKS, TRIM_SHARE, TRIMMED_CHI2_MEAN
from .data import EngineSettings, Observation

MIN_CLIENTS = 30  # as compute_calibration's minimum
RHO_RANGE = (0.0, 0.9)
CEILING_CLIENT = 0.2  # clients with more full marks than this tell little about the noise
LEVEL_CENSORED_MAX = 0.95  # a client always at full marks sits "somewhat" above the top
# Coarsest first: one answer step per scale range / k (0–10: 1, .5, 5/12, 1/3, .25, .2, 1/6, .1, .05, .01).
STEP_DIVISIONS = (10, 20, 24, 30, 40, 50, 60, 100, 200, 1000)
STEP_TOLERANCE = 0.0051  # files round to two decimals
START = datetime.date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class NullClient:
    """One client's habits as the null model replays them."""

    levels: tuple[float, float, float]  # usual level per subscale (censoring-corrected)
    no_show_rate: float
    skip_rate: float  # attended without a check
    length: int  # scheduled sessions, trailing no-shows left out


@dataclass(frozen=True, slots=True)
class NullModel:
    """A clinic's steady courses: who its clients are, how their checks vary, how they attend."""

    clients: tuple[NullClient, ...]
    state_sd: float  # σ_u, the session state shared by the subscales
    item_sd: float  # σ_e, subscale noise beyond answer rounding
    noise_sd: float  # within-person SD of the total, √(σ_u² + σ_e²/3) with rounding
    rho: float
    ceiling_share: float  # share of answered subscale scores at the scale's top
    no_show_share: float
    skip_share: float
    rupture_answer_share: float  # share of answered checks with a rupture answer
    gaps: tuple[int, ...]  # days between successive sessions
    step: float | None  # answer granularity, None when continuous
    scale: tuple[float, float]
    participants: int

    @property
    def typical_length(self) -> float:
        """Median scheduled course length."""
        return float(statistics.median(c.length for c in self.clients))


def _trimmed_variance(diffs: Sequence[float]) -> float | None:
    """Variance of a centred normal from the lowest TRIM_SHARE of its squares (calibration's rule)."""
    if len(diffs) < 10:
        return None
    squares = np.sort(np.square(np.asarray(diffs, dtype=float)))
    kept = squares[: max(1, int(len(squares) * TRIM_SHARE))]
    return float(kept.mean() / TRIMMED_CHI2_MEAN)


def estimate_step(values: Sequence[float], scale: tuple[float, float]) -> float | None:
    """The coarsest answer step that 99% of ``values`` sit on, None when they are continuous."""
    if not values:
        return None
    low, high = scale
    data = np.asarray(values, dtype=float) - low
    for k in STEP_DIVISIONS:
        step = (high - low) / k
        off = np.abs(data - np.rint(data / step) * step)
        if np.mean(off <= STEP_TOLERANCE) >= 0.99:
            return step
    return None


def _settled(observations: Sequence[Observation]) -> list[Observation]:
    """Non-pending sessions up to the last attended one (trailing no-shows are a leaving's)."""
    settled = [o for o in observations if not o.pending]
    while settled and not settled[-1].attended:
        settled.pop()
    return settled


def _scores(o: Observation) -> tuple[float, float, float] | None:
    if o.attended and o.goals is not None and o.tasks is not None and o.bond is not None:
        return (o.goals, o.tasks, o.bond)
    return None


@dataclass(slots=True)
class _Pooled:
    """What the fit gathers from every qualifying client."""

    lag1: list[float]
    lag2: list[float]
    spread_diffs: list[float]
    profiles: list[tuple[np.ndarray, int, int, int]]  # scores (k×3), scheduled, no-shows, skips
    gaps: list[int]
    ruptures: int = 0
    checks: int = 0


def _gather(series_list: Iterable[Sequence[Observation]], top: float) -> _Pooled:
    pooled = _Pooled([], [], [], [], [])
    for observations in series_list:
        settled = _settled(observations)
        scored = [(o.session_number, s) for o in settled if (s := _scores(o)) is not None]
        if len(scored) < MIN_CHECKS:
            continue
        scores = np.array([s for _, s in scored], dtype=float)
        no_shows = sum(1 for o in settled if not o.attended)
        skips = sum(1 for o in settled if o.attended and _scores(o) is None)
        pooled.profiles.append((scores, len(settled), no_shows, skips))
        pooled.checks += len(scored)
        pooled.ruptures += sum(1 for o in settled if _scores(o) and o.rupture is not None)
        dates = [o.session_date for o in settled]
        pooled.gaps.extend((b - a).days for a, b in zip(dates, dates[1:], strict=False) if b > a)
        if np.mean(scores >= top - 1e-9) > CEILING_CLIENT:
            continue  # mostly full marks: differences of zero are the scale's, not the client's
        _add_differences(pooled, [n for n, _ in scored], scores, top)
    return pooled


def _add_differences(pooled: _Pooled, sessions: list[int], scores: np.ndarray, top: float) -> None:
    totals = scores.mean(axis=1)
    spread = scores - totals[:, None]  # each subscale around its total
    at_top = np.all(scores >= top - 1e-9, axis=1)
    where = {n: i for i, n in enumerate(sessions)}
    for i, n in enumerate(sessions):
        for lag, out in ((1, pooled.lag1), (2, pooled.lag2)):
            j = where.get(n + lag)
            if j is not None and not (at_top[i] and at_top[j]):
                out.append(float(totals[j] - totals[i]))
        j = where.get(n + 1)
        if j is not None and not (at_top[i] or at_top[j]):
            pooled.spread_diffs.extend((spread[j] - spread[i]).tolist())


def _level(values: np.ndarray, top: float, sd: float) -> float:
    """A client's usual level on one subscale: the median, which full marks do not bias while
    under half of the answers are at the top; beyond that the level that many full marks imply."""
    share = float(np.mean(values >= top - 1e-9))
    if share < 0.5:
        return float(np.median(values))
    return top + sd * statistics.NormalDist().inv_cdf(min(share, LEVEL_CENSORED_MAX))


def _noise(pooled: _Pooled) -> tuple[float, float, float] | None:
    """(σ_u, σ_e including rounding, ρ) from the pooled differences, None if undetermined."""
    v1, v2 = _trimmed_variance(pooled.lag1), _trimmed_variance(pooled.lag2)
    spread = _trimmed_variance(pooled.spread_diffs)
    if v1 is None or spread is None:
        return None
    v1, item_var = v1 / 2.0, spread * 3.0 / 4.0  # Var(Δ(y_s − T)) = 2·(2/3)·σ_e²
    floor = item_var / 3.0
    state_part = max(v1 - floor, 1e-6)
    rho = 0.0
    if v2 is not None:
        rho = (v2 / 2.0 - v1) / state_part  # V2 − V1 = σ_u²(1−ρ)ρ, V1 − σ_e²/3 = σ_u²(1−ρ)
    rho = min(RHO_RANGE[1], max(RHO_RANGE[0], rho))
    state_sd = math.sqrt(state_part / (1.0 - rho))
    return state_sd, math.sqrt(item_var), rho


def fit_null_model(series_list: Iterable[Sequence[Observation]], settings: EngineSettings) -> NullModel | None:
    """Fit the null model to many participants' observations (pending checks count nowhere).

    Uses participants with at least 3 complete checks; returns None when fewer than 30 qualify or
    the noise cannot be estimated, so that the caller keeps its settings.
    """
    scale = (settings.scale_min, settings.scale_max)
    pooled = _gather(series_list, settings.scale_max)
    if len(pooled.profiles) < MIN_CLIENTS:
        return None
    answers = np.concatenate([scores.ravel() for scores, *_ in pooled.profiles])
    step = estimate_step(answers.tolist(), scale)
    noise = _noise(pooled)
    if noise is None:
        return None
    state_sd, item_sd, rho = noise
    rounding = 0.0 if step is None else step * step / 12.0  # Sheppard: the simulation rounds again
    marginal = math.sqrt(state_sd**2 + item_sd**2)
    clients = tuple(
        NullClient(
            levels=tuple(_level(scores[:, k], settings.scale_max, marginal) for k in range(3)),
            no_show_rate=no_shows / scheduled,
            skip_rate=skips / max(1, scheduled - no_shows),
            length=scheduled,
        )
        for scores, scheduled, no_shows, skips in pooled.profiles
    )
    scheduled = sum(p[1] for p in pooled.profiles)
    attended = scheduled - sum(p[2] for p in pooled.profiles)
    return NullModel(
        clients=clients,
        state_sd=round(state_sd, 4),
        item_sd=round(math.sqrt(max(item_sd**2 - rounding, 0.0)), 4),
        noise_sd=round(math.sqrt(state_sd**2 + item_sd**2 / 3.0), 4),
        rho=round(rho, 4),
        ceiling_share=round(float(np.mean(answers >= settings.scale_max - 1e-9)), 4),
        no_show_share=round(sum(p[2] for p in pooled.profiles) / scheduled, 4),
        skip_share=round(sum(p[3] for p in pooled.profiles) / max(1, attended), 4),
        rupture_answer_share=round(pooled.ruptures / max(1, pooled.checks), 4),
        gaps=tuple(pooled.gaps) or (7,),
        step=step,
        scale=scale,
        participants=len(clients),
    )


def _round(values: np.ndarray, model: NullModel) -> np.ndarray:
    low, high = model.scale
    if model.step is not None:
        values = low + np.rint((values - low) / model.step) * model.step
    return np.round(np.clip(values, low, high), 4)


def _null_course(model: NullModel, rng: np.random.Generator) -> list[Observation]:
    client = model.clients[int(rng.integers(len(model.clients)))]
    n = client.length
    states = np.empty(n)
    value = rng.normal(0.0, model.state_sd)
    innovation = model.state_sd * math.sqrt(1.0 - model.rho**2)
    for i in range(n):
        states[i] = value
        value = model.rho * value + rng.normal(0.0, innovation)
    latent = np.asarray(client.levels)[None, :] + states[:, None] + rng.normal(0, model.item_sd, (n, 3))
    scores = _round(latent, model)
    attended = rng.random(n) >= client.no_show_rate
    attended[-1] = True  # a steady course ends with a session
    answered = attended & (rng.random(n) >= client.skip_rate)
    gaps = rng.choice(np.asarray(model.gaps), size=n)
    day, out = START, []
    for i in range(n):
        values = scores[i].tolist() if answered[i] else [None, None, None]
        rupture = 0 if answered[i] and rng.random() < model.rupture_answer_share else None
        out.append(Observation(i + 1, day, bool(attended[i]), *values, rupture=rupture))
        day += datetime.timedelta(days=int(gaps[i]))
    return out


def simulate_null_courses(model: NullModel, n: int, seed: int) -> list[dict[str, list[Observation]]]:
    """``n`` steady single-participant courses drawn from ``model`` (deterministic for a seed):
    no decline, no rupture (an answered check says nothing felt off as often as the clinic's
    clients answer that question), the clinic's attendance habits and course lengths."""
    rng = np.random.default_rng(seed)
    return [{f"null-{i + 1}": _null_course(model, rng)} for i in range(n)]
