"""Clinic settings: an admin changes them, each change is recorded, and each one takes effect."""

import datetime
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.actions import do_change_clinic_settings
from accounts.models import Clinic, ClinicSettingChange
from measures import engine
from measures.evaluation import engine_settings_for
from tests.builders import make_invitation, make_response, make_session, post_clinic_settings


def test_an_admin_changes_settings_and_each_change_is_recorded(login, clinic, clinic_admin):
    client = login(clinic_admin)
    page = client.get(reverse("dashboard:clinic_settings"))
    assert page.status_code == 200 and "Flag sensitivity" in page.content.decode()
    response = post_clinic_settings(
        client,
        alliance_cutoff="6.5",
        time_zone="Europe/Madrid",
        languages=["es"],
        sensitivity="sensitive",
        client_contact="Call us on 555 0100",
        notes_readers="therapist",
    )
    assert response.status_code == 302
    clinic.refresh_from_db()
    assert str(clinic.alliance_cutoff) == "6.5" and clinic.time_zone == "Europe/Madrid"
    assert clinic.languages == ["es"] and clinic.sensitivity == "sensitive"
    assert clinic.client_contact == "Call us on 555 0100" and clinic.notes_for_therapist_only
    changes = {c.field: c for c in ClinicSettingChange.objects.filter(clinic=clinic)}
    assert set(changes) == {"alliance_cutoff", "time_zone", "languages", "sensitivity", "client_contact",
                            "notes_readers"}
    assert changes["alliance_cutoff"].old_value == "7.0" and changes["alliance_cutoff"].new_value == "6.5"
    assert changes["languages"].old_value == "en, es" and changes["languages"].new_value == "es"
    assert all(c.actor == clinic_admin and c.changed_at for c in changes.values())
    history = client.get(reverse("dashboard:clinic_settings")).content.decode()
    assert "from “UTC” to “Europe/Madrid” by Ada Admin" in history


def test_saving_unchanged_settings_records_nothing(login, clinic_admin):
    response = post_clinic_settings(login(clinic_admin))
    assert response.status_code == 302 and not ClinicSettingChange.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"reminder_after_days": "4"},  # not before the link expires
        {"alliance_cutoff": "10.5"},
        {"invitation_expiry_days": "31"},
        {"time_zone": "Mars/Olympus"},
        {"languages": []},
        {"instrument_code": "not-loaded"},
        {"sensitivity": "reckless"},
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(login, clinic, clinic_admin, changes):
    response = post_clinic_settings(login(clinic_admin), **changes)
    assert response.status_code == 200 and "is-invalid" in response.content.decode()
    assert not ClinicSettingChange.objects.exists()
    clinic.refresh_from_db()
    assert clinic.reminder_after_days == 2 and clinic.alliance_cutoff == 7 and clinic.time_zone == "UTC"


def test_therapists_cannot_change_settings(login, clinic, therapist):
    client = login(therapist)
    assert client.get(reverse("dashboard:clinic_settings")).status_code == 403
    assert post_clinic_settings(client, alliance_cutoff="5.0").status_code == 403
    clinic.refresh_from_db()
    assert clinic.alliance_cutoff == 7


def test_an_admin_changes_only_their_own_clinic(login, clinic, outsider, clinic_admin):
    post_clinic_settings(login(clinic_admin), alliance_cutoff="5.0")
    outsider.clinic.refresh_from_db()
    assert outsider.clinic.alliance_cutoff == 7 and Clinic.objects.get(pk=clinic.pk).alliance_cutoff == 5


