"""The replay-format export: `manage.py replay` of the exported file finds what the live app found."""

import csv

import pytest
from django.core.management import call_command

from accounts.models import Clinic
from measures.engine import EngineSettings, compute_case
from measures.engine.replay import read_replay
from measures.evaluation import do_evaluate_case, engine_settings_for, engine_settings_parts
from measures.exports import ExportScope
from measures.exports.replay import COLUMNS, replay_options, replay_rows
from measures.models import Signal
from sessions_app.models import Case, TherapySession
from tests.builders import give_history, make_case, make_session
from tests.demo import seed_demo


def _write(path, rows):
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)


@pytest.mark.django_db(transaction=True)
def test_a_replay_of_the_export_gives_the_live_apps_flags(tmp_path):
    # The demo is evaluated by the real do_evaluate_case as it is seeded (on commit).
    seed_demo()
    clinic = Clinic.objects.get(slug="demo")
    settings = engine_settings_for(clinic)
    source, target = tmp_path / "history.csv", tmp_path / "flags.csv"
    _write(source, replay_rows(ExportScope(clinic)))
    options = replay_options(*engine_settings_parts(clinic))
    call_command("replay", str(source), "--output", str(target), *options)

    # The findings history: the file's against the live engine's (names aside: the live app puts a
    # client's first name in a couple's messages, the replay knows only ids).
    reference = dict(Case.objects.filter(clinic=clinic).values_list("pk", "reference"))
    live = set()
    for pk in reference:
        result = do_evaluate_case(pk, notify=False)  # changes nothing: the demo was evaluated already
        live |= {(f.participant_id, reference[pk], str(f.session_number), f.kind, f.severity) for f in result.findings}
    with target.open(newline="") as stream:
        replayed = {
            (r["client_id"], r["case_id"], r["session_number"], r["signal"], r["severity"])
            for r in csv.DictReader(stream)
        }
    assert replayed == live and len(live) > 20

    # What still holds at the end of the file is what the app shows as open flags.
    with source.open(newline="") as stream:
        cases = read_replay(stream, settings)
    active = {
        (int(f.participant_id), f.kind, f.severity)
        for participants in cases.values()
        for f in compute_case(participants, settings).active
    }
    open_flags = set(
        Signal.objects.filter(case__clinic=clinic).open().values_list("participant_id", "kind", "severity")
    )
    assert active == open_flags and any(severity == "alert" for _p, _k, severity in open_flags)


@pytest.mark.django_db
def test_the_history_numbers_sessions_as_the_engine_does(therapist):
    case = make_case(therapist, kind="couple", participants=["Robin Rivera", "Jordan Rivera"])
    first = give_history(case, [8, None, 6])
    make_session(case, days_ago=10, status=TherapySession.Status.CANCELLED)  # does not count
    make_session(case, days_ago=-3, status=TherapySession.Status.SCHEDULED)  # still to come
    rows = list(replay_rows(ExportScope(therapist.clinic, case)))
    second = case.participants.exclude(pk=first.pk).get()
    assert [row[:3] for row in rows] == [(p.pk, case.reference, n) for p in (first, second) for n in (1, 2, 3)]
    assert [row[4:8] for row in rows[:3]] == [
        (1, *(rows[0][5],) * 3),
        (1, "", "", ""),
        (1, *(rows[2][5],) * 3),
    ]
    assert rows[0][5] == "8" and rows[2][5] == "6"
    assert rows[3][5:8] == ("", "", "")  # the second client answered nothing


def test_the_options_name_the_clinics_settings():
    options = replay_options(EngineSettings(cutoff=6.5, reliability={"total": 0.8}, spread={"total": 1.2}))
    assert options == ["--no-calibrate", "--cutoff=6.5", "--reliability=total=0.8", "--spread=total=1.2"]
    options = replay_options(EngineSettings(engagement_prior_rate=0.2, z_confirm=2.2), 1.3)
    assert options[-3:] == ["--z-confirm=2.2", "--engagement-rate=0.2", "--strictness=1.3"]
