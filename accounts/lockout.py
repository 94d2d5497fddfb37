"""Login lock-out, on django-axes: per account and per address, the same answer for unknown accounts.

Axes counts failed sign-ins (both /login/ and the operator's /operator/login/ go through
`authenticate`) in its AccessAttempt table. An account is locked after
LOGIN_FAILURES_PER_ACCOUNT failures within the cool-off, an address after
LOGIN_FAILURES_PER_ADDRESS; the lock lasts LOGIN_LOCKOUT_MINUTES from the locking failure, and
attempts while locked are not counted (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off), so an
attacker cannot keep a colleague locked forever by hammering, and gets LOGIN_FAILURES_PER_ACCOUNT
guesses per cool-off at most. An email with no account is counted and locked exactly like a real
one: the answers never tell which emails exist.
"""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render
from django.utils.translation import gettext as _

from .forms import EmailAuthenticationForm
from .network import client_address

# Where the address is not a valid IP (a misconfigured proxy), all such attempts share one counter.
UNPARSEABLE_ADDRESS = "0.0.0.0"


def lockout_address(request):
    """The client's address for axes' counters, always a valid IP (they are stored in an inet column)."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return UNPARSEABLE_ADDRESS


def submitted_email(request, credentials=None):
    """The email a sign-in was attempted for, normalised as the login form does, so that
    "Tess@Clinic.org" and "tess@clinic.org " count against the same account (the operator's
    admin login form does not lowercase)."""
    source = credentials if credentials is not None else request.POST
    return (source.get("username") or "").strip().lower()


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with a separate, higher limit for an address than for an account.

    Axes compares one failure count with one limit; this returns the account's count, raised to
    the account limit when the address alone is over its own limit.
    """

    def get_failures(self, request, credentials=None):
        by_account, by_address = (  # in the order of AXES_LOCKOUT_PARAMETERS: username, ip_address
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if by_address >= settings.LOGIN_FAILURES_PER_ADDRESS:
            return max(by_account, settings.AXES_FAILURE_LIMIT)
        return by_account

    def reset_user_attempts(self, request, credentials=None):
        """A successful sign-in forgives that account's own failures only, not the address's:
        otherwise one valid account would wipe the address counter for guesses at others."""
        by_account = self.filter_user_attempts(request, credentials)[0]
        count, _ = by_account.delete()
        return count


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page again, with one message that says nothing about whether the account exists."""
    form = EmailAuthenticationForm(request)
    message = _("Too many failed sign-ins. Please wait %(minutes)d minutes and try again.") % {
        "minutes": settings.LOGIN_LOCKOUT_MINUTES
    }
    return render(request, "accounts/login.html", {"form": form, "lockout_message": message}, status=429)
