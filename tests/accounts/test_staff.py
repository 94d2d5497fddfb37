"""Staff: invitations, deactivation and reactivation, roles, the last-admin rule, and who may do it."""

import re
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.actions import (
    StaffChangeRefused,
    do_change_role,
    do_deactivate_user,
    do_invite_staff,
    do_reactivate_user,
)
from accounts.models import StaffInvitation, User, hash_token
from tests.builders import PASSWORD, make_case, make_clinic, make_user, password_login

NEW_PASSWORD = "a-long-unusual-passphrase"


def link_in(message):
    return re.search(r"https?://\S+/invitation/\S+/", message.body).group(0)


def path_of(url):
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def invite(login, clinic_admin, mailoutbox, django_capture_on_commit_callbacks):
    def _invite(email="new.person@example.test", role="therapist", name="Nina New"):
        client = login(clinic_admin)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("accounts:invite_staff"), {"email": email, "full_name": name, "role": role})
        assert response.status_code == 302
        return mailoutbox[-1]

    return _invite


# Invitations ------------------------------------------------------------------------------


def test_an_invited_therapist_sets_their_own_password_and_logs_in(client, clinic, invite, mailoutbox):
    message = invite(email="New.Person@Example.test")
    assert message.to == ["new.person@example.test"]
    assert not message.alternatives  # plain text only
    url = path_of(link_in(message))
    invitation = StaffInvitation.objects.get()
    # Only the hash is stored; the link's token is nowhere in the row.
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash
    assert invitation.sent_at is not None and not User.objects.filter(email="new.person@example.test").exists()
    client.logout()
    assert client.get(url).status_code == 200  # GET does not use the link up (mail scanners)
    assert client.get(url).status_code == 200
    response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    user = User.objects.get(email="new.person@example.test")
    assert user.clinic == clinic and user.role == User.Role.THERAPIST and user.check_password(NEW_PASSWORD)
    assert password_login(client, "new.person@example.test", NEW_PASSWORD)


def test_the_invitation_email_carries_only_the_link(invite):
    message = invite()
    body = message.body
    assert link_in(message) in body
    assert "Northside Therapy" in body and "72 hours" in body
    assert len(re.findall(r"https?://", body)) == 1


def test_an_invitation_link_works_once(client, invite):
    url = path_of(link_in(invite()))
    client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    response = client.post(url, {"new_password1": "another-long-phrase", "new_password2": "another-long-phrase"})
    assert response.status_code == 410
    assert User.objects.get(email="new.person@example.test").check_password(NEW_PASSWORD)


def test_an_invitation_link_expires_after_72_hours(client, invite):
    url = path_of(link_in(invite()))
    with time_machine.travel(timezone.now() + timedelta(hours=72, minutes=1)):
        response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 410
    assert not User.objects.filter(email="new.person@example.test").exists()


def test_a_weak_password_is_refused_and_the_link_still_works(client, invite):
    url = path_of(link_in(invite()))
    response = client.post(url, {"new_password1": "abc", "new_password2": "abc"})
    assert response.status_code == 200 and not User.objects.filter(email="new.person@example.test").exists()
    assert StaffInvitation.objects.get().accepted_at is None


def test_a_new_link_replaces_the_old_one(client, login, clinic_admin, invite, mailoutbox,
                                         django_capture_on_commit_callbacks):
    old = path_of(link_in(invite()))
    invitation = StaffInvitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        login(clinic_admin).post(reverse("accounts:resend_invitation", args=[invitation.pk]))
    new = path_of(link_in(mailoutbox[-1]))
    assert new != old
    client.logout()
    assert client.get(old).status_code == 410
    assert client.get(new).status_code == 200


def test_an_admin_can_invite_another_admin(client, invite, clinic):
    url = path_of(link_in(invite(email="second.admin@example.test", role="admin")))
    client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert User.objects.get(email="second.admin@example.test").is_clinic_admin


def test_an_address_with_an_account_cannot_be_invited(clinic, clinic_admin, outsider):
    with pytest.raises(StaffChangeRefused):
        do_invite_staff(clinic, email=outsider.email.upper(), full_name="X", role="therapist", acting_user=clinic_admin)


