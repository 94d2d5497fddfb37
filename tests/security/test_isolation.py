"""Isolation, generated: every route of the URL configuration, visited by every kind of visitor,
GET and POST, against ONE table of what each of them must get (issue 13.8).

The walk reads `get_resolver()`, so a new URL without a row in EXPECTED fails
`test_every_route_has_a_row` with its name. Each route's ids point at rows of clinic A owned by
its therapist (the import and the staff invitation, which only an admin makes, by clinic A's
admin). Every request runs in a savepoint rolled back afterwards, so the walk is order-free; a
request the table says must be refused is also checked to have changed nothing in either clinic
before the rollback, and a POST from anyone outside clinic B to have changed nothing in clinic B.

The visitors:
- anonymous: a browser with no session;
- client: the browser a client was handed in the tablet room (it holds a live survey link in its
  session, the therapist signed out of it);
- therapist: the case's therapist; colleague: another therapist of clinic A; admin: clinic A's
  admin (reads clinical records, may not write them, administers cases and staff);
- outsider / outsider_admin: a therapist and the admin of clinic B;
- operator: a superuser with no clinic (the Django admin at /operator/ only).

POST has an empty body, through a client that skips CSRF (the token is not what is under test).
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Clinic, ClinicSettingChange, StaffInvitation, User, hash_token
from measures.models import ExportRecord, InvitationToken, Response, Signal, SignalAction, SurveyInvitation
from sessions_app.models import Case, CaseEvent, CaseImport, Participant, TherapySession
from tests.builders import (
    fresh_address,
    make_case,
    make_clinic,
    make_invitation,
    make_session,
    make_user,
    verified_login,
)
from tests.dashboard.flags import make_signal

PERSONAS = ("anonymous", "client", "therapist", "colleague", "admin", "outsider", "outsider_admin", "operator")
STAFF = ("therapist", "colleague", "admin", "outsider", "outsider_admin", "operator")
CLINIC_STAFF = ("therapist", "colleague", "admin", "outsider", "outsider_admin")

# What one visitor gets from one method:
LOGIN = "login"  # 302 to the staff sign-in page
ADMIN_LOGIN = "admin_login"  # 302 to the operator's sign-in page
OK = "ok"  # allowed, and an empty POST is answered: 200, a 302, or 400 for the form's errors
ALLOWED = {200, 302, 400}
REFUSALS = {403, 404, 405, LOGIN, ADMIN_LOGIN}


def kind(get=None, post=None, **overrides):
    """A row: {persona: (GET, POST)}. `get`/`post` give everyone's default answer (405 when the method is
    not served: the method check comes first, for everyone); an override is an (answer for GET, answer for
    POST) pair, or one answer for whichever methods the route serves."""
    get_default, post_default = get or 405, post or 405
    row = {}
    for persona in PERSONAS:
        value = overrides.get(persona)
        if value is None:
            row[persona] = (get_default, post_default)
        elif isinstance(value, tuple):
            row[persona] = value
        else:
            row[persona] = (value if get else 405, value if post else 405)
    return row


def clinical(get=False, post=False, *, admin):
    """A case's clinical record (ids of clinic A's therapist): its therapist may; a colleague and
    another clinic do not see it exists (404); the clinic admin gets `admin`; the operator, with no
    clinic, is no clinic staff (403); a signed-out browser is sent to sign in."""
    refused = {"colleague": 404, "outsider": 404, "outsider_admin": 404, "operator": 403}
    answers = {"therapist": OK, "admin": admin, "anonymous": LOGIN, "client": LOGIN, **refused}
    return kind(get=OK if get else None, post=OK if post else None, **answers)


def read(admin=OK):
    return clinical(get=True, admin=admin)


def write(get=False, admin=403):
    return clinical(get=get, post=True, admin=admin)


def manage(get=False):
    return clinical(get=get, post=True, admin=OK)


def assign():
    return clinical(post=True, admin=OK) | {"therapist": (405, 403)}


def admin_of_a(get=False, post=False):
    """Clinic administration of a row of clinic A: its admin; other staff 403; clinic B's admin 404."""
    answers = dict.fromkeys(STAFF, 403) | {"admin": OK, "outsider_admin": 404}
    return kind(get=OK if get else None, post=OK if post else None, anonymous=LOGIN, client=LOGIN, **answers)


