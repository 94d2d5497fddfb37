"""Where the null model's promise and a cohort's completers part: rule by rule, and in the tails.

Run: .venv/bin/python bench/null_fit.py [--generators sim,robust,third] [--budget 8] [--replicate 0]
        [--scenarios name,name] [--participants 1500]
No database. Prints figures; never passes or fails on them (DESIGN.md, bench/).

The budget is kept on courses simulated from the clinic's null model (measures.engine.null_model,
measures.engine.budget); the issue's band is judged on the cohort's rupture-free completers. When
the two shares differ, this bench says where: per scenario it calibrates as replay does, then at
the chosen strictness prints, for each kind of flag, the share of rupture-free completers whose case
has a flag of that kind beside the share of simulated steady clients (a case's flag counts for each
member, as the budget counts it; a case with flags of two kinds counts under both), the null model's
fitted parts, and the quantiles of the change of total between successive checks (clients rarely
at full marks) for the completers and for the simulated courses, which show whether the simulated
noise is as heavy-tailed as the data's.

What it showed on the usual cohorts at 8% (replicate 0, before one subscale's slide counted as a sustained
decline): on the simulator and the independent
generator the null model over-counts reliable drops and low scores a little (robust two-items: drops
1.0% of completers against 3.0% of null clients, low scores 0.9 against 2.1) and under-counts
splits (1.8 against 0.3): the completers' rate lands 1.5–2.5 points under the budget. On the third
generator the null model reads the carry-over too high (0.60–0.64 on the weekly scenarios against
about 0.5; 0.82 on noisy-short-gaps against about 0.72) and, on the weekly scenarios, its changes'
tails too light (the completers' 0.5% quantile of the change is −1.85 to −2.03 points, the null's
−1.59 to −1.67; their SD 0.64–0.67 against 0.57–0.58; on noisy-short-gaps they agree). Corrected one
at a time, by reading the same parts back from the model's own courses (carry-over), or by scaling
the shocks' tails until the simulated changes' quantiles meet the data's (tails), each moves the
rate the wrong way on some scenario: with both, noisy-short-gaps came into the band (5.1 → 7.6%),
but families-of-five (8.0 → 12.6%) and one-subscale-erosion (11.7 → 13.8%) rose out of it, their
completers flagged for reliable drops (5.1 and 5.9% against the null's 1.9 and 4.2), low scores and
lapses after them; a per-client noise scale (lognormal, its spread read against a pilot) and a
per-client size of the usual course did not close that. The over-read carry-over stands in for parts
the null model does not yet draw, which is why none of these was kept.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from early_warning import FLAG_SEVERITIES, band, cohorts  # noqa: E402

from measures.engine import compute_case  # noqa: E402
from measures.engine.budget import at_strictness, calibrate_strictness  # noqa: E402
from measures.engine.null_model import _profile, fit_null_model, simulate_null_courses  # noqa: E402
from measures.simulation import OUTCOME_COMPLETED  # noqa: E402

NULL_COURSES = 1000  # as the budget's calibration simulates
QUANTILES = (0.005, 0.02, 0.1, 0.9, 0.98)


def kinds_flagged(cases, settings) -> tuple[int, int, Counter]:
    """(clients, clients of flagged cases, clients per kind of flag) over ``cases``, given as
    (participants, clients counted) pairs."""
    clients = flagged = 0
    per_kind: Counter = Counter()
    for participants, weight in cases:
        kinds = {f.kind for f in compute_case(participants, settings).findings if f.severity in FLAG_SEVERITIES}
        clients += weight
        flagged += weight * bool(kinds)
        for kind in kinds:
            per_kind[kind] += weight
    return clients, flagged, per_kind


def changes(series_list, top: float) -> np.ndarray:
    """Changes of total between successive checks of clients rarely at full marks."""
    out: list[float] = []
    for observations in series_list:
        profile = _profile(observations, top)
        if profile is not None and not profile.is_ceiling:
            out.extend(profile.lags[0])
    return np.asarray(out)


def report(cohort, budget: float) -> tuple[float, float] | None:
    series = [obs for case in cohort.cases for obs in case.participants.values()]
    sizes = [len(case.participants) for case in cohort.cases]
    model = fit_null_model(series, cohort.settings, case_sizes=sizes)
    fit = calibrate_strictness(series, cohort.settings, budget, case_sizes=sizes)
    name = f"{cohort.generator} / {cohort.scenario}"
    if model is None or fit is None:
        print(f"{name}: too few clients for a null model")
        return None
    settings = at_strictness(cohort.settings, fit.strictness)
    completers = [
        (case.participants, sum(1 for t in case.truth.values() if t.outcome == OUTCOME_COMPLETED and t.is_rupture_free))
        for case in cohort.cases
    ]
    completers = [(p, k) for p, k in completers if k]
    null = [(course, len(course)) for course in simulate_null_courses(model, NULL_COURSES, seed=0)]
    n_real, f_real, k_real = kinds_flagged(completers, settings)
    n_null, f_null, k_null = kinds_flagged(null, settings)
    real, simulated = f_real / max(1, n_real), f_null / max(1, n_null)
    low, high = band(budget)
    mark = "" if low - 1e-9 <= real <= high + 1e-9 else "  (outside the band)"
    print(
        f"{name}: s = {fit.strictness:g}; completers flagged {real:.1%}, null clients {simulated:.1%}{mark}\n"
        f"    null model: carry-over {model.rho:g}, state SD {model.state_sd:g}, subscale SD {model.item_sd:g}, "
        f"repeats {model.repeat_share:g}, no-show clustering {model.no_show_persistence:g}"
    )
    for kind in sorted(set(k_real) | set(k_null)):
        shares = k_real[kind] / max(1, n_real), k_null[kind] / max(1, n_null)
        print(f"    {kind:<20} completers {shares[0]:6.1%}   null {shares[1]:6.1%}")
    top = cohort.settings.scale_max
    clean = [obs for participants, _k in completers for obs in participants.values()]
    simulated_series = [obs for course, _k in null for obs in course.values()]
    for label, values in (("completers", changes(clean, top)), ("null", changes(simulated_series, top))):
        if len(values):
            cells = " ".join(f"{q:+.2f}" for q in np.quantile(values, QUANTILES))
            print(f"    change between checks, {label:<10} SD {values.std():.2f}; quantiles {QUANTILES}: {cells}")
    return real, simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="sim,robust,third")
    parser.add_argument("--participants", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--budget", type=float, default=8, help="percent")
    parser.add_argument("--replicate", type=int, default=0, help="as bench/budget_band.py draws them")
    parser.add_argument("--scenarios", default="", help="comma-separated names; default all")
    args = parser.parse_args()
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    chosen = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    gaps = []
    for cohort in cohorts(generators, args.participants, args.seed, replicate=args.replicate):
        if chosen and cohort.scenario not in chosen:
            continue
        if (shares := report(cohort, args.budget / 100)) is not None:
            gaps.append(shares[0] - shares[1])
    if gaps:
        rms = float(np.sqrt(np.mean(np.square(gaps))))
        print(f"completers' rate minus the null's over {len(gaps)} scenarios: mean {np.mean(gaps):+.1%}, RMS {rms:.1%}")


if __name__ == "__main__":
    main()
