"""A null model of a clinic's own data: how its clients' checks go when nothing goes wrong.

The false-flag budget (measures.engine.budget) is kept on courses simulated from this model, so
every estimate is robust to the minority of clients who decline: levels are medians, noise comes
from trimmed mean squares of differences (a slide's or a rupture's big steps are trimmed away), and
a client's trailing no-shows (a dropout's signature, never a steady course's) are left out of the
attendance habits.

The model: subscale s of a client at session t is L_s + c(t) + u(t) + e_s(t), clipped to the scale
and rounded as the data are. L is the client's usual level per subscale (a bootstrap of the clinic's
clients, each with its own attendance habits and course length), c the clinic's usual course (how far
its steady clients' totals sit from their own usual level, session by session: alliance that grows
early and levels off), u a session state shared by the subscales with carry-over rho (AR(1) over
scheduled sessions), e_s subscale noise. Successive
differences identify the parts without centring on each client's mean (which biases short series):
for the total, V(k) = E[(T(t+k) − T(t))²]/2 = σ_u²(1 − ρ^k) + σ_e²/3, fitted over k = 1 … LAGS,
and the subscales' spread around their total gives σ_e. The state's shocks have the shape of the
clinic's standardized changes, and no-shows and skipped checks cluster as the clinic's do.
"""

from __future__ import annotations

import dataclasses
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
DIP_SINGLE = 4.0  # SDs of a steady total below the usual level: a dip, not noise
DIP_PAIR = 3.2  # ... for the mean of two checks in a row
SCREENINGS = 2
NEAR_TOP = 2.0  # noise is read from clients this many SDs below the top
PRIOR_MAX = 1e6  # a Beta prior this heavy is the clinic's rate for everyone
LEVEL_CENSORED_MAX = 0.95  # a client always at full marks sits "somewhat" above the top
# Coarsest first: one answer step per scale range / k (any k up to 200: three 1–7 items make 18), then .01.
STEP_DIVISIONS = (*range(1, 201), 1000)
SHAPES = 200  # quantiles kept of the standardized changes
PERSISTENCE_MAX = 0.8
PILOT_COURSES = 300  # steady cases simulated to see how often rounding alone repeats an answer
REPEAT_MAX = 0.5
LAGS = 6  # the carry-over is read from differences up to this many sessions apart
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
    participants: int  # clients with 3+ checks; ``clients`` holds those without a dip or a slide
    case_sizes: tuple[int, ...] = (1,)  # participants per case, one entry per case of the clinic
    shapes: tuple[float, ...] = ()  # standardized session-to-session changes; () draws Gaussian shocks
    course: tuple[float, ...] = ()  # the usual course: mean distance from the usual level by session; () flat
    repeat_share: float = 0.0  # chance a subscale's answer is the previous check's, beyond rounding's
    no_show_persistence: float = 0.0  # lag-1 correlation of a client's no-shows (they cluster)
    skip_persistence: float = 0.0  # ... of a client's skipped checks, over attended sessions

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
    # the distinct values and their counts: a file has few, however many answers it holds
    data, counts = np.unique(np.round(np.asarray(values, dtype=float) - low, 6), return_counts=True)
    for k in STEP_DIVISIONS:
        step = (high - low) / k
        off = np.abs(data - np.rint(data / step) * step)
        if counts[off <= min(STEP_TOLERANCE, step / 4)].sum() >= 0.99 * counts.sum():
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


@dataclass(frozen=True, slots=True)
class _Profile:
    """One qualifying client's checks and attendance as read from the data, and the figures the
    fit needs from them (computed once: the fit screens and re-reads the clients)."""

    rows: list[tuple[float, float, float]]  # the complete checks' subscale scores
    scheduled: int
    no_shows: int
    missed: tuple[bool, ...]  # no-show or not, per settled session but the last (attended by construction)
    skipped: tuple[bool, ...]  # without a complete check or not, per attended session
    skips: int
    ruptures: int  # complete checks with a rupture answer
    usual: float  # median total
    opening: float  # median total of the first half: the level a dip falls from
    dip: float  # largest fall of one total below the opening level
    dip_pair: float  # ... of the mean of two totals in a row
    is_ceiling: bool  # more than CEILING_CLIENT of the answers at full marks
    medians: list[float]  # per subscale
    top_shares: list[float]  # per subscale, answers at full marks
    lags: tuple[list[float], ...]  # differences of totals 1 … LAGS sessions apart (not both at full marks)
    spread: list[float]  # lag-1 differences of each subscale's distance from its total
    course: tuple[tuple[int, float], ...]  # (sessions since the first, total − usual) per complete check