def test_a_failed_invitation_email_is_recorded_as_not_sent(clinic, clinic_admin, settings,
                                                           django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.accounts.test_staff.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        invitation = do_invite_staff(
            clinic, email="bounce@example.test", full_name="B", role="therapist", acting_user=clinic_admin
        )
    invitation.refresh_from_db()
    assert invitation.sent_at is None


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server refused")


def test_the_users_page_lists_pending_invitations(login, clinic_admin, invite):
    invite(name="Nina New")
    body = login(clinic_admin).get(reverse("accounts:users")).content.decode()
    assert "Pending invitations" in body and "Nina New" in body


# Who may manage staff ---------------------------------------------------------------------


def staff_posts(member_id, invitation_id=1):
    return [
        (reverse("accounts:invite_staff"), {"email": "x@example.test", "full_name": "X", "role": "therapist"}),
        (reverse("accounts:deactivate_staff", args=[member_id]), {}),
        (reverse("accounts:reactivate_staff", args=[member_id]), {}),
        (reverse("accounts:change_role", args=[member_id]), {"role": "admin"}),
        (reverse("accounts:resend_invitation", args=[invitation_id]), {}),
    ]


def test_therapists_cannot_manage_staff(login, therapist, colleague):
    client = login(therapist)
    assert client.get(reverse("accounts:users")).status_code == 403
    for url, data in staff_posts(colleague.pk):
        assert client.post(url, data).status_code == 403, url
    colleague.refresh_from_db()
    assert colleague.is_active and colleague.role == User.Role.THERAPIST
    assert not StaffInvitation.objects.exists()


def test_other_clinics_staff_are_not_found(login, clinic_admin, outsider):
    other_admin = make_user(outsider.clinic, role=User.Role.CLINIC_ADMIN)
    invitation = do_invite_staff(
        outsider.clinic, email="theirs@example.test", full_name="T", role="therapist", acting_user=other_admin
    )
    client = login(clinic_admin)
    for url, data in staff_posts(outsider.pk, invitation.pk)[1:]:
        assert client.post(url, data).status_code == 404, url
    outsider.refresh_from_db()
    assert outsider.is_active and outsider.role == User.Role.THERAPIST


def test_an_admin_of_another_clinic_cannot_act_through_the_actions(outsider, therapist):
    other_admin = make_user(outsider.clinic, role=User.Role.CLINIC_ADMIN)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        do_deactivate_user(therapist, acting_user=other_admin)
    with pytest.raises(PermissionDenied):
        do_invite_staff(therapist.clinic, email="a@example.test", full_name="A", role="therapist",
                        acting_user=other_admin)


def test_staff_pages_send_anonymous_visitors_to_login_and_refuse_get(client, login, clinic_admin, therapist):
    for url, _data in staff_posts(therapist.pk):
        response = client.post(url)
        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    client = login(clinic_admin)
    for url, _data in staff_posts(therapist.pk):
        assert client.get(url).status_code == 405, url


# Deactivation -----------------------------------------------------------------------------


def test_a_deactivated_therapist_cannot_log_in_and_their_sessions_end(client, login, clinic_admin, therapist):
    from django.test import Client

    theirs = Client()
    assert password_login(theirs, therapist.email, PASSWORD)
    assert theirs.get(reverse("dashboard:caseload")).status_code == 200
    response = login(clinic_admin).post(reverse("accounts:deactivate_staff", args=[therapist.pk]))
    assert response.status_code == 302
    therapist.refresh_from_db()
    assert not therapist.is_active
    response = theirs.get(reverse("dashboard:caseload"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert not password_login(Client(), therapist.email, PASSWORD)


def test_a_reactivated_therapist_logs_in_afresh_old_sessions_stay_ended(clinic_admin, therapist):
    from django.test import Client

    theirs = Client()
    password_login(theirs, therapist.email, PASSWORD)
    do_deactivate_user(therapist, acting_user=clinic_admin)
    do_reactivate_user(therapist, acting_user=clinic_admin)
    response = theirs.get(reverse("dashboard:caseload"))
    assert response.status_code == 302  # the old cookie does not come back to life
    fresh = Client()
    assert password_login(fresh, therapist.email, PASSWORD)
    assert fresh.get(reverse("dashboard:caseload")).status_code == 200


def test_a_deactivated_therapists_cases_stay_and_need_a_new_therapist(login, clinic_admin, therapist, case):
    do_deactivate_user(therapist, acting_user=clinic_admin)
    case.refresh_from_db()
    assert case.therapist_id == therapist.pk and case.status == "active"
    body = login(clinic_admin).get(reverse("dashboard:clinic_home"), {"needs_therapist": "on"}).content.decode()
    assert case.reference in body and "deactivated" in body
    users = login(clinic_admin).get(reverse("accounts:users")).content.decode()
    assert "need a new therapist" in users


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(login, clinic_admin):
    client = login(clinic_admin)
    client.post(reverse("accounts:deactivate_staff", args=[clinic_admin.pk]))
    client.post(reverse("accounts:change_role", args=[clinic_admin.pk]), {"role": "therapist"})
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_active and clinic_admin.is_clinic_admin
    with pytest.raises(StaffChangeRefused, match="last active admin"):
        do_change_role(clinic_admin, User.Role.THERAPIST, acting_user=clinic_admin)
    with pytest.raises(StaffChangeRefused, match="last active admin"):
        do_deactivate_user(clinic_admin, acting_user=clinic_admin)


def test_an_inactive_second_admin_does_not_count(clinic, clinic_admin):
    second = make_user(clinic, role=User.Role.CLINIC_ADMIN)
    do_deactivate_user(second, acting_user=clinic_admin)
    with pytest.raises(StaffChangeRefused):
        do_deactivate_user(clinic_admin, acting_user=clinic_admin)


def test_with_two_admins_one_may_step_down(login, clinic, clinic_admin):
    second = make_user(clinic, role=User.Role.CLINIC_ADMIN)
    response = login(clinic_admin).post(reverse("accounts:change_role", args=[clinic_admin.pk]), {"role": "therapist"})
    assert response.status_code == 302
    clinic_admin.refresh_from_db()
    assert clinic_admin.role == User.Role.THERAPIST
    with pytest.raises(StaffChangeRefused):
        do_change_role(second, User.Role.THERAPIST, acting_user=second)


def test_an_admin_promotes_a_therapist(login, clinic_admin, therapist):
    login(clinic_admin).post(reverse("accounts:change_role", args=[therapist.pk]), {"role": "admin"})
    therapist.refresh_from_db()
    assert therapist.is_clinic_admin


def test_an_unknown_role_is_refused(login, clinic_admin, therapist):
    login(clinic_admin).post(reverse("accounts:change_role", args=[therapist.pk]), {"role": "operator"})
    therapist.refresh_from_db()
    assert therapist.role == User.Role.THERAPIST


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(postgres):
    """Each demotion alone is allowed (another admin exists); run together, the clinic lock makes
    the second see the first and refuse it."""
    clinic = make_clinic()
    first = make_user(clinic, role=User.Role.CLINIC_ADMIN)
    second = make_user(clinic, role=User.Role.CLINIC_ADMIN)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(member, actor):
        try:
            barrier.wait()
            do_change_role(member, User.Role.THERAPIST, acting_user=actor)
            outcomes.append("demoted")
        except StaffChangeRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(User.objects.get(pk=first.pk), second)),
        threading.Thread(target=demote, args=(User.objects.get(pk=second.pk), first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert User.objects.filter(clinic=clinic, role=User.Role.CLINIC_ADMIN, is_active=True).count() == 1


# One clinic per person --------------------------------------------------------------------


def test_a_therapist_holding_cases_cannot_be_moved_to_another_clinic(therapist, case):
    from django.core.exceptions import ValidationError

    therapist.clinic = make_clinic()
    with pytest.raises(ValidationError, match="active cases"):
        therapist.full_clean()


def test_a_therapist_without_active_cases_can_be_moved(therapist):
    make_case(therapist, status="closed", outcome="completed", closed_on=timezone.localdate())
    therapist.clinic = make_clinic()
    therapist.full_clean()  # no error
