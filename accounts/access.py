"""Access rules for clinic administration pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from .models import StaffInvitation, User, hash_token


def clinic_admin_required(view):
    """Signed-in clinic admins only: others signed in get 403, anonymous users the login page."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_clinic_admin:
            raise PermissionDenied("Clinic admins only")
        return view(request, *args, **kwargs)

    return wrapper


def therapist_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.clinic_id is None:
            raise PermissionDenied("Clinic staff only")
        return view(request, *args, **kwargs)

    return wrapper


def get_staff_member_for_user(user, member_id):
    """A member of the admin's own clinic; 404 for anyone else's (never reveal they exist)."""
    member = User.objects.filter(pk=member_id, clinic_id=user.clinic_id).first() if user.clinic_id else None
    if member is None:
        raise Http404("No such person")
    return member


def get_staff_invitation_for_user(user, invitation_id):
    invitation = StaffInvitation.objects.filter(pk=invitation_id, clinic_id=user.clinic_id).first()
    if invitation is None or user.clinic_id is None:
        raise Http404("No such invitation")
    return invitation


def get_invitation_by_token(token, *, now=None):
    """The usable invitation a link carries, or None (unknown, used, withdrawn or expired alike)."""
    invitation = StaffInvitation.objects.select_related("clinic").filter(token_hash=hash_token(token)).first()
    if invitation is None or not invitation.is_usable(now or timezone.now()):
        return None
    return invitation
