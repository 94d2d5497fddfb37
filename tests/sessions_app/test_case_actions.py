"""Case administration actions: opening, assigning, clients, closing and reopening, each recorded."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from measures.actions.sessions import do_end_case
from measures.models import Signal, SurveyInvitation
from sessions_app.actions import (
    CaseChangeRefused,
    do_add_participant,
    do_assign_case,
    do_close_case,
    do_create_case,
    do_remove_participant,
    do_reopen_case,
    do_update_participant,
)
from sessions_app.models import Case, CaseEvent
from tests.builders import make_case, make_invitation, make_session, make_user


def events(case):
    return [(e.action, e.actor_id, e.detail) for e in CaseEvent.objects.filter(case=case)]


def people(*names):
    return [{"display_name": name, "email": f"{name.lower()}@example.test"} for name in names]


@pytest.mark.parametrize(
    ("kind", "count", "error"),
    [
        ("individual", 2, "An individual case has exactly one client."),
        ("individual", 0, "An individual case has exactly one client."),
        ("couple", 1, "A couple case has exactly two clients."),
        ("couple", 3, "A couple case has exactly two clients."),
        ("family", 1, "A family case has at least 2 clients."),
        ("family", 2, ""),
        ("family", 6, ""),
        ("couple", 2, ""),
        ("individual", 1, ""),
    ],
)
def test_the_kind_decides_how_many_clients_a_case_has(kind, count, error):
    assert Case.participant_count_error(kind, count) == error


def test_opening_a_case_records_who_and_the_therapist(clinic, therapist, clinic_admin):
    case = do_create_case(
        clinic=clinic,
        reference="R-1",
        kind="couple",
        therapist=therapist,
        participants=people("Ana", "Ben"),
        acting_user=clinic_admin,
    )
    assert [p.display_name for p in case.participants.all()] == ["Ana", "Ben"]
    assert events(case) == [
        ("opened", clinic_admin.pk, {}),
        ("assigned", clinic_admin.pk, {"from": None, "to": therapist.pk}),
    ]


def test_a_case_cannot_open_with_the_wrong_number_of_clients_nor_for_another_clinic(clinic, therapist, outsider):
    with pytest.raises(CaseChangeRefused, match="exactly two"):
        do_create_case(
            clinic=clinic,
            reference="R-1",
            kind="couple",
            therapist=therapist,
            participants=people("Ana"),
            acting_user=therapist,
        )
    with pytest.raises(CaseChangeRefused, match="same clinic"):
        do_create_case(
            clinic=clinic,
            reference="R-2",
            kind="individual",
            therapist=outsider,
            participants=people("Ana"),
            acting_user=therapist,
        )
    assert not Case.objects.exists()


def test_transferring_moves_the_case_its_open_flags_and_records_who_had_it(case, therapist, colleague, clinic_admin):
    participant = case.participants.get()
    flag = Signal.objects.create(case=case, participant=participant, kind="low_score", severity="warning", message="m")
    assert do_assign_case(case, colleague, acting_user=clinic_admin) is True
    assert do_assign_case(case, colleague, acting_user=clinic_admin) is False  # a double submit records nothing
    assert list(Signal.objects.for_user(colleague).open()) == [flag]
    assert not Signal.objects.for_user(therapist).exists()
    assert not Case.objects.for_user(therapist).exists()
    assert events(case) == [("assigned", clinic_admin.pk, {"from": therapist.pk, "to": colleague.pk})]


@pytest.mark.parametrize("who", ["outsider", "admin", "inactive"])
def test_a_case_goes_only_to_an_active_therapist_of_its_clinic(case, clinic, clinic_admin, outsider, who):
    target = {
        "outsider": outsider,
        "admin": clinic_admin,
        "inactive": make_user(clinic, is_active=False),
    }[who]
    with pytest.raises(CaseChangeRefused):
        do_assign_case(case, target, acting_user=clinic_admin)
    case.refresh_from_db()
    assert case.therapist.role == User.Role.THERAPIST and not events(case)


def test_family_members_join_and_leave_but_are_never_deleted(therapist):
    family = make_case(therapist, kind="family", participants=["Ana", "Ben", "Cy"])
    dee = do_add_participant(family, display_name="Dee", language="es", acting_user=therapist)
    ben = family.participants.get(display_name="Ben")
    assert do_remove_participant(ben, acting_user=therapist) is True
    assert do_remove_participant(ben, acting_user=therapist) is False
    assert family.participants.count() == 4
    assert list(family.participants.filter(is_active=True).values_list("display_name", flat=True)) == [
        "Ana",
        "Cy",
        "Dee",
    ]
    assert [e[0] for e in events(family)] == ["participant_added", "participant_removed"]
    assert events(family)[0][2] == {"participant": dee.pk}


def test_a_family_keeps_two_members_and_couples_take_no_more(therapist, couple_case):
    family = make_case(therapist, kind="family", participants=["Ana", "Ben"])
    with pytest.raises(CaseChangeRefused, match="at least two"):
        do_remove_participant(family.participants.first(), acting_user=therapist)
    with pytest.raises(CaseChangeRefused, match="Only a family"):
        do_add_participant(couple_case, display_name="Third", acting_user=therapist)
    with pytest.raises(CaseChangeRefused, match="Only a member of a family"):
        do_remove_participant(couple_case.participants.first(), acting_user=therapist)
    with pytest.raises(CaseChangeRefused, match="already has a client called Ana"):
        do_add_participant(family, display_name="Ana", acting_user=therapist)


def test_correcting_details_records_field_names_not_values(case, clinic_admin):
    participant = case.participants.get()
    changed = do_update_participant(
        participant,
        display_name=participant.display_name,
        email="new@example.test",
        phone="+1 555 0100",
        language="es",
        acting_user=clinic_admin,
    )
    assert changed == ["email", "phone", "language"]
    participant.refresh_from_db()
    assert (participant.email, participant.phone, participant.language) == ("new@example.test", "+1 555 0100", "es")
    assert events(case) == [
        ("participant_updated", clinic_admin.pk, {"participant": participant.pk, "fields": changed})
    ]
    assert do_update_participant(participant, email="new@example.test", acting_user=clinic_admin) == []
    assert len(events(case)) == 1


def test_closing_with_an_outcome_expires_open_checks_and_reopening_keeps_them_expired(case, therapist):
    session = make_session(case)
    invitation, _ = make_invitation(session, case.participants.get())
    day = case.opened_on
    do_end_case(case, Case.Outcome.REFERRED, closed_on=day, acting_user=therapist)
    case.refresh_from_db()
    assert (case.status, case.outcome, case.closed_on) == ("closed", "referred", day)
    invitation.refresh_from_db()
    assert invitation.is_expired()
    with pytest.raises(CaseChangeRefused, match="already closed"):
        do_end_case(case, Case.Outcome.OTHER, acting_user=therapist)
    do_reopen_case(case, acting_user=therapist)
    case.refresh_from_db()
    assert (case.status, case.outcome, case.closed_on) == ("active", "", None)
    assert SurveyInvitation.objects.get(pk=invitation.pk).is_expired()
    assert [(e[0], e[2]) for e in events(case)] == [
        ("closed", {"outcome": "referred", "closed_on": day.isoformat()}),
        ("reopened", {"outcome": "referred"}),
    ]
    with pytest.raises(CaseChangeRefused, match="open already"):
        do_reopen_case(case, acting_user=therapist)


def test_a_case_cannot_close_before_it_opened_nor_without_an_outcome(case, therapist):
    with pytest.raises(CaseChangeRefused, match="before it opened"):
        do_close_case(case, "completed", closed_on=case.opened_on - datetime.timedelta(days=1), acting_user=therapist)
    with pytest.raises(CaseChangeRefused, match="how the case ended"):
        do_close_case(case, "transferred", acting_user=therapist)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "closed"},  # no outcome, no date
        {"status": "closed", "outcome": "completed"},  # no date
        {"outcome": "completed"},  # active with an outcome
        {"status": "closed", "closed_on": datetime.date(2030, 1, 1)},  # no outcome
    ],
)
def test_the_database_keeps_status_outcome_and_date_together(case, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(**fields)


def test_the_migration_turns_old_closing_statuses_into_outcomes(transactional_db, therapist):
    executor = MigrationExecutor(connection)
    executor.migrate([("sessions_app", "0002_case_event")])
    old = executor.loader.project_state([("sessions_app", "0002_case_event")]).apps
    OldCase = old.get_model("sessions_app", "Case")
    for status in ("active", "completed", "dropped_out", "transferred"):
        OldCase.objects.create(
            clinic_id=therapist.clinic_id,
            therapist_id=therapist.pk,
            reference=status,
            status=status,
            closed_on=None if status == "active" else datetime.date.today(),
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    migrated = dict(Case.objects.values_list("reference", "outcome"))
    assert migrated == {"active": "", "completed": "completed", "dropped_out": "dropped_out", "transferred": "referred"}
    assert set(Case.objects.exclude(reference="active").values_list("status", flat=True)) == {"closed"}