def admin_page(get=False, post=False):
    """An admin's page of their own clinic (no ids): each clinic's admin; other staff 403."""
    answers = dict.fromkeys(STAFF, 403) | {"admin": OK, "outsider_admin": OK}
    return kind(get=OK if get else None, post=OK if post else None, anonymous=LOGIN, client=LOGIN, **answers)


def staff_page(get=False, post=False):
    """A clinic member's own page (no ids): every clinic's staff; the operator has no clinic (403)."""
    return kind(get=OK if get else None, post=OK if post else None, anonymous=LOGIN, client=LOGIN, operator=403)


def signed_in(get=False, post=False):
    """Any signed-in account's own page (password change): the operator too."""
    return kind(get=OK if get else None, post=OK if post else None, anonymous=LOGIN, client=LOGIN)


def public(get=False, post=False, **overrides):
    """Signed out by nature: every visitor alike (a survey: its link is the key, staff are not special)."""
    return kind(get=OK if get else None, post=OK if post else None, **overrides)


EXPECTED = {
    # accounts
    "accounts:home": kind(get=302, anonymous=LOGIN, client=LOGIN),
    "accounts:login": public(get=True, post=True),
    "accounts:logout": public(post=True),
    "accounts:users": admin_page(get=True),
    "accounts:invite_staff": admin_page(post=True),
    "accounts:deactivate_staff": admin_of_a(post=True),
    "accounts:reactivate_staff": admin_of_a(post=True),
    "accounts:change_role": admin_of_a(post=True),
    "accounts:reset_second_factor": admin_of_a(post=True),
    # After the password: a verified session is sent on (302); a signed-out browser to sign in.
    "accounts:second_factor_enrol": signed_in(get=True, post=True),
    "accounts:second_factor_verify": signed_in(get=True, post=True),
    "accounts:resend_invitation": admin_of_a(post=True),
    "accounts:accept_invitation": public(get=True, post=True),
    "accounts:password_reset": public(get=True, post=True),
    "accounts:password_reset_done": public(get=True),
    "accounts:password_reset_confirm": public(get=True, post=True),
    "accounts:password_reset_complete": public(get=True),
    "accounts:password_change": signed_in(get=True, post=True),
    # A class-based view: its sign-in check comes before its method check.
    "accounts:password_change_done": signed_in(get=True) | {"anonymous": (LOGIN, LOGIN), "client": (LOGIN, LOGIN)},
    # surveys
    "surveys:survey": public(get=True, post=True),
    "surveys:survey_done": public(get=True),
    # The room's buttons: only the room's own browser gets on; staff sessions are refused or
    # sent to sign in, and nobody ends the room without its token.
    "surveys:room_next": public(post=True, anonymous=LOGIN, **dict.fromkeys(STAFF, LOGIN)),
    "surveys:room_end": public(post=True, anonymous=LOGIN, client=403, **dict.fromkeys(STAFF, 403)),
    "surveys:complete_now": write(),
    "surveys:participant_qr": clinical(get=True, admin=403),
    # dashboard: the case record
    "dashboard:caseload": staff_page(get=True),
    "dashboard:case": read(),
    "dashboard:schedule_session": write(),
    "dashboard:record_session": write(),
    "dashboard:send_checks": write(),
    "dashboard:reschedule_session": write(get=True),
    "dashboard:delete_session": write(get=True),
    "dashboard:acknowledge_signal": write(),
    "dashboard:resolve_signal": write(),
    "dashboard:notification_settings": staff_page(get=True, post=True),
    # dashboard: case administration
    "dashboard:open_case": staff_page(get=True, post=True),
    "dashboard:manage_case": clinical(get=True, admin=OK),
    "dashboard:assign_case": assign(),
    "dashboard:close_case": manage(),
    "dashboard:reopen_case": manage(),
    "dashboard:add_participant": manage(),
    "dashboard:edit_participant": manage(get=True),
    "dashboard:remove_participant": manage(),
    "dashboard:import_cases": admin_page(get=True, post=True),
    "dashboard:confirm_import": admin_of_a(post=True),
    "dashboard:exports": admin_page(get=True),
    "dashboard:overview": staff_page(get=True),
    "dashboard:report_clinic": staff_page(get=True),
    "dashboard:report_case": read(),
    "dashboard:export_download": admin_page(post=True),
    "dashboard:clinic_home": admin_page(get=True),
    "dashboard:clinic_settings": admin_page(get=True, post=True),
    # audit
    "audit:log": admin_page(get=True),
    "audit:export": admin_page(get=True),
    # The operator's Django admin: one family. Its index is the operator's alone; its sign-in page
    # shows everyone else the form (a clinic account is no operator) and sends the operator in.
    "admin:index": kind(get=ADMIN_LOGIN, post=ADMIN_LOGIN, operator=OK),
    "admin:login": public(get=True, post=True, operator=(302, OK)),
}
# The Django admin's own pages (changelists, change forms...) sit behind the same check as its index.
ADMIN_INTERNAL = "admin:"
ADMIN_WALKED = {"admin:index", "admin:login"}


