"""Plain builders for test data: explicit arguments, sensible defaults, no magic."""

import itertools
import secrets
import time
from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Clinic, User
from measures.actions.invitations import do_issue_token
from measures.actions.responses import store_response
from measures.models import Instrument, InvitationToken, SurveyInvitation
from sessions_app.models import Case, Participant, TherapySession

PASSWORD = "correct-horse-battery"
# The item codes of the default instrument's six ratings, and of the two couple/family items.
RATING_CODES = ("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust")
SHARED_CODES = ("shared_purpose", "shared_safety")
_counter = itertools.count(1)

# The clinic settings form (dashboard:clinic_settings) as it stands for a clinic on the default settings.
CLINIC_SETTINGS_FORM = {
    "alliance_cutoff": "7.0",
    "invitation_expiry_days": "4",
    "reminder_after_days": "2",
    "time_zone": "UTC",
    "languages": ["en", "es"],
    "instrument_code": "alliance-check",
    "sensitivity": "standard",
    "false_flag_budget": "8",
    "client_contact": "",
    "notes_readers": "team",
}


def post_clinic_settings(client, **changes):
    """Post the clinic settings form: the default settings with these fields changed."""
    return client.post(reverse("dashboard:clinic_settings"), {**CLINIC_SETTINGS_FORM, **changes})


def make_clinic(name=None, **fields):
    n = next(_counter)
    return Clinic.objects.create(name=name or f"Clinic {n}", slug=f"clinic-{n}", **fields)


def make_user(clinic, role=User.Role.THERAPIST, name=None, **fields):
    n = next(_counter)
    return User.objects.create_user(
        f"user{n}@example.test", PASSWORD, full_name=name or f"Therapist {n}", role=role, clinic=clinic, **fields
    )


def make_case(therapist, kind=Case.Kind.INDIVIDUAL, participants=None, reference=None, **fields):
    n = next(_counter)
    case = Case.objects.create(
        clinic=therapist.clinic, therapist=therapist, kind=kind, reference=reference or f"C-{n}", **fields
    )
    default_count = {Case.Kind.INDIVIDUAL: 1, Case.Kind.COUPLE: 2, Case.Kind.FAMILY: 3}[kind]
    names = participants or [f"Client{n}{chr(97 + i)} Test" for i in range(default_count)]
    for index, name in enumerate(names):
        Participant.objects.create(case=case, display_name=name, email=f"client{n}{index}@example.test")
    return case


def make_session(case, days_ago=0, status=TherapySession.Status.ATTENDED, **fields):
    start = fields.pop("scheduled_start", None) or timezone.now() - timedelta(days=days_ago, hours=1)
    return TherapySession.objects.create(case=case, scheduled_start=start, status=status, **fields)


def make_invitation(session, participant, *, days_valid=4, token_purpose=InvitationToken.Purpose.EMAIL, **fields):
    """An invitation and a live token for it: returns (invitation, token)."""
    now = timezone.now()
    invitation = SurveyInvitation.objects.create(
        session=session,
        participant=participant,
        created_at=fields.pop("created_at", now),
        expires_at=fields.pop("expires_at", now + timedelta(days=days_valid)),
        **fields,
    )
    return invitation, do_issue_token(invitation, token_purpose)


def answer_values(items, goals=8, tasks=8, bond=8, shared=8, rupture=False, discussed=None):
    """Item values giving these whole-number subscale scores."""
    by_subscale = {"goals": goals, "tasks": tasks, "bond": bond, "shared": shared}
    values = {item.code: by_subscale[item.subscale] for item in items if item.kind == "rating"}
    values["rupture"] = rupture
    if rupture:
        values["rupture_discussed"] = discussed
    return values


def make_response(session, participant, goals=8, tasks=8, bond=8, rupture=False, discussed=None):
    """A completed check with item answers and stored scores, as a submission would leave it."""
    case = session.case
    items = Instrument.objects.for_clinic(case.clinic).items.for_case(case)
    values = answer_values(items, goals, tasks, bond, rupture=rupture, discussed=discussed)
    invitation, _ = make_invitation(
        session,
        participant,
        completed_at=session.scheduled_start + timedelta(hours=1),
        created_at=session.scheduled_start,
        days_valid=4,
    )
    return store_response(invitation, items, values, submitted_at=session.scheduled_start + timedelta(hours=1))


def score(value):
    return Decimal(str(value)).quantize(Decimal("0.01"))


def give_history(case, totals, *, start_days_ago=None):
    """Weekly attended sessions for the case's first participant, one per total, each answered with
    that score on every subscale (None: attended, not answered). The first session is
    `start_days_ago` days ago; by default the last one is a week ago. Returns the participant."""
    participant = case.participants.first()
    days = start_days_ago if start_days_ago is not None else 7 * len(totals)
    for index, total in enumerate(totals):
        session = make_session(case, days_ago=days - 7 * index)
        if total is not None:
            make_response(session, participant, goals=total, tasks=total, bond=total)
    return participant


def fresh_address():
    """An IPv6 documentation address of its own, so no other test's rate-limit counters count against it."""
    return f"2001:db8::{secrets.token_hex(4)}"


def own_address_client(**defaults):
    """A test client with an address of its own: the rate-limit counters live in the shared cache
    (Redis when REDIS_URL is set) and outlive a test, so a client on 127.0.0.1 would run them up."""
    return Client(REMOTE_ADDR=fresh_address(), **defaults)


def password_login(client, email, password):
    """Sign in through the real login page (lock-out counting included, as a person would):
    True when it signed in, second factor included. Django's Client.login bypasses the page and gives
    django-axes no request."""
    from django.urls import reverse

    client.post(reverse("accounts:login"), {"username": email, "password": password})
    if "_auth_user_id" not in client.session:
        return False
    # Then the second factor, with the code the user's app shows (enrolled beforehand if need be).
    device = make_totp_device(User.objects.get(pk=client.session["_auth_user_id"]))
    client.post(reverse("accounts:second_factor_verify"), {"code": totp_code(device)})
    return DEVICE_ID_SESSION_KEY in client.session


def make_totp_device(user):
    """The user's confirmed authenticator (made once): as if they had enrolled."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)


def totp_code(device):
    """The code the user's app shows now, as a 6-digit string. django-otp refuses a time step
    already used (no replay) and accepts one step ahead: a second sign-in within the same 30 s
    uses the next step's code, and a third waits for the clock."""
    device.refresh_from_db()
    while True:
        step_now = int((time.time() - device.t0) // device.step)
        if device.last_t < step_now + 1:
            break
        time.sleep(0.5)
    drift = 1 if device.last_t >= step_now else 0
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift=drift):06d}"


def verified_login(client, user):
    """Sign `user` in with a second factor already verified, as after a right code (most tests
    are about what a signed-in person sees, not about signing in)."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = make_totp_device(user).persistent_id
    session.save()
    return client
