"""State changes of clinic staff and clinic settings: the only code that writes these rows.

Every change of who may act for a clinic (an invitation, a deactivation, a role) takes the
clinic's row lock first, so two admins acting at once are serialised and the last-admin rule
cannot be broken by a race (two admins demoting each other at the same moment).
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_otp import devices_for_user

from .models import Clinic, ClinicSettingChange, SecondFactorReset, StaffInvitation, User, hash_token
from .second_factor import new_recovery_codes

logger = logging.getLogger(__name__)

INVITATION_VALID_FOR = timedelta(hours=72)


class StaffChangeRefused(Exception):
    """The change would break a rule (the last admin, an address already in use): the message says which."""


class InvitationUnusable(Exception):
    """The link is unknown, used, revoked or expired."""


def _check_manages(acting_user, clinic_id):
    if acting_user.is_superuser or (acting_user.is_clinic_admin and acting_user.clinic_id == clinic_id):
        return
    raise PermissionDenied("Only the clinic's admins manage its staff")


def _lock_clinic(clinic_id):
    return Clinic.objects.select_for_update().get(pk=clinic_id)


def invitation_url(token):
    return settings.SITE_URL + reverse("accounts:accept_invitation", args=[token])


def do_invite_staff(clinic, *, email, full_name, role, acting_user, now=None):
    """Invite `email` to `clinic` as `role` (therapist or admin). Returns the StaffInvitation.

    No account exists until the link is used (do_accept_staff_invitation), and nobody but the
    invitee chooses its password. Only the token's hash is stored; the email carrying the link
    is sent once the transaction commits, and sent_at is set only when it went out (an invitation
    still unsent later is reported as bouncing). An earlier pending invitation of the same
    address to this clinic is revoked: only the latest link works.
    """
    _check_manages(acting_user, clinic.pk)
    now = now or timezone.now()
    email = email.strip().lower()
    if role not in (User.Role.THERAPIST, User.Role.CLINIC_ADMIN):
        raise StaffChangeRefused("Invite a therapist or a clinic admin.")
    with transaction.atomic():
        _lock_clinic(clinic.pk)
        if User.objects.filter(email__iexact=email).exists():
            raise StaffChangeRefused(f"{email} already has an account.")
        StaffInvitation.objects.pending(now).filter(clinic=clinic, email=email).update(revoked_at=now)
        token = secrets.token_urlsafe(32)
        invitation = StaffInvitation.objects.create(
            clinic=clinic,
            email=email,
            full_name=full_name.strip(),
            role=role,
            token_hash=hash_token(token),
            invited_by=acting_user,
            created_at=now,
            expires_at=now + INVITATION_VALID_FOR,
        )
        transaction.on_commit(lambda: send_staff_invitation_email(invitation.pk, token))
    return invitation


def do_resend_staff_invitation(invitation, *, acting_user, now=None):
    """A fresh link (the old one stops working) valid for another 72 hours, emailed on commit."""
    _check_manages(acting_user, invitation.clinic_id)
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        _lock_clinic(invitation.clinic_id)
        updated = StaffInvitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(token_hash=hash_token(token), expires_at=now + INVITATION_VALID_FOR, sent_at=None)
        if not updated:
            raise StaffChangeRefused("This invitation was already used or withdrawn.")
        transaction.on_commit(lambda: send_staff_invitation_email(invitation.pk, token))


def send_staff_invitation_email(invitation_id, token):
    """Email the link, plain text, nothing but the clinic's name and the link. A failure is
    logged and leaves sent_at empty (the admin digest lists it; the admin can resend)."""
    invitation = StaffInvitation.objects.select_related("clinic").get(pk=invitation_id)
    hours = int(INVITATION_VALID_FOR.total_seconds() // 3600)
    context = {"invitation": invitation, "url": invitation_url(token), "hours": hours}
    subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
    body = render_to_string("accounts/email/invitation_body.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    except Exception:  # SMTP refusals and outages alike: recorded as "not sent", never a 500 for the admin
        logger.exception("staff invitation %s could not be emailed", invitation_id)
        return False
    StaffInvitation.objects.filter(pk=invitation_id, sent_at__isnull=True).update(sent_at=timezone.now())
    return True


def do_accept_staff_invitation(invitation, password, *, now=None):
    """Use the invitation once: create the account with the invitee's own password. Returns the user.

    The invitation is claimed with a conditional update, so two submissions of the same link
    create one account; the loser (or an expired or withdrawn link) gets InvitationUnusable.
    """
    now = now or timezone.now()
    with transaction.atomic():
        claimed = StaffInvitation.objects.pending(now).filter(pk=invitation.pk).update(accepted_at=now)
        if not claimed:
            raise InvitationUnusable("This link was already used, withdrawn or has expired.")
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    invitation.email,
                    password,
                    full_name=invitation.full_name,
                    role=invitation.role,
                    clinic_id=invitation.clinic_id,
                )
        except IntegrityError:
            raise InvitationUnusable("An account with this address exists already: please log in.") from None
        StaffInvitation.objects.filter(pk=invitation.pk).update(user=user)
    return user


def _other_active_admins(member):
    return User.objects.filter(clinic_id=member.clinic_id, role=User.Role.CLINIC_ADMIN, is_active=True).exclude(
        pk=member.pk
    )


def _refuse_if_last_admin(member, what):
    if member.is_active and member.is_clinic_admin and not _other_active_admins(member).exists():
        raise StaffChangeRefused(f"{member} is the clinic's last active admin and cannot be {what}.")


def do_deactivate_user(member, *, acting_user):
    """Deactivate a staff member: they cannot log in and every session of theirs ends at once
    (session_epoch is part of the session hash). Their cases stay theirs, listed on the admin's
    home as needing a new therapist. The clinic's last active admin cannot be deactivated.
    Returns False if they were inactive already."""
    _check_manages(acting_user, member.clinic_id)
    with transaction.atomic():
        _lock_clinic(member.clinic_id)
        member.refresh_from_db(fields=["is_active", "role"])
        if not member.is_active:
            return False
        _refuse_if_last_admin(member, "deactivated")
        User.objects.filter(pk=member.pk).update(is_active=False, session_epoch=F("session_epoch") + 1)
    member.refresh_from_db(fields=["is_active", "session_epoch"])
    return True


def do_reactivate_user(member, *, acting_user):
    """Let a deactivated member log in again (with a new session: old cookies stay dead)."""
    _check_manages(acting_user, member.clinic_id)
    with transaction.atomic():
        _lock_clinic(member.clinic_id)
        changed = User.objects.filter(pk=member.pk, is_active=False).update(is_active=True)
    member.refresh_from_db(fields=["is_active"])
    return bool(changed)


def do_change_role(member, role, *, acting_user):
    """Make a member a therapist or a clinic admin. The last active admin cannot be demoted,
    checked under the clinic's lock (two admins demoting each other at once: one is refused)."""
    _check_manages(acting_user, member.clinic_id)
    if role not in (User.Role.THERAPIST, User.Role.CLINIC_ADMIN):
        raise StaffChangeRefused("A clinic's staff are therapists or clinic admins.")
    with transaction.atomic():
        _lock_clinic(member.clinic_id)
        member.refresh_from_db(fields=["is_active", "role"])
        if member.role == role:
            return False
        if role != User.Role.CLINIC_ADMIN:
            _refuse_if_last_admin(member, "made a therapist")
        User.objects.filter(pk=member.pk).update(role=role)
    member.refresh_from_db(fields=["role"])
    return True


