"""The third yardstick generator (bench/third_generator.py): deterministic, shaped as the issue
asks (families up to five, courses of 25–40, a heavy ceiling), with its outcomes labelled."""

import io

from bench.third_generator import (
    COLUMNS,
    COMPLETED,
    DROPOUT,
    EXTERNAL,
    SCENARIOS_BY_NAME,
    full_mark_share,
    generate,
    write_csv,
)
from measures.engine import EngineSettings
from measures.engine.replay import read_replay


def _rows(records):
    return [(r.client_id, r.truth, r.rows) for r in records]


def test_it_is_deterministic_for_a_seed():
    sc = SCENARIOS_BY_NAME["noisy-short-gaps"]
    assert _rows(generate(sc, 60, 11)) == _rows(generate(sc, 60, 11))
    assert _rows(generate(sc, 60, 11)) != _rows(generate(sc, 60, 12))


def test_families_have_up_to_five_members_sharing_their_sessions():
    records = generate(SCENARIOS_BY_NAME["families-of-five"], 300, 1)
    members: dict[str, list] = {}
    for r in records:
        members.setdefault(r.case_id, []).append(r)
    sizes = {len(group) for group in members.values()}
    assert max(sizes) == 5 and 1 in sizes and sizes <= {1, 2, 3, 4, 5}
    for group in members.values():
        dates = {tuple((row["session_date"], row["attended"]) for row in r.rows) for r in group}
        assert len(dates) == 1  # a family attends together
        assert len({(r.truth.outcome, r.truth.decline_start) for r in group}) == 1


def test_courses_are_planned_for_25_to_40_sessions():
    records = generate(SCENARIOS_BY_NAME["ceiling-long"], 200, 2)
    completers = [len(r.rows) for r in records if r.truth.outcome == COMPLETED]
    assert min(completers) >= 30 and max(completers) <= 40  # this scenario: 30–40
    records = generate(SCENARIOS_BY_NAME["one-subscale-erosion"], 200, 2)
    completers = [len(r.rows) for r in records if r.truth.outcome == COMPLETED]
    assert min(completers) >= 25 and max(len(r.rows) for r in records) <= 40


def test_about_half_the_ceiling_scenarios_checks_are_full_marks():
    share = full_mark_share(generate(SCENARIOS_BY_NAME["ceiling-long"], 300, 4))
    assert 0.40 <= share <= 0.60
    assert full_mark_share(generate(SCENARIOS_BY_NAME["one-subscale-erosion"], 300, 4)) < 0.25


def test_outcomes_are_labelled_and_leavers_stop_at_their_last_session():
    records = generate(SCENARIOS_BY_NAME["families-of-five"], 400, 5)
    outcomes = {r.truth.outcome for r in records}
    assert outcomes == {COMPLETED, DROPOUT, EXTERNAL}
    for r in records:
        t = r.truth
        attended = [int(row["session_number"]) for row in r.rows if row["attended"] == "1"]
        if t.outcome == COMPLETED:
            assert t.last_attended is None and t.decline_start is None
            assert t.is_rupture_free == (t.mechanism == "stable")
        else:
            assert max(attended) == t.last_attended
            assert len(r.rows) <= t.last_attended + 2
        if t.outcome == DROPOUT:
            assert not t.is_rupture_free and 1 <= t.decline_start <= t.last_attended
    assert any(r.truth.is_rupture_free for r in records if r.truth.outcome == COMPLETED)
    assert any(not r.truth.is_rupture_free for r in records if r.truth.outcome == COMPLETED)


def test_an_unrepaired_confrontation_is_said_and_the_file_replays():
    records = generate(SCENARIOS_BY_NAME["families-of-five"], 300, 6)
    said = [
        row
        for r in records
        if r.mechanism == "confrontation"
        for row in r.rows
        if row["rupture"] == "1" and row["rupture_type"] == "confrontation"
    ]
    assert said
    stream = io.StringIO()
    assert write_csv(records, stream) == sum(len(r.rows) for r in records)
    assert stream.getvalue().splitlines()[0] == ",".join(COLUMNS)
    cases = read_replay(io.StringIO(stream.getvalue()), EngineSettings())
    assert sum(len(c) for c in cases.values()) == len(records)
