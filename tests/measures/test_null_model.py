"""The null model recovers how steady courses vary, and is not pulled by the few who decline."""

import dataclasses
import datetime
import statistics

import numpy as np
import pytest

from measures.engine import EngineSettings, Observation
from measures.engine.null_model import (
    NullClient,
    NullModel,
    estimate_step,
    fit_null_model,
    simulate_null_courses,
)

SETTINGS = EngineSettings()


def known_model(rho, state_sd, item_sd, step, clients=300, seed=1):
    """A model with known parameters: levels around 7.5, 5% no-shows, 8% skipped checks."""
    rng = np.random.default_rng(seed)
    people = tuple(
        NullClient(
            levels=tuple(float(v) for v in np.clip(rng.normal(7.5, 1.0) + rng.normal(0, 0.3, 3), 2, 9.5)),
            no_show_rate=0.05,
            skip_rate=0.08,
            length=int(rng.integers(8, 25)),
        )
        for _ in range(clients)
    )
    return NullModel(
        clients=people,
        state_sd=state_sd,
        item_sd=item_sd,
        noise_sd=0.0,
        rho=rho,
        ceiling_share=0.0,
        no_show_share=0.05,
        skip_share=0.08,
        rupture_answer_share=0.8,
        gaps=(7, 14),
        step=step,
        scale=(0.0, 10.0),
        participants=clients,
    )


def series_of(courses):
    return [observations for course in courses for observations in course.values()]