def routes(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name or ''}", pattern


def walked_routes():
    found = {}
    for name, pattern in routes():
        if name.startswith(ADMIN_INTERNAL) and name not in ADMIN_WALKED:
            continue
        found[name] = pattern
    return found


def test_every_route_has_a_row():
    unnamed = [
        str(pattern.pattern)
        for name, pattern in routes()
        if (name.endswith(":") or not name) and not name.startswith(ADMIN_INTERNAL)
    ]
    assert not unnamed, f"routes without a name cannot be in the isolation table: {unnamed}"
    missing = sorted(set(walked_routes()) - set(EXPECTED))
    assert not missing, f"routes with no row in tests/security/test_isolation.py EXPECTED: {missing}"


def test_every_row_is_a_route():
    stale = sorted(set(EXPECTED) - set(walked_routes()))
    assert not stale, f"rows for routes that no longer exist: {stale}"
    for name, row in EXPECTED.items():
        assert set(row) == set(PERSONAS), name


# The world ----------------------------------------------------------------------------------------


def build_world():
    clinic_a, clinic_b = make_clinic("Clinic A"), make_clinic("Clinic B")
    people = {
        "therapist": make_user(clinic_a, name="Tess Owner"),
        "colleague": make_user(clinic_a, name="Colin Colleague"),
        "admin": make_user(clinic_a, role=User.Role.CLINIC_ADMIN, name="Ada Admin"),
        "outsider": make_user(clinic_b, name="Otto Outsider"),
        "outsider_admin": make_user(clinic_b, role=User.Role.CLINIC_ADMIN, name="Olga Outsider"),
        "operator": User.objects.create_superuser("operator@example.test", "x" * 16, full_name="Op Erator"),
    }
    therapist = people["therapist"]
    case = make_case(therapist, kind=Case.Kind.COUPLE, participants=["Robin Rivera", "Jordan Rivera"])
    first, second = case.participants.order_by("pk")
    session = make_session(case, days_ago=0)
    _, survey_token = make_invitation(session, first)
    signal = make_signal(case, first)
    pending_import = CaseImport.objects.create(
        clinic=clinic_a, uploaded_by=people["admin"], cases_csv="reference,therapist_email\n", history_csv=""
    )
    invitation_token = "staff-invitation-token-for-the-walk"
    staff_invitation = StaffInvitation.objects.create(
        clinic=clinic_a, email="new@example.test", full_name="New Person", role=User.Role.THERAPIST,
        token_hash=hash_token(invitation_token), invited_by=people["admin"],
        expires_at=timezone.now() + timedelta(days=3),
    )
    # Clinic B has its own record, which nothing in clinic A's walk may touch.
    other_case = make_case(people["outsider"])
    other_session = make_session(other_case, days_ago=1)
    make_invitation(other_session, other_case.participants.first())
    make_signal(other_case)

    clients = {}
    for persona in PERSONAS:
        browser = Client(REMOTE_ADDR=fresh_address(), enforce_csrf_checks=False)
        if persona in people:
            verified_login(browser, people[persona])
        clients[persona] = browser
    # The client: the therapist hands the tablet over (complete-now), which signs them out of it.
    room = clients["client"]
    verified_login(room, therapist)
    handed = room.post(reverse("surveys:complete_now", args=[session.pk, second.pk]))
    assert handed.status_code == 302 and "/s/" in handed["Location"], handed
    assert "_auth_user_id" not in room.session

    kwargs = {
        "case_id": case.pk,
        "session_id": session.pk,
        "participant_id": second.pk,
        "signal_id": signal.pk,
        "import_id": pending_import.pk,
        "invitation_id": staff_invitation.pk,
        "member_id": therapist.pk,
        "kind": ExportRecord.Kind.SCORES,
        "uidb64": urlsafe_base64_encode(force_bytes(therapist.pk)),
    }
    route_kwargs = {
        "surveys:survey": {"token": survey_token},
        "accounts:accept_invitation": {"token": invitation_token},
        "accounts:password_reset_confirm": {
            "uidb64": kwargs["uidb64"],
            "token": default_token_generator.make_token(therapist),
        },
    }
    cookies = {persona: browser.cookies.get(settings.SESSION_COOKIE_NAME) for persona, browser in clients.items()}
    return {
        "clinics": (clinic_a, clinic_b),
        "people": people,
        "clients": clients,
        "cookies": {p: c.value for p, c in cookies.items() if c is not None},
        "kwargs": kwargs,
        "route_kwargs": route_kwargs,
    }


