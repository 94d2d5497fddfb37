"""Case administration pages: who may open, change, assign, close and reopen a case, and who may not."""

import pytest
from django.urls import reverse

from measures.models import Signal
from sessions_app.actions import do_assign_case
from sessions_app.models import Case, CaseEvent
from tests.builders import make_case, make_session


def manage_url(case):
    return reverse("dashboard:manage_case", args=[case.pk])


def open_form(reference="NEW-1", kind="individual", names=("Ana Lima",), rows=2, **extra):
    data = {
        "reference": reference,
        "kind": kind,
        "opened_on": "2026-01-05",
        "form-TOTAL_FORMS": str(rows),
        "form-INITIAL_FORMS": "0",
        **extra,
    }
    for i in range(rows):
        name = names[i] if i < len(names) else ""
        data |= {
            f"form-{i}-display_name": name,
            f"form-{i}-email": f"c{i}@example.test" if name else "",
            f"form-{i}-phone": "",
            f"form-{i}-language": "en",
        }
    return data


# --- opening a case -------------------------------------------------------------------------------


def test_a_therapist_opens_a_case_for_themselves(login, therapist, colleague):
    client = login(therapist)
    page = client.get(reverse("dashboard:open_case"))
    assert page.status_code == 200 and 'name="therapist"' not in page.content.decode()
    # a therapist cannot give the case to someone else by adding the field
    response = client.post(reverse("dashboard:open_case"), open_form(therapist=str(colleague.pk)))
    case = Case.objects.get(reference="NEW-1")
    assert response.status_code == 302 and response["Location"] == manage_url(case)
    assert case.therapist == therapist and case.clinic == therapist.clinic
    assert [p.email for p in case.participants.all()] == ["c0@example.test"]
    assert CaseEvent.objects.filter(case=case, action="opened", actor=therapist).exists()


def test_an_admin_opens_a_couple_case_for_a_therapist(login, clinic_admin, therapist):
    response = login(clinic_admin).post(
        reverse("dashboard:open_case"),
        open_form(kind="couple", names=("Robin R", "Jordan R"), therapist=str(therapist.pk)),
    )
    assert response.status_code == 302
    case = Case.objects.get(reference="NEW-1")
    assert case.therapist == therapist and case.participants.count() == 2


@pytest.mark.parametrize(
    ("kind", "names", "message"),
    [
        ("couple", ("Robin R",), "A couple case has exactly two clients."),
        ("family", ("Only One",), "A family case has at least 2 clients."),
        ("individual", ("A B", "A B"), "Two clients have the same name"),
    ],
)
def test_opening_refuses_the_wrong_clients(login, therapist, kind, names, message):
    response = login(therapist).post(reverse("dashboard:open_case"), open_form(kind=kind, names=names))
    assert response.status_code == 400 and message in response.content.decode()
    assert not Case.objects.exists()


def test_opening_refuses_a_reference_the_clinic_uses_and_a_bad_email(login, therapist, case):
    data = open_form(reference=case.reference.lower())
    data["form-0-email"] = "not-an-email"
    body = login(therapist).post(reverse("dashboard:open_case"), data).content.decode()
    assert "already has a case with this reference" in body and "valid email" in body
    assert Case.objects.count() == 1


def test_an_admin_cannot_give_a_case_to_another_clinics_therapist(login, clinic_admin, outsider):
    response = login(clinic_admin).post(reverse("dashboard:open_case"), open_form(therapist=str(outsider.pk)))
    assert response.status_code == 400 and not Case.objects.filter(reference="NEW-1").exists()


def test_more_client_rows_without_javascript(login, therapist):
    body = login(therapist).get(reverse("dashboard:open_case"), {"rows": 4}).content.decode()
    assert 'name="form-3-display_name"' in body and 'href="?rows=5"' in body


# --- the manage page and who sees it --------------------------------------------------------------


# The manage page, for the case's therapist:
#  1. the login session  2. the user
#  3. the case with clinic and therapist (access check included)
#  4. its participants  5. its latest events with their actors
#  6. the names of the therapists in its assignment history
#  7. the header's count of unseen flags  8. the user's clinic (header)
#  9. INSERT: the access log entry (audit.middleware)
# (an admin's page has one more: the clinic's therapists, the transfer form's choices)
#  +1. the session's second-factor device (django-otp's OTPMiddleware)
MANAGE_QUERIES = 10