def declined(observations, loss, rng):
    """The same course with a slide of ``loss`` points over its last sessions, then two no-shows."""
    n = len(observations)
    start = int(rng.integers(max(2, n // 2), n - 1))
    out = []
    for o in observations:
        if o.session_number > start and o.goals is not None:
            cut = loss * min(1.0, (o.session_number - start) / 3)
            o = dataclasses.replace(
                o, goals=max(0.0, o.goals - cut), tasks=max(0.0, o.tasks - cut), bond=max(0.0, o.bond - cut)
            )
        out.append(o)
    last = out[-1]
    for k in (1, 2):
        out.append(
            Observation(
                last.session_number + k, last.session_date + datetime.timedelta(days=7 * k), False, None, None, None
            )
        )
    return out


@pytest.mark.parametrize(
    "rho, state_sd, item_sd, step",
    [(0.0, 0.5, 0.5, 0.1), (0.3, 0.5, 0.5, 0.5), (0.5, 0.6, 0.4, None), (0.6, 0.8, 0.5, 1.0)],
)
def test_it_recovers_known_noise_and_carry_over(rho, state_sd, item_sd, step):
    model = known_model(rho, state_sd, item_sd, step)
    fitted = fit_null_model(series_of(simulate_null_courses(model, 900, seed=2)), SETTINGS)
    assert fitted.rho == pytest.approx(rho, abs=0.1)  # its SE here is about 0.045
    assert fitted.state_sd == pytest.approx(state_sd, rel=0.12)
    assert fitted.item_sd == pytest.approx(item_sd, rel=0.1)
    assert fitted.no_show_share == pytest.approx(0.05, abs=0.015)
    assert fitted.skip_share == pytest.approx(0.08, abs=0.015)
    assert fitted.rupture_answer_share == pytest.approx(0.8, abs=0.03)
    if step is not None:
        assert fitted.step == pytest.approx(step)
    usual = statistics.median(statistics.mean(c.levels) for c in fitted.clients)
    assert usual == pytest.approx(7.5, abs=0.3)
    assert set(fitted.gaps) == {7, 14}


def test_declining_clients_barely_move_it():
    model = known_model(0.3, 0.5, 0.5, 0.5)
    steady = series_of(simulate_null_courses(model, 600, seed=4))
    rng = np.random.default_rng(5)
    decliners = [declined(s, float(rng.uniform(2.0, 4.0)), rng) for s in steady[:90] if len(s) >= 6]
    base = fit_null_model(steady, SETTINGS)
    mixed = fit_null_model(steady + decliners, SETTINGS)
    assert mixed.rho == pytest.approx(base.rho, abs=0.06)
    assert mixed.state_sd == pytest.approx(base.state_sd, rel=0.08)
    assert mixed.item_sd == pytest.approx(base.item_sd, rel=0.05)
    assert mixed.no_show_share == pytest.approx(base.no_show_share, abs=0.01)  # trailing no-shows left out


def test_full_marks_are_a_level_above_the_top_not_a_quiet_client():
    model = known_model(0.3, 0.5, 0.5, 0.5)
    ceiling = dataclasses.replace(
        model, clients=tuple(dataclasses.replace(c, levels=(10.8, 10.8, 10.8)) for c in model.clients[:100])
    )
    fitted = fit_null_model(
        series_of(simulate_null_courses(model, 300, 6) + simulate_null_courses(ceiling, 100, 7)), SETTINGS
    )
    assert fitted.state_sd == pytest.approx(0.5, rel=0.12)  # zero differences at the top are not noise
    assert fitted.ceiling_share > 0.1
    assert max(max(c.levels) for c in fitted.clients) > SETTINGS.scale_max
    again = fit_null_model(series_of(simulate_null_courses(fitted, 400, 8)), SETTINGS)
    assert again.ceiling_share == pytest.approx(fitted.ceiling_share, abs=0.05)


def test_simulated_courses_are_steady_clipped_and_rounded():
    courses = simulate_null_courses(known_model(0.6, 0.8, 0.5, 1.0), 50, seed=3)
    assert courses == simulate_null_courses(known_model(0.6, 0.8, 0.5, 1.0), 50, seed=3)
    for course in courses:
        (observations,) = course.values()
        assert observations[-1].attended
        assert [o.session_number for o in observations] == list(range(1, len(observations) + 1))
        for o in observations:
            assert o.rupture in (None, 0)
            for value in (o.goals, o.tasks, o.bond):
                assert value is None or (0 <= value <= 10 and value == int(value))


@pytest.mark.parametrize(
    "values, step",
    [
        ([1.0, 7.0, 10.0, 3.0], 1.0),
        ([7.5, 8.0, 6.5], 0.5),
        ([5.83, 7.08, 10.0, 4.17], 10 / 24),
        ([5.56, 7.22, 10.0, 3.89, 0.56], 10 / 18),  # three 1–7 items rescaled to 0–10
        ([7.3, 8.1, 9.9], 0.1),
        ([7.3612, 8.1207, 2.0049], None),
    ],
)
def test_it_estimates_the_answer_step(values, step):
    assert estimate_step(values, (0.0, 10.0)) == (None if step is None else pytest.approx(step))


def test_too_few_clients_fit_nothing():
    series = series_of(simulate_null_courses(known_model(0.3, 0.5, 0.5, 0.5), 29, seed=1))
    assert fit_null_model(series, SETTINGS) is None
    assert fit_null_model(series_of(simulate_null_courses(known_model(0.3, 0.5, 0.5, 0.5), 40, seed=1)), SETTINGS)


def test_couples_and_families_come_as_often_as_the_clinic_has_them():
    model = dataclasses.replace(known_model(0.3, 0.5, 0.5, 0.5), case_sizes=(1, 1, 2, 3))
    cases = simulate_null_courses(model, 400, seed=9)
    sizes = [len(case) for case in cases]
    assert set(sizes) == {1, 2, 3}
    assert statistics.mean(sizes) == pytest.approx(7 / 4, abs=0.1)
    for case in cases:
        schedules = {tuple((o.session_number, o.session_date, o.attended) for o in obs) for obs in case.values()}
        assert len(schedules) == 1  # members attend together
    series = series_of(simulate_null_courses(model, 200, seed=1))
    assert fit_null_model(series, SETTINGS, case_sizes=[1, 2, 2]).case_sizes == (1, 2, 2)
    assert fit_null_model(series, SETTINGS).case_sizes == (1,)


def copied(observations, share, rng):
    """The same course with each subscale's answer, ``share`` of the time, the previous check's."""
    out, previous = [], None
    for o in observations:
        if o.goals is not None and previous is not None:
            keep = rng.random(3) < share
            values = [p if k else v for p, v, k in zip((previous.goals, previous.tasks, previous.bond),
                                                       (o.goals, o.tasks, o.bond), keep, strict=True)]
            o = dataclasses.replace(o, goals=values[0], tasks=values[1], bond=values[2])
        out.append(o)
        previous = o if o.goals is not None else previous
    return out


def test_repeated_answers_do_not_pass_for_carry_over():
    model = known_model(0.3, 0.5, 0.5, 0.5)
    rng = np.random.default_rng(11)
    lazy = [copied(s, 0.25, rng) for s in series_of(simulate_null_courses(model, 600, seed=10))]
    fitted = fit_null_model(lazy, SETTINGS)
    # lag-1 differences alone, lowered by the copies, read as ρ near its cap
    assert fitted.rho < 0.75
    assert fitted.state_sd < 0.6


def kurtosis(values):
    values = np.asarray(values)
    return float(np.mean(values**4) / np.mean(values**2) ** 2)


def test_heavy_tailed_changes_give_heavy_tailed_shocks():
    gaussian = fit_null_model(series_of(simulate_null_courses(known_model(0.3, 0.5, 0.3, None), 500, 12)), SETTINGS)
    shocks = tuple(np.random.default_rng(13).standard_t(3, 400))
    heavy = dataclasses.replace(known_model(0.3, 0.5, 0.3, None), shapes=shocks)
    fitted = fit_null_model(series_of(simulate_null_courses(heavy, 500, 14)), SETTINGS)
    assert np.var(gaussian.shapes) == pytest.approx(1.0, abs=0.1)
    assert kurtosis(gaussian.shapes) == pytest.approx(3.0, abs=0.25)
    assert kurtosis(fitted.shapes) > 3.6
    # and the simulation draws its shocks from them: its changes are heavier-tailed than Gaussian ones
    again = fit_null_model(series_of(simulate_null_courses(fitted, 500, 15)), SETTINGS)
    assert kurtosis(again.shapes) > kurtosis(gaussian.shapes) + 0.1


def test_clustered_no_shows_are_simulated_as_clusters():
    model = dataclasses.replace(known_model(0.3, 0.5, 0.5, 0.5), no_show_persistence=0.4, skip_persistence=0.3)
    fitted = fit_null_model(series_of(simulate_null_courses(model, 800, seed=16)), SETTINGS)
    assert fitted.no_show_persistence == pytest.approx(0.4, abs=0.12)
    assert fitted.skip_persistence == pytest.approx(0.3, abs=0.12)
    assert fitted.no_show_share == pytest.approx(0.05, abs=0.015)  # clusters keep the rate
    plain = fit_null_model(series_of(simulate_null_courses(known_model(0.3, 0.5, 0.5, 0.5), 800, seed=16)), SETTINGS)
    assert plain.no_show_persistence < 0.1
    assert plain.skip_persistence < 0.1


def test_answers_repeated_from_the_check_before_are_repeated_as_often():
    model = known_model(0.3, 0.5, 0.5, 0.5)
    plain = fit_null_model(series_of(simulate_null_courses(model, 600, seed=19)), SETTINGS)
    assert plain.repeat_share < 0.03  # rounding's own repeats are not lazy answering
    rng = np.random.default_rng(20)
    lazy = [copied(s, 0.2, rng) for s in series_of(simulate_null_courses(model, 600, seed=19))]
    fitted = fit_null_model(lazy, SETTINGS)
    assert fitted.repeat_share == pytest.approx(0.2, abs=0.05)
    again = fit_null_model(series_of(simulate_null_courses(fitted, 600, seed=21)), SETTINGS)
    assert again.repeat_share > 0.1  # the simulation repeats answers too


def grown(observations, gain, over):
    """The same course with alliance growing by ``gain`` points over its first ``over`` sessions,
    then level (scores clipped to the scale)."""
    out = []
    for o in observations:
        if o.goals is not None:
            lift = gain * min(1.0, (o.session_number - 1) / over)
            o = dataclasses.replace(
                o, goals=min(10.0, o.goals + lift), tasks=min(10.0, o.tasks + lift), bond=min(10.0, o.bond + lift)
            )
        out.append(o)
    return out


def test_alliance_that_grows_and_levels_off_is_the_usual_course():
    model = known_model(0.3, 0.5, 0.5, None, clients=400)
    flat = fit_null_model(series_of(simulate_null_courses(model, 600, seed=22)), SETTINGS)
    assert max(abs(v) for v in flat.course) < 0.12  # a flat clinic's course is flat, within noise
    growing = [grown(s, 1.2, 6) for s in series_of(simulate_null_courses(model, 600, seed=22))]
    fitted = fit_null_model(growing, SETTINGS)
    assert fitted.course[6] - fitted.course[0] == pytest.approx(1.2, abs=0.25)  # rises over six sessions
    assert abs(fitted.course[14] - fitted.course[8]) < 0.15  # then level
    # and the simulation follows it: its courses grow as the clinic's do
    again = fit_null_model(series_of(simulate_null_courses(fitted, 600, seed=23)), SETTINGS)
    assert again.course[6] - again.course[0] == pytest.approx(1.2, abs=0.3)