def url_for(world, name, pattern):
    if name in world["route_kwargs"]:
        return reverse(name, kwargs=world["route_kwargs"][name])
    params = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
    missing = [p for p in params if p not in world["kwargs"]]
    assert not missing, f"{name}: the walk has no row of clinic A for {missing} (add one in build_world)"
    return reverse(name, kwargs={p: world["kwargs"][p] for p in params})


def state_queries(clinic):
    """The SQL of `clinic_state`'s reads for one clinic, compiled once: the walk takes a clinic's state
    about a thousand times, and building the same fifteen querysets each time cost most of its run.
    The subqueries (the clinic's cases, sessions...) are part of the SQL, so each run reads afresh."""
    cases = Case.objects.filter(clinic=clinic)
    sessions = TherapySession.objects.filter(case__in=cases)
    invitations = SurveyInvitation.objects.filter(session__in=sessions)
    signals = Signal.objects.filter(case__in=cases)
    querysets = [
        Clinic.objects.filter(pk=clinic.pk),
        ClinicSettingChange.objects.filter(clinic=clinic),
        User.objects.filter(clinic=clinic).defer("last_login"),
        StaffInvitation.objects.filter(clinic=clinic),
        cases,
        Participant.objects.filter(case__in=cases),
        sessions,
        CaseEvent.objects.filter(case__in=cases),
        CaseImport.objects.filter(clinic=clinic),
        invitations,
        InvitationToken.objects.filter(invitation__in=invitations),
        Response.objects.filter(session__in=sessions),
        signals,
        SignalAction.objects.filter(signal__in=signals),
        ExportRecord.objects.filter(clinic=clinic),
    ]
    return [qs.order_by("pk").values().query.sql_with_params() for qs in querysets]