@pytest.mark.parametrize("transfers", [1, 10])
def test_the_manage_page_runs_a_fixed_number_of_queries(
    login, therapist, colleague, clinic_admin, django_assert_num_queries, transfers
):
    case = make_case(therapist, kind="family")
    for _ in range(transfers):
        do_assign_case(case, colleague, acting_user=clinic_admin)
        do_assign_case(case, therapist, acting_user=clinic_admin)
    client = login(therapist)
    with django_assert_num_queries(MANAGE_QUERIES):
        response = client.get(manage_url(case))
    assert response.status_code == 200
    assert response.content.decode().count(f"to {colleague.full_name}") == transfers


def test_an_admin_sees_the_transfer_form_and_a_therapist_does_not(login, case, therapist, clinic_admin, colleague):
    assert 'action="{}"'.format(reverse("dashboard:assign_case", args=[case.pk])) not in (
        login(therapist).get(manage_url(case)).content.decode()
    )
    body = login(clinic_admin).get(manage_url(case)).content.decode()
    assert "Transfer" in body and colleague.full_name in body


@pytest.mark.parametrize("who", ["colleague", "outsider"])
@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("dashboard:manage_case", "get"),
        ("dashboard:assign_case", "post"),
        ("dashboard:close_case", "post"),
        ("dashboard:reopen_case", "post"),
        ("dashboard:add_participant", "post"),
    ],
)
def test_other_therapists_and_other_clinics_get_404(login, request, case, who, name, method):
    client = login(request.getfixturevalue(who))
    response = getattr(client, method)(
        reverse(name, args=[case.pk]), {"outcome": "completed", "closed_on": "2026-01-01"}
    )
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.is_active and not CaseEvent.objects.filter(case=case).exists()


