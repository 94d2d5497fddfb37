"""`replay --strictness/--z-confirm/--engagement-rate`: what a clinic's export names, so that the
replay of its history uses the live app's settings (a stored strictness is used, never refitted)."""

import csv

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Clinic
from measures.evaluation import do_evaluate_case, engine_settings_for, engine_settings_parts
from measures.exports import ExportScope
from measures.exports.replay import COLUMNS, replay_options, replay_rows
from measures.models import ClinicCalibration, Instrument
from sessions_app.models import Case
from tests.builders import make_clinic
from tests.demo import seed_demo
from tests.measures.test_replay import GOOD, replay


def test_a_given_strictness_is_used_as_it_is(tmp_path):
    _rows, out = replay(tmp_path, GOOD, "--strictness", "1.7")
    assert "Strictness 1.7 (given), no budget kept" in out
    assert "False-flag budget" not in out


def test_the_given_settings_reach_the_engine(tmp_path):
    # ana's drop at session 6 is a flag by default; at the strictest setting it is a note at most
    lax, _ = replay(tmp_path, GOOD, "--no-calibrate")
    strict, _ = replay(tmp_path, GOOD, "--no-calibrate", "--strictness", "3")
    cautious, _ = replay(tmp_path, GOOD, "--no-calibrate", "--z-confirm", "5.5")

    def flags(rows):
        return {(r["signal"], r["session_number"]) for r in rows if r["severity"] in ("warning", "alert")}

    assert flags(lax) and flags(strict) < flags(lax) and flags(cautious) < flags(lax)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--strictness", "0.1"], "--strictness: 0.1 must be within 0.4 and 3"),
        (["--strictness", "much"], "--strictness: 'much' is not a number"),
        (["--strictness", "nan"], "--strictness"),
        (["--strictness", "1.2", "--budget", "8"], "give one of them"),
        (["--strictness", "1.2", "--no-budget"], "give one of them"),
        (["--z-confirm", "1.5"], "--z-confirm: 1.5 must be between 1.96 and 6"),
        (["--engagement-rate", "0"], "--engagement-rate: 0 must be between 0 and 1"),
        (["--engagement-rate", "1"], "--engagement-rate"),
        (["--budget", ""], "--budget"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(tmp_path, options, message):
    with pytest.raises(CommandError, match=message):
        replay(tmp_path, GOOD, *options)
    assert not (tmp_path / "flags.csv").exists()


@pytest.mark.django_db
def test_the_options_name_what_the_live_app_uses():
    clinic = make_clinic("Cautious clinic", alliance_cutoff=6.5, sensitivity="cautious")
    settings, strictness = engine_settings_parts(clinic)
    assert strictness is None  # not calibrated yet
    options = replay_options(settings, 1.25)
    assert options[0] == "--no-calibrate" and "--cutoff=6.5" in options
    assert "--z-confirm=3.0" in options and "--strictness=1.25" in options
    assert not any(option.startswith("--engagement-rate") for option in options)  # the default
    standard = replay_options(engine_settings_parts(make_clinic("Standard clinic"))[0])
    assert not any(option.startswith(("--z-confirm", "--strictness")) for option in standard)


@pytest.mark.django_db(transaction=True)
def test_a_calibrated_cautious_clinic_replays_to_its_own_flags(tmp_path):
    """The demo clinic made cautious, with a stored strictness and usual rate of missed checks as
    the nightly calibration leaves them: the export's options carry all three to `replay`."""
    seed_demo()
    clinic = Clinic.objects.get(slug="demo")
    clinic.sensitivity = "cautious"
    clinic.save(update_fields=["sensitivity"])
    ClinicCalibration.objects.update_or_create(
        clinic=clinic,
        defaults={
            "instrument": Instrument.objects.latest_version(clinic.instrument_code),
            "strictness": 0.8,
            "engagement_rate": 0.3,
        },
    )
    clinic = Clinic.objects.select_related("calibration").get(pk=clinic.pk)
    live_settings = engine_settings_for(clinic)
    assert live_settings.z_confirm == pytest.approx(3.0 * 0.8) and live_settings.engagement_prior_rate == 0.3

    reference = dict(Case.objects.filter(clinic=clinic).values_list("pk", "reference"))
    live = set()
    for pk in reference:
        result = do_evaluate_case(pk, notify=False)
        live |= {(f.participant_id, reference[pk], str(f.session_number), f.kind, f.severity) for f in result.findings}

    source, target = tmp_path / "history.csv", tmp_path / "flags.csv"
    with source.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(replay_rows(ExportScope(clinic)))
    def replayed_with(options):
        call_command("replay", str(source), "--output", str(target), *options)
        with target.open(newline="") as stream:
            return {
                (r["client_id"], r["case_id"], r["session_number"], r["signal"], r["severity"])
                for r in csv.DictReader(stream)
            }

    settings, strictness = engine_settings_parts(clinic)
    assert strictness == 0.8
    assert replayed_with(replay_options(settings, strictness)) == live and len(live) > 20
    # Without the stored strictness the replay finds something else: the option is what carries it.
    assert replayed_with(replay_options(settings)) != live