def clinic_state(queries):
    """Everything of one clinic a request could change (not the access log, which every read appends
    to), as the rows `state_queries` reads."""
    with connection.cursor() as cursor:
        rows = []
        for sql, params in queries:
            cursor.execute(sql, params)
            rows.append(cursor.fetchall())
    return rows


def outcome_matches(expected, response):
    status = response.status_code
    location = response.headers.get("Location", "")
    if expected == OK:
        return status in ALLOWED
    if expected == LOGIN:
        return status == 302 and location.startswith(reverse("accounts:login"))
    if expected == ADMIN_LOGIN:
        return status == 302 and location.startswith(reverse("admin:login"))
    return status == expected


def describe(response):
    location = response.headers.get("Location")
    return f"{response.status_code}" + (f" -> {location}" if location else "")


@pytest.mark.django_db
def test_every_route_answers_every_visitor_as_the_table_says():
    world = build_world()
    clinic_a, clinic_b = world["clinics"]
    queries = {clinic.pk: state_queries(clinic) for clinic in (clinic_a, clinic_b)}
    before = {pk: clinic_state(clinic_queries) for pk, clinic_queries in queries.items()}
    b_people = {"outsider", "outsider_admin"}
    failures, visits = [], 0
    for name, pattern in sorted(walked_routes().items()):
        url = url_for(world, name, pattern)
        for persona in PERSONAS:
            browser = world["clients"][persona]
            for method, expected in zip(("get", "post"), EXPECTED[name][persona], strict=True):
                # Unchanged, whatever it answered: clinic A after a refusal; clinic B after anyone else's POST.
                guard = []
                if expected in REFUSALS:
                    guard.append(clinic_a)
                if method == "post" and persona not in b_people:
                    guard.append(clinic_b)
                visits += 1
                changed = []
                with transaction.atomic():
                    try:
                        response = getattr(browser, method)(url)
                    except Exception as exc:  # the test client re-raises what would be a 500
                        failures.append(f"{method.upper()} {url} [{name}] as {persona}: raised {exc!r}")
                        response = None
                    if response is not None and not transaction.get_rollback():
                        changed = [c.name for c in guard if clinic_state(queries[c.pk]) != before[c.pk]]
                    transaction.set_rollback(True)
                # The rollback also undid a sign-out: put the persona's session cookie back.
                if persona in world["cookies"]:
                    browser.cookies[settings.SESSION_COOKIE_NAME] = world["cookies"][persona]
                if response is None:
                    continue
                if changed:
                    failures.append(f"{method.upper()} {url} [{name}] as {persona} changed {changed}")
                if response.status_code >= 500 or not outcome_matches(expected, response):
                    failures.append(
                        f"{method.upper()} {url} [{name}] as {persona}: got {describe(response)}, expected {expected}"
                    )
    assert not failures, f"{len(failures)} of {visits} visits disagree with EXPECTED:\n" + "\n".join(failures)
    # After the walk (every request rolled back), the world is as it was built.
    assert clinic_state(queries[clinic_a.pk]) == before[clinic_a.pk]
    assert clinic_state(queries[clinic_b.pk]) == before[clinic_b.pk]
    assert len(EXPECTED) >= 50 and visits == len(EXPECTED) * len(PERSONAS) * 2


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["", User.Role.CLINIC_ADMIN])
def test_another_clinics_admin_gets_404_on_a_role_change_whatever_the_form(login, therapist, role):
    """Found by the walk: an empty form used to be answered (302) before the access rule was asked."""
    other_admin = make_user(make_clinic("Clinic B"), role=User.Role.CLINIC_ADMIN)
    response = login(other_admin).post(reverse("accounts:change_role", args=[therapist.pk]), {"role": role})
    assert response.status_code == 404
    therapist.refresh_from_db()
    assert therapist.role == User.Role.THERAPIST