@pytest.mark.parametrize("who", ["colleague", "outsider"])
@pytest.mark.parametrize(
    ("name", "method"), [("dashboard:edit_participant", "get"), ("dashboard:remove_participant", "post")]
)
def test_other_therapists_and_other_clinics_get_404_on_clients(login, request, case, who, name, method):
    participant = case.participants.get()
    response = getattr(login(request.getfixturevalue(who)), method)(reverse(name, args=[participant.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "arg", "method"),
    [
        ("dashboard:open_case", None, "put"),
        ("dashboard:manage_case", "case", "post"),
        ("dashboard:assign_case", "case", "get"),
        ("dashboard:close_case", "case", "get"),
        ("dashboard:reopen_case", "case", "get"),
        ("dashboard:add_participant", "case", "get"),
        ("dashboard:remove_participant", "participant", "get"),
        ("dashboard:edit_participant", "participant", "put"),
    ],
)
def test_wrong_method_is_405(login, therapist, case, name, arg, method):
    args = {"case": [case.pk], "participant": [case.participants.get().pk], None: []}[arg]
    assert getattr(login(therapist), method)(reverse(name, args=args)).status_code == 405


def test_anonymous_visitors_are_sent_to_login(client, case):
    for url in (manage_url(case), reverse("dashboard:open_case")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


# --- assignment and transfer ----------------------------------------------------------------------


def test_a_transfer_takes_the_case_its_sessions_and_flags_from_the_old_therapist_at_once(
    login, case, therapist, colleague, clinic_admin
):
    session = make_session(case)
    participant = case.participants.get()
    flag = Signal.objects.create(case=case, participant=participant, kind="low_score", severity="warning", message="m")
    response = login(clinic_admin).post(reverse("dashboard:assign_case", args=[case.pk]), {"therapist": colleague.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.therapist == colleague
    old = login(therapist)
    assert old.get(reverse("dashboard:case", args=[case.pk])).status_code == 404
    assert old.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "no_show"}).status_code == 404
    assert old.post(reverse("dashboard:acknowledge_signal", args=[flag.pk])).status_code == 404
    new = login(colleague)
    page = new.get(reverse("dashboard:case", args=[case.pk])).content.decode()
    assert "Low alliance" in page  # the open flag moved with the case
    history = new.get(manage_url(case)).content.decode()
    assert f"from {therapist.full_name} to {colleague.full_name}" in history and clinic_admin.full_name in history


def test_a_therapist_cannot_transfer_their_own_case(login, case, therapist, colleague):
    response = login(therapist).post(reverse("dashboard:assign_case", args=[case.pk]), {"therapist": colleague.pk})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.therapist == therapist


def test_an_admin_assigns_an_unassigned_case(login, clinic, clinic_admin, therapist):
    case = Case.objects.create(clinic=clinic, reference="NOBODY")
    case.participants.create(display_name="Ana")
    assert (
        login(clinic_admin)
        .post(reverse("dashboard:assign_case", args=[case.pk]), {"therapist": therapist.pk})
        .status_code
        == 302
    )
    case.refresh_from_db()
    assert case.therapist == therapist


def test_a_transfer_to_another_clinics_therapist_is_refused(login, case, clinic_admin, outsider, therapist):
    response = login(clinic_admin).post(reverse("dashboard:assign_case", args=[case.pk]), {"therapist": outsider.pk})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.therapist == therapist


# --- closing and reopening ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["therapist", "clinic_admin"])
def test_the_therapist_or_an_admin_closes_with_an_outcome_and_reopens(login, request, case, who):
    user = request.getfixturevalue(who)
    client = login(user)
    response = client.post(
        reverse("dashboard:close_case", args=[case.pk]),
        {"outcome": "dropped_out", "closed_on": case.opened_on.isoformat()},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "dropped_out")
    assert CaseEvent.objects.get(case=case, action="closed").actor == user
    assert "Reopen the case" in client.get(manage_url(case)).content.decode()
    assert client.post(reverse("dashboard:reopen_case", args=[case.pk])).status_code == 302
    case.refresh_from_db()
    assert case.is_active and CaseEvent.objects.get(case=case, action="reopened").actor == user


def test_closing_needs_an_outcome_and_a_date_not_in_the_future(login, case, therapist):
    client = login(therapist)
    url = reverse("dashboard:close_case", args=[case.pk])
    assert client.post(url, {"closed_on": case.opened_on.isoformat()}).status_code == 400
    body = client.post(url, {"outcome": "other", "closed_on": "2999-01-01"}).content.decode()
    assert "cannot be in the future" in body
    case.refresh_from_db()
    assert case.is_active


def test_an_admin_still_cannot_record_sessions_or_handle_flags(login, case, clinic_admin):
    session = make_session(case)
    flag = Signal.objects.create(
        case=case, participant=case.participants.get(), kind="low_score", severity="warning", message="m"
    )
    client = login(clinic_admin)
    assert client.post(reverse("dashboard:record_session", args=[session.pk]), {"status": "no_show"}).status_code == 403
    assert client.post(reverse("dashboard:acknowledge_signal", args=[flag.pk])).status_code == 403
    assert client.post(reverse("dashboard:resolve_signal", args=[flag.pk]), {"repair": "referred"}).status_code == 403


# --- clients --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["therapist", "clinic_admin"])
def test_correcting_a_clients_contact_details_and_language(login, request, case, who):
    participant = case.participants.get()
    client = login(request.getfixturevalue(who))
    url = reverse("dashboard:edit_participant", args=[participant.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"display_name": participant.display_name, "email": " New@Example.test ", "phone": "", "language": "es"}
    )
    assert response.status_code == 302
    participant.refresh_from_db()
    assert (participant.email, participant.language) == ("new@example.test", "es")
    assert client.post(url, {"display_name": "", "email": "x", "language": "es"}).status_code == 400


def test_a_family_member_is_added_and_leaves_without_losing_history(login, therapist):
    family = make_case(therapist, kind="family", participants=["Ana", "Ben", "Cy"])
    client = login(therapist)
    response = client.post(
        reverse("dashboard:add_participant", args=[family.pk]),
        {"display_name": "Dee", "email": "", "phone": "", "language": "en"},
    )
    assert response.status_code == 302
    ben = family.participants.get(display_name="Ben")
    assert client.post(reverse("dashboard:remove_participant", args=[ben.pk])).status_code == 302
    ben.refresh_from_db()
    assert not ben.is_active and family.participants.count() == 4
    assert "Ben (left the case)" in client.get(manage_url(family)).content.decode()


def test_a_couple_takes_no_third_client(login, couple_case, therapist):
    client = login(therapist)
    response = client.post(
        reverse("dashboard:add_participant", args=[couple_case.pk]),
        {"display_name": "Third", "email": "", "phone": "", "language": "en"},
        follow=True,
    )
    assert "Only a family case takes more clients." in response.content.decode()
    assert couple_case.participants.count() == 2


def test_the_case_and_caseload_pages_link_to_case_administration(login, case, therapist, clinic_admin):
    assert manage_url(case) in login(therapist).get(reverse("dashboard:case", args=[case.pk])).content.decode()
    caseload = login(clinic_admin).get(reverse("dashboard:caseload")).content.decode()
    assert reverse("dashboard:open_case") in caseload and reverse("dashboard:import_cases") in caseload
    assert reverse("dashboard:import_cases") not in login(therapist).get(reverse("dashboard:caseload")).content.decode()
