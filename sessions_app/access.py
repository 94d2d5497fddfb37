"""Who may see and change cases and sessions. Views never check ownership themselves.

404 when the user may not see the row (never reveal that it exists); 403 when they may see
it but not change it. Three kinds of change:

- clinical (`write`): recording sessions, sending checks, acknowledging and resolving flags —
  the case's therapist only; a clinic admin reads every case of the clinic but gets 403.
- case administration (`manage`): correcting clients' contact details and language, adding or
  removing a family member, closing and reopening — the case's therapist or a clinic admin.
- assignment (`assign`): giving a case to a therapist, transferring it — clinic admins only
  (a therapist who opens a case gets it themselves).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Case, Participant, TherapySession


def can_write_case(user, case):
    return case.therapist_id == user.pk


def can_manage_case(user, case):
    return case.therapist_id == user.pk or (user.is_clinic_admin and user.clinic_id == case.clinic_id)


def can_assign_case(user, case):
    return user.is_clinic_admin and user.clinic_id == case.clinic_id


def may_read_client_words(user, case):
    """Whether the user may read clients' own words (comments, free-text answers) on this case:
    its therapist always; the clinical team unless the clinic keeps them for the therapist only."""
    return case.therapist_id == user.pk or not case.clinic.notes_for_therapist_only


def get_case_for_user(user, case_id, *, write=False, manage=False, assign=False, queryset=None):
    queryset = (queryset if queryset is not None else Case.objects.all()).filter(
        pk__in=Case.objects.for_user(user).values("pk")
    )
    case = queryset.filter(pk=case_id).select_related("clinic", "therapist").first()
    if case is None:
        raise Http404("No such case")
    if write and not can_write_case(user, case):
        raise PermissionDenied("Only the case's therapist can change it")
    if manage and not can_manage_case(user, case):
        raise PermissionDenied("Only the case's therapist or a clinic admin can change it")
    if assign and not can_assign_case(user, case):
        raise PermissionDenied("Only a clinic admin assigns cases")
    return case


def get_participant_for_user(user, participant_id, *, manage=False):
    participant = (
        Participant.objects.filter(pk=participant_id, case__in=Case.objects.for_user(user))
        .select_related("case__clinic", "case__therapist")
        .first()
    )
    if participant is None:
        raise Http404("No such client")
    if manage and not can_manage_case(user, participant.case):
        raise PermissionDenied("Only the case's therapist or a clinic admin can change it")
    return participant


def get_session_for_user(user, session_id, *, write=False):
    session = (
        TherapySession.objects.filter(pk=session_id, case__in=Case.objects.for_user(user))
        .select_related("case__clinic", "case__therapist")
        .first()
    )
    if session is None:
        raise Http404("No such session")
    if write and not can_write_case(user, session.case):
        raise PermissionDenied("Only the case's therapist can change it")
    return session
