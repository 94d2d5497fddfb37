"""CSV import of cases, clients and past sessions: preview, all or nothing, idempotent, clear errors."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from measures.actions import imports
from measures.models import CaseEvaluation, Response
from sessions_app.models import Case, CaseEvent, CaseImport, Participant, TherapySession
from tests.builders import make_case

URL = "/import/"


def cases_csv(therapist, extra=""):
    return (
        "case_reference,kind,therapist_email,client_id,display_name,email,language,phone\n"
        f"IMP-1,couple,{therapist.email},c1,Robin R,robin@example.test,en,+1 555 0101\n"
        f"IMP-1,couple,{therapist.email},c2,Jordan R,jordan@example.test,es,\n"
        f"IMP-2,individual,,c3,Sam S,,,\n" + extra
    )


HISTORY = (
    "client_id,case_id,session_number,session_date,attended,goals,tasks,bond,rupture\n"
    "c1,IMP-1,1,2026-01-05,1,8,8,9,0\n"
    "c2,IMP-1,1,2026-01-05,1,7,7.5,8,\n"
    "c1,IMP-1,2,2026-01-12,1,6,6,7,1\n"
    "c2,IMP-1,2,2026-01-12,0,,,,\n"
    "c3,IMP-2,1,2026-01-06,0,,,,\n"
)


def upload(client, cases, history=None):
    files = {"cases_file": SimpleUploadedFile("cases.csv", cases.encode() if isinstance(cases, str) else cases)}
    if history is not None:
        files["history_file"] = SimpleUploadedFile("history.csv", history.encode())
    return client.post(reverse("dashboard:import_cases"), files)


def confirm(client):
    pending = CaseImport.objects.latest("pk")
    return client.post(reverse("dashboard:confirm_import", args=[pending.pk]))


def test_the_url_is_where_the_docs_say():
    assert reverse("dashboard:import_cases") == URL


def test_upload_previews_then_confirm_writes_cases_clients_sessions_and_scores(
    login, clinic_admin, therapist, django_capture_on_commit_callbacks
):
    client = login(clinic_admin)
    preview = upload(client, cases_csv(therapist), HISTORY)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "New: 2 cases, 3 clients, 3 past sessions, 3 checks" in body and "Robin R" in body
    assert not Case.objects.exists()  # nothing written by the preview
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = confirm(client)
    assert response.status_code == 302 and len(queued) == 2  # one evaluation per case with history
    couple = Case.objects.get(reference="IMP-1")
    assert couple.therapist == therapist and couple.kind == "couple" and str(couple.opened_on) == "2026-01-05"
    assert Case.objects.get(reference="IMP-2").therapist is None
    jordan = Participant.objects.get(client_ref="c2")
    assert (jordan.language, jordan.email, jordan.case) == ("es", "jordan@example.test", couple)
    statuses = list(TherapySession.objects.filter(case__reference="IMP-2").values_list("status", flat=True))
    assert statuses == ["no_show"]
    assert TherapySession.objects.filter(case=couple, status="attended").count() == 2
    second = Response.objects.get(participant__client_ref="c1", session__scheduled_start__date="2026-01-12")
    assert (float(second.goals), float(second.total), second.rupture, second.invitation) == (6, 6.33, 1, None)
    assert second.is_imported and not second.answers.exists()
    assert CaseEvaluation.objects.filter(case=couple).exists()  # evaluated on commit (eager tasks)
    assert CaseEvent.objects.filter(case=couple, action="imported", actor=clinic_admin).exists()
    page = login(therapist).get(reverse("dashboard:case", args=[couple.pk]))
    assert page.status_code == 200 and "6.3" in page.content.decode()  # imported scores on the case page
    pending = CaseImport.objects.get()
    assert pending.cases_csv == "" and pending.summary == {"cases": 2, "participants": 3, "sessions": 3, "responses": 3}


def test_a_reimport_creates_nothing_twice(login, clinic_admin, therapist):
    client = login(clinic_admin)
    upload(client, cases_csv(therapist), HISTORY)
    confirm(client)
    counts = (
        Case.objects.count(),
        Participant.objects.count(),
        TherapySession.objects.count(),
        Response.objects.count(),
    )
    preview = upload(client, cases_csv(therapist), HISTORY)
    assert "New: 0 cases, 0 clients, 0 past sessions, 0 checks" in preview.content.decode()
    confirm(client)
    assert counts == (
        Case.objects.count(),
        Participant.objects.count(),
        TherapySession.objects.count(),
        Response.objects.count(),
    )
    # a file with one more family member adds just that one
    upload(client, "case_reference,kind,therapist_email,client_id,display_name\nFAM,family,,f1,A\nFAM,family,,f2,B\n")
    confirm(client)
    upload(
        client,
        "case_reference,kind,therapist_email,client_id,display_name\nFAM,family,,f1,A\nFAM,family,,f2,B\nFAM,family,,f3,C\n",
    )
    confirm(client)
    assert list(Participant.objects.filter(case__reference="FAM").values_list("client_ref", flat=True)) == [
        "f1",
        "f2",
        "f3",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("IMP-3,individual,,c9,Kim K,x,,\n", "line 5: email 'x' is not an email address"),
        ("IMP-3,triple,,c9,Kim K,,,\n", "line 5: kind 'triple' is not individual, couple or family"),
        ("IMP-3,individual,nobody@example.test,c9,Kim K,,,\n", "line 5: therapist_email 'nobody@example.test' is not"),
        ("IMP-3,individual,,c9,Kim K,,fr,\n", "line 5: language 'fr' is not one of en, es"),
        ("IMP-3,individual,,c9,Kim K,,,call me\n", "line 5: phone 'call me' is not a phone number"),
        ("IMP-3,individual,,,Kim K,,,\n", "line 5: client_id must be 1 to 64 characters"),
        ("IMP-1,couple,{email},c3b,Third,,,\n", "line 2: case 'IMP-1': A couple case has exactly two clients"),
        ("IMP-3,family,,c9,Kim K,,,\n", "line 5: case 'IMP-3': A family case has at least 2 clients"),
        ("IMP-2,individual,,c3,Sam Again,,,\n", "line 5: client_id 'c3' repeats line 4"),
        (
            "IMP-2,family,,c4,Sam Again,,,\n",
            "line 5: case 'IMP-2' has another kind, therapist or opening date on line 4",
        ),
        ("IMP-3,individual,,c9,Kim K,,,\nIMP-4,individual,,c8,Lee L,bad@,,\n", "line 6: email 'bad@'"),
    ],
)
def test_any_bad_line_writes_nothing_and_says_where(login, clinic_admin, therapist, extra, message):
    client = login(clinic_admin)
    response = upload(client, cases_csv(therapist, extra.format(email=therapist.email)), HISTORY)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert "Nothing was imported" in response.content.decode()
    assert not Case.objects.exists() and not CaseImport.objects.exists()


def test_all_errors_are_listed_at_once(login, clinic_admin, therapist):
    extra = "IMP-3,individual,,c9,Kim K,x,,\nIMP-4,individual,,c8,Lee L,y,,\n"
    body = upload(login(clinic_admin), cases_csv(therapist, extra)).content.decode().replace("&#x27;", "'")
    assert "line 5: email 'x'" in body and "line 6: email 'y'" in body


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (HISTORY + "c1,IMP-1,3,2026-01-19,1,11,8,8,\n", "history file, line 7: goals 11 is outside the scale 0–10"),
        (HISTORY + "c7,IMP-1,3,2026-01-19,1,8,8,8,\n", "client_id 'c7' is not a client of case 'IMP-1'"),
        (HISTORY + "c5,IMP-9,1,2026-01-19,1,8,8,8,\n", "case_id 'IMP-9' is not in the cases file"),
        (HISTORY + "c1,IMP-1,3,2999-01-19,1,8,8,8,\n", "has a session in the future"),
        (HISTORY + "c1,IMP-1,3,2026-01-12,1,8,8,8,\n", "on the same day (2026-01-12)"),
        ("client_id,case_id\n", "history file, line 1: missing column(s): session_number"),
    ],
)
def test_a_bad_history_line_writes_nothing(login, clinic_admin, therapist, history, message):
    response = upload(login(clinic_admin), cases_csv(therapist), history)
    assert response.status_code == 400 and message in response.content.decode().replace("&#x27;", "'")
    assert not Case.objects.exists()


def test_a_history_for_an_existing_case_that_opened_later_is_refused(login, clinic_admin, therapist):
    case = make_case(therapist, reference="OLD", opened_on="2026-02-01")
    case.participants.update(client_ref="o1")
    name = case.participants.get().display_name
    cases = f"case_reference,kind,therapist_email,client_id,display_name\nOLD,individual,,o1,{name}\n"
    history = "client_id,case_id,session_number,session_date,attended,goals,tasks,bond\no1,OLD,1,2026-01-05,1,8,8,8\n"
    response = upload(login(clinic_admin), cases, history)
    assert "has a session before it opened (2026-02-01)" in response.content.decode()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("café,kind\n".encode("latin-1"), "the file is not UTF-8 text"),
        (b"", "The submitted file is empty."),
        (b"\n\n", "line 1: the file is empty; expected a header row"),
        (b"case_reference,kind\nA,couple\n", "line 1: missing column(s): therapist_email, client_id, display_name"),
        (
            b'case_reference,kind,therapist_email,client_id,display_name\nA,individual,,"c1,Ana\n',
            "line 2: a quoted field is never closed",
        ),
        (b"case_reference,kind,therapist_email,client_id,display_name\nA,individual\n", "line 2: expected 5 fields"),
        (b"\x00\x01PK\x03\x04", "this is not a CSV text file"),
    ],
)
def test_a_malformed_file_gets_a_clear_answer(login, clinic_admin, content, message):
    response = upload(login(clinic_admin), content)
    assert response.status_code == 400 and message in response.content.decode()


def test_size_limits_are_explained(login, clinic_admin, monkeypatch):
    client = login(clinic_admin)
    monkeypatch.setattr(imports, "MAX_LINES", 3)
    body = upload(client, "case_reference,kind,therapist_email,client_id,display_name\n" + "x\n" * 3).content.decode()
    assert "more than 3 lines; split it in parts" in body
    big = b"case_reference,kind,therapist_email,client_id,display_name\n" + b"x" * imports.MAX_BYTES
    assert "larger than 5 MB" in upload(client, big).content.decode()


def test_a_bom_and_mixed_case_headers_are_fine(login, clinic_admin):
    content = "\ufeffCase_Reference,KIND,therapist_email,client_id,display_name\nB-1,individual,,b1,Bo\n".encode()
    assert "New: 1 case, 1 client" in upload(login(clinic_admin), content).content.decode()


def test_an_upload_without_a_file_is_refused(login, clinic_admin):
    assert login(clinic_admin).post(reverse("dashboard:import_cases")).status_code == 400


def test_the_preview_cannot_be_confirmed_by_someone_else_or_twice_or_late(
    login, clinic, clinic_admin, therapist, time_machine
):
    from tests.builders import make_user

    client = login(clinic_admin)
    upload(client, cases_csv(therapist))
    pending = CaseImport.objects.get()
    other_admin = make_user(clinic, role="admin")
    assert login(other_admin).post(reverse("dashboard:confirm_import", args=[pending.pk])).status_code == 404
    time_machine.move_to(
        pending.created_at + CaseImport.PENDING_LIFETIME_MINUTES * __import__("datetime").timedelta(minutes=1)
    )
    client = login(clinic_admin)  # signed in afresh: an hour idle would end any staff session
    response = client.post(reverse("dashboard:confirm_import", args=[pending.pk]), follow=True)
    assert "expired" in response.content.decode() and not Case.objects.exists()


def test_a_second_upload_drops_the_first_previews_files(login, clinic_admin, therapist):
    client = login(clinic_admin)
    upload(client, cases_csv(therapist))
    upload(client, cases_csv(therapist))
    first, second = CaseImport.objects.order_by("pk")
    assert first.cases_csv == "" and second.cases_csv
    assert client.post(reverse("dashboard:confirm_import", args=[first.pk])).status_code == 302
    assert not Case.objects.exists()


def test_the_clinic_changing_between_preview_and_confirm_writes_nothing(login, clinic_admin, therapist):
    client = login(clinic_admin)
    upload(client, cases_csv(therapist))
    therapist.is_active = False
    therapist.save()
    response = confirm(client)
    assert response.status_code == 400 and "is not an active therapist" in response.content.decode()
    assert not Case.objects.exists()


@pytest.mark.parametrize("who", ["therapist", "outsider"])
def test_only_clinic_admins_import(login, request, who):
    client = login(request.getfixturevalue(who))
    assert client.get(reverse("dashboard:import_cases")).status_code == 403
    assert client.post(reverse("dashboard:confirm_import", args=[1])).status_code == 403


def test_another_clinics_admin_cannot_confirm_this_clinics_import(login, clinic_admin, therapist, outsider):
    from accounts.models import User

    upload(login(clinic_admin), cases_csv(therapist))
    User.objects.filter(pk=outsider.pk).update(role="admin")
    outsider.refresh_from_db()
    assert (
        login(outsider).post(reverse("dashboard:confirm_import", args=[CaseImport.objects.get().pk])).status_code == 404
    )


def test_wrong_methods_and_anonymous(client, login, clinic_admin):
    assert client.get(reverse("dashboard:import_cases")).status_code == 302
    admin = login(clinic_admin)
    assert admin.put(reverse("dashboard:import_cases")).status_code == 405
    assert admin.get(reverse("dashboard:confirm_import", args=[1])).status_code == 405


def test_a_failure_while_writing_leaves_nothing_behind(login, clinic_admin, therapist, monkeypatch):
    client = login(clinic_admin)
    upload(client, cases_csv(therapist), HISTORY)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Response.objects, "create", fail)  # after the cases, clients and sessions are written
    with pytest.raises(RuntimeError):
        confirm(client)
    assert not Case.objects.exists() and not Participant.objects.exists() and not TherapySession.objects.exists()
    assert CaseImport.objects.get().cases_csv  # still there to confirm again
