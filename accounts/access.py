"""Access rules for clinic administration pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


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