def _lagged(sessions: list[int], rows: list[tuple], totals: list[float], top: float) -> tuple[tuple, list]:
    distance = [[v - t for v in row] for row, t in zip(rows, totals, strict=True)]
    at_top = [min(row) >= top - 1e-9 for row in rows]
    where = {n: i for i, n in enumerate(sessions)}
    lags, spread = tuple([] for _ in range(LAGS)), []
    for i, n in enumerate(sessions):
        for lag, out in enumerate(lags, start=1):
            j = where.get(n + lag)
            if j is not None and not (at_top[i] and at_top[j]):
                out.append(totals[j] - totals[i])
        j = where.get(n + 1)
        if j is not None and not (at_top[i] or at_top[j]):
            spread.extend(b - a for a, b in zip(distance[i], distance[j], strict=True))
    return lags, spread


def _profile(observations: Sequence[Observation], top: float) -> _Profile | None:
    # plain Python: NumPy's overhead on a dozen numbers is most of the fit's time
    settled = _settled(observations)
    scored = [(o, s) for o in settled if (s := _scores(o)) is not None]
    if len(scored) < MIN_CHECKS:
        return None
    rows = [s for _, s in scored]
    totals = [(g + t + b) / 3.0 for g, t, b in rows]
    opening = statistics.median(totals[: max(MIN_CHECKS, (len(totals) + 1) // 2)])
    columns = list(zip(*rows, strict=True))
    top_shares = [sum(v >= top - 1e-9 for v in column) / len(rows) for column in columns]
    sessions = [o.session_number for o, _ in scored]
    lags, spread = _lagged(sessions, rows, totals, top)
    usual = statistics.median(totals)
    first = settled[0].session_number
    return _Profile(
        rows=rows,
        scheduled=len(settled),
        no_shows=sum(1 for o in settled if not o.attended),
        missed=tuple(not o.attended for o in settled[:-1]),
        skipped=tuple(_scores(o) is None for o in settled if o.attended),
        skips=sum(1 for o in settled if o.attended and _scores(o) is None),
        ruptures=sum(1 for o, _ in scored if o.rupture is not None),
        usual=usual,
        opening=opening,
        dip=opening - min(totals),
        dip_pair=opening - min((a + b) / 2.0 for a, b in zip(totals, totals[1:], strict=False)),
        is_ceiling=sum(top_shares) / 3.0 > CEILING_CLIENT,
        medians=[statistics.median(column) for column in columns],
        top_shares=top_shares,
        lags=lags,
        spread=spread,
        course=tuple((n - first, t - usual) for n, t in zip(sessions, totals, strict=True)),
    )


def _gaps(observations: Sequence[Observation]) -> list[int]:
    dates = [o.session_date for o in _settled(observations)]
    return [(b - a).days for a, b in zip(dates, dates[1:], strict=False) if b > a]


def _differences(profiles: Sequence[_Profile]) -> tuple[tuple, list]:
    """The pooled differences of clients rarely at full marks (the differences of full marks
    are the scale's, not the client's)."""
    lags: tuple[list[float], ...] = tuple([] for _ in range(LAGS))
    spread: list[float] = []
    for p in profiles:
        if not p.is_ceiling:
            for pooled, own in zip(lags, p.lags, strict=True):
                pooled.extend(own)
            spread.extend(p.spread)
    return lags, spread


def _level(median: float, share: float, top: float, sd: float) -> float:
    """A client's usual level on one subscale: the median, which full marks do not bias while
    under half of the answers (``share``) are at the top; beyond that the level that many full
    marks imply."""
    if share < 0.5:
        return median
    return top + sd * statistics.NormalDist().inv_cdf(min(share, LEVEL_CENSORED_MAX))


def _components(lags, spread_diffs) -> tuple[float, float, float] | None:
    """(σ_u, σ_e including rounding, ρ) from pooled differences, None if undetermined: σ_e from
    the subscales' spread, then σ_u² and ρ by weighted least squares of the variogram V(k) −
    σ_e²/3 = σ_u²(1 − ρ^k) over k = 1 … LAGS (ρ on a grid). Two lags alone let a lag-1 variance
    lowered by repeated answers pass for strong carry-over."""
    spread = _trimmed_variance(spread_diffs)
    found = [(k, v, len(d)) for k, d in enumerate(lags, start=1) if (v := _trimmed_variance(d)) is not None]
    if spread is None or not found or found[0][0] != 1:
        return None
    item_var = spread * 3.0 / 4.0  # Var(Δ(y_s − T)) = 2·(2/3)·σ_e²
    k, v, n = (np.array(column, dtype=float) for column in zip(*found, strict=True))
    excess = v / 2.0 - item_var / 3.0
    weight = n / np.square(v)  # a variance's sampling variance is about 2V²/n
    best = (math.inf, 1e-6, 0.0)
    for rho in np.arange(RHO_RANGE[0], RHO_RANGE[1] + 1e-9, 0.01):
        shape = 1.0 - rho**k
        part = max(float(np.sum(weight * shape * excess) / np.sum(weight * shape * shape)), 1e-6)
        loss = float(np.sum(weight * np.square(excess - part * shape)))
        best = min(best, (loss, part, float(rho)))
    _loss, state_var, rho = best
    return math.sqrt(state_var), math.sqrt(item_var), rho


def _has_dip(profile: _Profile, noise: tuple[float, float, float]) -> bool:
    """True when the client's totals fall from their first half's median further than steady
    noise plausibly takes them (one check by DIP_SINGLE SDs or two in a row by DIP_PAIR): a
    rupture or a slide, which would pass for noise and carry-over."""
    state_sd, item_sd, _rho = noise
    sd = math.sqrt(state_sd**2 + item_sd**2 / 3.0)
    return profile.dip > DIP_SINGLE * sd or profile.dip_pair > DIP_PAIR * sd


def _steady(profiles: Sequence[_Profile], top: float) -> tuple[list[_Profile], tuple, list[_Profile]] | None:
    """The clients without a dip or a slide, the noise components read from them (from those
    whose usual level sits NEAR_TOP SDs below the top when 30 do, where clipping does not shrink
    the differences), and those clients. Screened twice: the first noise, from everyone, is too
    wide."""
    noise = _components(*_differences(profiles))
    if noise is None:
        return None
    steady = read_from = list(profiles)
    for _round in range(SCREENINGS):
        kept = [p for p in profiles if not _has_dip(p, noise)]
        if len(kept) < MIN_CLIENTS:
            break
        steady = kept
        bound = top - NEAR_TOP * math.hypot(noise[0], noise[1])
        calm = [p for p in steady if p.usual <= bound]
        chosen = calm if len(calm) >= MIN_CLIENTS else steady
        if (found := _components(*_differences(chosen))) is not None:
            noise, read_from = found, chosen
    return steady, noise, read_from


def _shapes(lag1: Sequence[float]) -> tuple[float, ...]:
    """The shape of the clinic's session-to-session changes: SHAPES quantiles of its lag-1
    differences in units of their trimmed SD. Gaussian changes give unit variance; heavy tails
    give more, and the simulation's shocks, drawn from these, carry them."""
    scale = math.sqrt(_trimmed_variance(lag1) or 0.0)
    if scale <= 0.0:
        return ()
    z = np.asarray(lag1, dtype=float) / scale
    quantiles = np.quantile(z - np.median(z), (np.arange(SHAPES) + 0.5) / SHAPES)
    return tuple(round(float(q), 4) for q in quantiles)


def _course_shape(profiles: Sequence[_Profile]) -> tuple[float, ...]:
    """The clinic's usual course: session by session since a client's first, the mean distance of
    a steady client's total from their own usual level (clients rarely at full marks; the session
    on which fewer than MIN_CLIENTS of them have a check ends it, and the simulation holds its last
    value). Alliance that grows over the first sessions and levels off makes it rise and flatten; a
    clinic whose steady clients drift down makes it fall. Not smoothed: smoothing flattens a rise
    where it starts. () when it is under two sessions long."""
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for p in profiles:
        if not p.is_ceiling:
            for k, distance in p.course:
                sums[k] = sums.get(k, 0.0) + distance
                counts[k] = counts.get(k, 0) + 1
    means = []
    while counts.get(len(means), 0) >= MIN_CLIENTS:
        means.append(sums[len(means)] / counts[len(means)])
    return tuple(round(v, 4) for v in means) if len(means) >= 2 else ()


def _shrunk_rates(events: Sequence[int], trials: Sequence[int]) -> list[float]:
    """Each client's rate, shrunk towards the clinic's by a Beta prior whose weight is estimated
    by moments: a few sessions make an extreme rate by chance, which is not a habit."""
    n = np.maximum(np.asarray(trials, dtype=float), 1.0)
    k = np.asarray(events, dtype=float)
    pooled = float(k.sum() / n.sum())
    rates = k / n
    if pooled <= 0.0 or pooled >= 1.0:
        return rates.tolist()
    between = float(np.var(rates) - np.mean(pooled * (1.0 - pooled) / n))
    weight = PRIOR_MAX if between <= 0 else min(PRIOR_MAX, max(1.0, pooled * (1 - pooled) / between - 1))
    return ((k + weight * pooled) / (n + weight)).tolist()


def _persistence(sequences: Sequence[tuple[bool, ...]]) -> float:
    """The lag-1 correlation φ of events within a client (no-shows that come in clusters), by
    moments against what chance gives each client's own count: k events among m sessions in a
    random order are side by side k(k − 1)/m times on average, and a chain with share p and
    correlation φ adds about (m − 1)·φ·p(1 − p)."""
    together = expected = spread = 0.0
    for events in sequences:
        m, k = len(events), sum(events)
        if m < 2:
            continue
        together += sum(a and b for a, b in zip(events, events[1:], strict=False))
        expected += k * (k - 1) / m
        spread += (m - 1) * (k / m) * (1.0 - k / m)
    if spread <= 0.0:
        return 0.0
    return round(min(PERSISTENCE_MAX, max(0.0, (together - expected) / spread)), 4)


def _events(n: int, rate: float, persistence: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` events of a two-state Markov chain with share ``rate`` and lag-1 correlation
    ``persistence`` (independent draws at 0)."""
    draws = rng.random(n)
    if persistence <= 0.0:
        return draws < rate
    after = (rate * (1.0 - persistence), rate + persistence * (1.0 - rate))  # after none / after one
    out = np.empty(n, dtype=bool)
    state = False
    for i in range(n):
        state = bool(draws[i] < (rate if i == 0 else after[state]))
        out[i] = state
    return out


def _levels(profiles: Sequence[_Profile], top: float, noise: tuple[float, float, float]) -> np.ndarray:
    """Every client's usual level per subscale (clients × 3), each median shrunk towards the
    clinic's by its reliability: a median of a few noisy checks spreads the clients wider than
    they are, and a too-wide spread would put too few steady clients near the cutoff."""
    state_sd, item_sd, rho = noise
    marginal = math.hypot(state_sd, item_sd)
    raw = np.array(
        [[_level(m, f, top, marginal) for m, f in zip(p.medians, p.top_shares, strict=True)] for p in profiles]
    )
    # the variance of a mean of k checks with AR(1) states (about), per client
    error = (state_sd**2 * (1 + rho) / (1 - rho) + item_sd**2) / np.array([len(p.rows) for p in profiles])
    plain = raw.max(axis=1) <= top  # censored levels are already a model's, not a median
    if plain.sum() < MIN_CHECKS:
        return raw
    centre = np.median(raw[plain], axis=0)
    between = np.maximum(raw[plain].var(axis=0) - error[plain].mean(), 1e-6)
    factor = between[None, :] / (between[None, :] + error[:, None])
    return np.where(plain[:, None], centre + factor * (raw - centre), raw)


def _clients(profiles: Sequence[_Profile], top: float, noise: tuple[float, float, float]) -> tuple[NullClient, ...]:
    attended = [p.scheduled - p.no_shows for p in profiles]
    # the last session is attended by construction (_settled), in the data as in the simulation
    no_show = _shrunk_rates([p.no_shows for p in profiles], [p.scheduled - 1 for p in profiles])
    skip = _shrunk_rates([p.skips for p in profiles], attended)
    levels = _levels(profiles, top, noise)
    return tuple(
        NullClient(
            levels=tuple(float(v) for v in levels[i]),
            no_show_rate=no_show[i],
            skip_rate=skip[i],
            length=p.scheduled,
        )
        for i, p in enumerate(profiles)
    )


def fit_null_model(
    series_list: Iterable[Sequence[Observation]],
    settings: EngineSettings,
    *,
    case_sizes: Sequence[int] | None = None,
) -> NullModel | None:
    """Fit the null model to many participants' observations (pending checks count nowhere).

    Uses participants with at least 3 complete checks; returns None when fewer than 30 qualify or
    the noise cannot be estimated, so that the caller keeps its settings. ``case_sizes`` (the
    number of participants of each of the clinic's cases) lets the simulation make couples and
    families as often as the clinic has them; without it every simulated case is one client.
    """
    scale, top = (settings.scale_min, settings.scale_max), settings.scale_max
    profiles, gaps = [], []
    for observations in series_list:
        if (profile := _profile(observations, top)) is not None:
            profiles.append(profile)
            gaps.extend(_gaps(observations))
    if len(profiles) < MIN_CLIENTS or (screened := _steady(profiles, top)) is None:
        return None
    qualifying = len(profiles)
    profiles, noise, read_from = screened
    state_sd, item_sd, rho = noise
    answers = np.array([v for p in profiles for row in p.rows for v in row])
    step = estimate_step(answers.tolist(), scale)
    rounding = 0.0 if step is None else step * step / 12.0  # Sheppard: the simulation rounds again
    scheduled = sum(p.scheduled for p in profiles)
    no_shows = sum(p.no_shows for p in profiles)
    clients = _clients(profiles, top, noise)
    model = NullModel(
        clients=clients,
        state_sd=round(state_sd, 4),
        item_sd=round(math.sqrt(max(item_sd**2 - rounding, 0.0)), 4),
        noise_sd=round(math.sqrt(state_sd**2 + item_sd**2 / 3.0), 4),
        rho=round(rho, 4),
        ceiling_share=round(float(np.mean(answers >= top - 1e-9)), 4),
        no_show_share=round(no_shows / max(1, scheduled - len(profiles)), 4),
        skip_share=round(sum(p.skips for p in profiles) / max(1, scheduled - no_shows), 4),
        rupture_answer_share=round(sum(p.ruptures for p in profiles) / len(answers) * 3, 4),
        gaps=tuple(gaps) or (7,),
        step=step,
        scale=scale,
        participants=qualifying,
        case_sizes=tuple(int(k) for k in case_sizes or () if k >= 1) or (1,),
        shapes=_shapes(_differences(read_from)[0][0]),
        course=_course_shape(profiles),
        no_show_persistence=_persistence([p.missed for p in profiles]),
        skip_persistence=_persistence([p.skipped for p in profiles]),
    )
    return _with_repeats(model, profiles, top)


def _round(values: np.ndarray, model: NullModel) -> np.ndarray:
    low, high = model.scale
    if model.step is not None:
        values = low + np.rint((values - low) / model.step) * model.step
    return np.round(np.clip(values, low, high), 4)


def _schedule(
    client: NullClient, rng: np.random.Generator, gaps: np.ndarray, persistence: float
) -> tuple[list[bool], list[int]]:
    """Which of the client's sessions were attended (the last one always: a steady course ends
    with a session) and their days from the first."""
    n = client.length
    attended = ~_events(n, client.no_show_rate, persistence, rng)
    attended[-1] = True
    days = np.concatenate([[0], np.cumsum(rng.choice(gaps, size=n - 1))]).tolist()
    return attended.tolist(), days


def _standard(model: NullModel, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` shocks of the clinic's shape (standard normal when the model has none)."""
    if not model.shapes:
        return rng.normal(0.0, 1.0, n)
    return np.asarray(model.shapes)[rng.integers(len(model.shapes), size=n)]


def _course(model: NullModel, n: int) -> np.ndarray:
    """The clinic's usual course over ``n`` sessions (its last value held beyond its end), less its
    median there: a client's level is the median of their own course."""
    if not model.course:
        return np.zeros(n)
    shape = np.asarray(model.course)[np.minimum(np.arange(n), len(model.course) - 1)]
    return shape - np.median(shape)


def _member(
    model: NullModel, client: NullClient, rng: np.random.Generator, attended: list[bool], days: list[int]
) -> list[Observation]:
    n = len(attended)
    shocks = (_standard(model, rng, n) * model.state_sd * math.sqrt(1.0 - model.rho**2)).tolist()
    value, states = float(rng.normal(0.0, model.state_sd)), []
    for shock in shocks:
        states.append(value)
        value = model.rho * value + shock
    latent = np.asarray(client.levels)[None, :] + (np.asarray(states) + _course(model, n))[:, None]
    scores = _round(latent + rng.normal(0, model.item_sd, (n, 3)), model)
    present = np.asarray(attended)
    answered = present.copy()
    answered[present] = ~_events(int(present.sum()), client.skip_rate, model.skip_persistence, rng)
    if model.repeat_share > 0:  # an answer as given at the check before (lazy answering)
        asked = np.flatnonzero(answered)
        copies = rng.random((len(asked), 3)) < model.repeat_share
        for k in range(1, len(asked)):
            scores[asked[k], copies[k]] = scores[asked[k - 1], copies[k]]
    scores, answered = scores.tolist(), answered.tolist()
    says = (rng.random(n) < model.rupture_answer_share).tolist()
    return [
        Observation(
            i + 1,
            START + datetime.timedelta(days=int(days[i])),
            attended[i],
            *(scores[i] if answered[i] else (None, None, None)),
            rupture=0 if answered[i] and says[i] else None,
        )
        for i in range(n)
    ]


def _null_case(model: NullModel, rng: np.random.Generator, gaps: np.ndarray, name: str) -> dict[str, list[Observation]]:
    """One steady case of the clinic's usual size: members attend together (the first one's
    schedule and course length), each with their own level, noise and checks."""
    size = int(model.case_sizes[int(rng.integers(len(model.case_sizes)))])
    members = [model.clients[int(rng.integers(len(model.clients)))] for _ in range(size)]
    attended, days = _schedule(members[0], rng, gaps, model.no_show_persistence)
    return {
        (name if size == 1 else f"{name}-{k + 1}"): _member(model, c, rng, attended, days)
        for k, c in enumerate(members)
    }


def _repeats(courses: Iterable[Sequence[tuple[float, float, float]]], top: float) -> float:
    """Share of subscale answers equal to the same subscale's at the check before (pairs both at
    full marks left out: the scale, not the client, repeats those)."""
    same = total = 0
    for rows in courses:
        for a, b in zip(rows, rows[1:], strict=False):
            for x, y in zip(a, b, strict=True):
                if x < top - 1e-9 or y < top - 1e-9:
                    same += x == y
                    total += 1
    return same / total if total else 0.0


def _with_repeats(model: NullModel, profiles: Sequence[_Profile], top: float) -> NullModel:
    """``model`` with the repeat share that makes its courses repeat answers as often as the
    clients do (read against a pilot simulation without repeats: rounding repeats some)."""
    observed = _repeats((p.rows for p in profiles), top)
    pilot = simulate_null_courses(model, PILOT_COURSES, seed=0)
    simulated = _repeats(([_scores(o) for o in obs if _scores(o)] for c in pilot for obs in c.values()), top)
    if simulated >= 1.0:
        return model
    share = min(REPEAT_MAX, max(0.0, (observed - simulated) / (1.0 - simulated)))
    return dataclasses.replace(model, repeat_share=round(share, 4))


def simulate_null_courses(model: NullModel, n: int, seed: int) -> list[dict[str, list[Observation]]]:
    """``n`` steady cases drawn from ``model`` (deterministic for a seed): single clients, or
    couples and families as often as the clinic has them (model.case_sizes); no decline, no
    rupture (an answered check says nothing felt off as often as the clinic's clients answer
    that question), the clinic's attendance habits and course lengths."""
    rng = np.random.default_rng(seed)
    gaps = np.asarray(model.gaps)
    return [_null_case(model, rng, gaps, f"null-{i + 1}") for i in range(n)]