def test_settings_need_a_login_and_refuse_other_methods(client, login, clinic_admin):
    response = client.get(reverse("dashboard:clinic_settings"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert login(clinic_admin).put(reverse("dashboard:clinic_settings")).status_code == 405


# The sensitivity preset is wired to the engine ------------------------------------------------


def test_the_sensitivity_preset_sets_the_engines_confirmation_threshold(clinic):
    z = {}
    for preset in ("cautious", "standard", "sensitive"):
        clinic.sensitivity = preset
        z[preset] = engine_settings_for(clinic).z_confirm
    assert z["sensitive"] < z["standard"] < z["cautious"]
    assert z["standard"] == engine.EngineSettings().z_confirm


def _warnings(settings, drop_to):
    start = datetime.date(2026, 1, 5)
    scores = [8.5, 8.0, 8.5, 8.0, 8.5, 8.0, drop_to]
    observations = [
        engine.Observation(n, start + datetime.timedelta(days=7 * n), True, s, s, s) for n, s in enumerate(scores, 1)
    ]
    result = engine.compute_case({"1": observations}, settings)
    return {f.kind for f in result.findings if f.severity != "info" and f.kind == engine.KIND_RELIABLE_DROP}


def test_a_sensitive_clinic_is_warned_of_a_drop_a_cautious_one_is_not(clinic):
    by_preset = {}
    for preset in ("cautious", "sensitive"):
        clinic.sensitivity = preset
        by_preset[preset] = engine_settings_for(clinic)
    drops = [round(7.5 - 0.1 * i, 1) for i in range(60)]
    flagged = {preset: {d for d in drops if _warnings(settings, d)} for preset, settings in by_preset.items()}
    sensitive_only = flagged["sensitive"] - flagged["cautious"]
    cautious_only = flagged["cautious"] - flagged["sensitive"]
    assert sensitive_only and not cautious_only


# Who reads clients' notes ---------------------------------------------------------------------


@pytest.fixture
def noted_case(case):
    session = make_session(case)
    response = make_response(session, case.participants.first())
    response.note = "I felt rushed at the end"
    response.save(update_fields=["note"])
    response.answers.filter(item__kind="text").update(text="I felt rushed at the end")
    return case


def test_notes_for_the_therapist_only_are_hidden_from_admins(login, clinic, clinic_admin, therapist, noted_case):
    do_change_clinic_settings(clinic, {"notes_readers": "therapist"}, acting_user=clinic_admin)
    url = reverse("dashboard:case", args=[noted_case.pk])
    admin_page = login(clinic_admin).get(url).content.decode()
    assert admin_page.count("I felt rushed") == 0
    therapist_page = login(therapist).get(url).content.decode()
    assert "I felt rushed" in therapist_page


def test_notes_for_the_clinical_team_are_shown_to_admins(login, clinic_admin, noted_case):
    admin_page = login(clinic_admin).get(reverse("dashboard:case", args=[noted_case.pk])).content.decode()
    assert "I felt rushed" in admin_page


def _survey_page(client, case):
    session = make_session(case)
    _invitation, token = make_invitation(session, case.participants.first())
    return client.get(reverse("surveys:survey", args=[token])).content.decode()


def test_the_survey_privacy_sentence_follows_the_setting(client, clinic, clinic_admin, case):
    assert "read by your therapist only" not in _survey_page(client, case)
    do_change_clinic_settings(clinic, {"notes_readers": "therapist"}, acting_user=clinic_admin)
    assert "read by your therapist only" in _survey_page(client, case)


def test_the_survey_offers_a_language_switch_only_with_two_languages(client, clinic, clinic_admin, case):
    assert 'hreflang="es"' in _survey_page(client, case)
    do_change_clinic_settings(clinic, {"languages": ["en"]}, acting_user=clinic_admin)
    assert 'hreflang="es"' not in _survey_page(client, case)


def test_the_contact_line_is_shown_on_a_closed_survey(client, clinic, clinic_admin, case):
    do_change_clinic_settings(clinic, {"client_contact": "Call us on 555 0100"}, acting_user=clinic_admin)
    session = make_session(case)
    now = timezone.now()
    _invitation, token = make_invitation(
        session, case.participants.first(), created_at=now - timedelta(days=5), expires_at=now - timedelta(days=1)
    )
    body = client.get(reverse("surveys:survey", args=[token])).content.decode()
    assert re.search(r"Call us on 555 0100", body)
