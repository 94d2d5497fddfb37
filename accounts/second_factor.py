"""The second factor of every staff account (issue 13.1): TOTP from an authenticator app, with
single-use recovery codes, both kept by django-otp (otp_totp and otp_static devices).

A signed-in user whose session is not verified by a device reaches only the pages below
(UNVERIFIED_ROUTES); every other page sends them to enrol (no confirmed device yet: first login,
or after an admin reset their second factor) or to enter a code. That covers the operator's
Django admin at /operator/ as well, whose login and logout stay reachable."""

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.shortcuts import redirect
from django.urls import Resolver404, get_resolver, reverse
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_COUNT = 10
# The pages an unverified session may still use: signing in and out, the second factor's own
# pages, password reset and invitation links (no session needed), and the clients' survey pages.
UNVERIFIED_ROUTES = {
    "accounts:login",
    "accounts:logout",
    "accounts:second_factor_enrol",
    "accounts:second_factor_verify",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    "accounts:accept_invitation",
    "surveys:survey",
    "surveys:survey_done",
    "surveys:room_next",
    "surveys:room_end",
    "admin:login",
    "admin:logout",
}


def confirmed_totp_device(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_totp_device(user):
    """The unconfirmed device shown on the enrolment page: the same secret on every reload."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def recovery_device(user):
    return StaticDevice.objects.filter(user=user, confirmed=True).first()


def new_recovery_codes(user):
    """Replace the user's recovery codes with RECOVERY_CODE_COUNT new ones, returned once (only
    django-otp's rows keep them afterwards, and nothing shows them again)."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes", defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def qr_svg(device):
    """The otpauth:// address as an SVG drawn on the server (no request to another host). The
    address holds only the secret, the issuer and the email, so the markup is safe."""
    return mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=5, border=4))


def secret_text(device):
    """The base32 secret in groups of four, for typing into an app by hand."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _route_name(request):
    try:
        return get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info).view_name
    except Resolver404:
        return None


class SecondFactorMiddleware:
    """After django-otp's OTPMiddleware: a signed-in, unverified session goes to enrol or verify
    (with ?next= back to the page asked for) before any page outside UNVERIFIED_ROUTES."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return self.get_response(request)
        name = _route_name(request)
        if name is None or name in UNVERIFIED_ROUTES:
            return self.get_response(request)  # unknown URLs answer 404 as for anyone
        step = "accounts:second_factor_verify" if confirmed_totp_device(user) else "accounts:second_factor_enrol"
        target = reverse(step)
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)


def normalise_code(text):
    """What a person typed, as stored: recovery codes are lower-case base32; spaces and dashes go."""
    return "".join(text.split()).replace("-", "").lower()
