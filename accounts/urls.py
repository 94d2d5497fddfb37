from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import views

app_name = "accounts"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("clinic/users/", views.users, name="users"),
    path("clinic/users/invite/", views.invite_staff, name="invite_staff"),
    path("clinic/users/<int:member_id>/deactivate/", views.deactivate_staff, name="deactivate_staff"),
    path("clinic/users/<int:member_id>/reactivate/", views.reactivate_staff, name="reactivate_staff"),
    path("clinic/users/<int:member_id>/role/", views.change_role, name="change_role"),
    path(
        "clinic/users/<int:member_id>/second-factor/reset/",
        views.reset_second_factor,
        name="reset_second_factor",
    ),
    path("login/second-factor/", views.second_factor_verify, name="second_factor_verify"),
    path("login/second-factor/setup/", views.second_factor_enrol, name="second_factor_enrol"),
    path("clinic/invitations/<int:invitation_id>/resend/", views.resend_invitation, name="resend_invitation"),
    path("invitation/<str:token>/", views.accept_invitation, name="accept_invitation"),
    # Django's own password views, in the project's templates.
    path(
        "password/reset/",
        views.PasswordResetView.as_view(success_url=reverse_lazy("accounts:password_reset_done")),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change_form.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
]