def do_confirm_second_factor(device, token):
    """Enrolment: confirm the user's pending TOTP device with a code from their app, and give them
    fresh recovery codes. Returns the codes (shown once) or None when the code is wrong or the
    device is throttled (the failure is counted by django-otp)."""
    with transaction.atomic():
        if not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One authenticator per person: any other pending device of theirs goes.
        type(device).objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
        return new_recovery_codes(device.user)


def do_reset_second_factor(member, *, acting_user, address=""):
    """An admin resets a colleague's second factor: every device of theirs (authenticator and
    recovery codes) is deleted, every session of theirs ends (session_epoch), the reset is
    recorded, and they enrol again at their next sign-in. Admins reset colleagues, not themselves
    (their own would need no one's leave: a stolen session could swap the authenticator)."""
    _check_manages(acting_user, member.clinic_id)
    if member.pk == acting_user.pk:
        raise StaffChangeRefused("You cannot reset your own second factor: ask another admin of the clinic.")
    with transaction.atomic():
        for device in devices_for_user(member, confirmed=None):
            device.delete()
        User.objects.filter(pk=member.pk).update(session_epoch=F("session_epoch") + 1)
        record = SecondFactorReset.objects.create(
            clinic_id=member.clinic_id, member=member, actor=acting_user, address=address
        )
    member.refresh_from_db(fields=["session_epoch"])
    return record


# Clinic settings an admin may change, in the order the settings page shows them.
CLINIC_SETTINGS = (
    "alliance_cutoff",
    "invitation_expiry_days",
    "reminder_after_days",
    "time_zone",
    "languages",
    "instrument_code",
    "sensitivity",
    "false_flag_budget",
    "client_contact",
    "notes_readers",
)


def do_change_clinic_settings(clinic, values, *, acting_user, now=None):
    """Apply the settings in `values` (validated by the form) and record each change with who
    and when, one ClinicSettingChange per field that changed. Returns the changed field names."""
    _check_manages(acting_user, clinic.pk)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_clinic(clinic.pk)
        changed = []
        for name in CLINIC_SETTINGS:
            if name not in values or getattr(locked, name) == values[name]:
                continue
            ClinicSettingChange.objects.create(
                clinic=locked,
                field=name,
                old_value=_text(getattr(locked, name)),
                new_value=_text(values[name]),
                actor=acting_user,
                changed_at=now,
            )
            setattr(locked, name, values[name])
            changed.append(name)
        if changed:
            locked.full_clean()
            locked.save(update_fields=changed)
    for name in changed:
        setattr(clinic, name, getattr(locked, name))
    return changed


def _text(value):
    return ", ".join(value) if isinstance(value, list) else str(value)
