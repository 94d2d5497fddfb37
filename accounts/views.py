from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from .access import clinic_admin_required
from .forms import EmailAuthenticationForm
from .models import User


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


@require_GET
@login_required
def home(request):
    """Send each role to its own start page."""
    if request.user.is_clinic_admin:
        return redirect("accounts:users")
    if request.user.clinic_id is None:
        return redirect("admin:index")
    return redirect("dashboard:caseload")


@require_GET
@clinic_admin_required
def users(request):
    members = list(
        User.objects.filter(clinic_id=request.user.clinic_id)
        .order_by("role", "full_name")
        .only("full_name", "email", "role", "is_active", "last_login")
    )
    return render(request, "accounts/users.html", {"members": members})
