"""Writing the access log: the only code that adds AccessEvent rows."""

import re

from django.db.models import BigIntegerField, Subquery, Value
from django.db.models.functions import Coalesce

from sessions_app.models import Case

from .models import AccessEvent

# How each URL keyword leads to its case, through Case's reverse relations (no upward import).
CASE_LOOKUPS = {
    "case_id": "pk",
    "session_id": "sessions__pk",
    "participant_id": "participants__pk",
    "signal_id": "signals__pk",
}
# Export scope: only short parameter names of letters and underscores, never one that could hold
# a credential, and values cut to plain characters; the query string itself is never stored.
SCOPE_KEY = re.compile(r"[a-z_]{1,30}")
SECRET_KEYS = {"token", "csrfmiddlewaretoken", "password", "secret", "key", "signature", "sig", "code"}
SCOPE_UNSAFE = re.compile(r"[^\w .:@+-]")


def describe_scope(query):
    """The GET parameters that define an export's scope, as "kind=couple q=Rivera" (sanitised)."""
    parts = []
    for key in sorted(query):
        if not SCOPE_KEY.fullmatch(key) or key in SECRET_KEYS:
            continue
        value = SCOPE_UNSAFE.sub("", ",".join(query.getlist(key)))[:60]
        if value:
            parts.append(f"{key}={value}")
    return " ".join(parts)[:300]


def do_record_access(*, user, route, key, value, action, outcome, status_code, address, scope=""):
    """Append one entry to the access log (one INSERT: the case and its clinic are found in it).

    `key`/`value` are the URL keyword that names the case (case_id, session_id, signal_id,
    participant_id) and its value, or None; the case and its clinic are resolved inside the same
    statement, and an id that matches no case leaves the case empty (a denied probe is still
    recorded). The clinic is the case's, else the user's own.
    """
    user_clinic = getattr(user, "clinic_id", None)
    fields = {}
    target = []
    if key is not None:
        cases = Case.objects.filter(**{CASE_LOOKUPS[key]: value})
        fields["case_id"] = Subquery(cases.values("pk")[:1])
        fields["clinic_id"] = Coalesce(
            Subquery(cases.values("clinic_id")[:1]), Value(user_clinic, output_field=BigIntegerField())
        )
        target.append(f"{key.removesuffix('_id')} {value}")
    else:
        fields["clinic_id"] = user_clinic
    if scope:
        target.append(scope)
    return AccessEvent.objects.create(
        user=user,
        route=route,
        target=" · ".join(target)[:300],
        action=action,
        outcome=outcome,
        status_code=status_code,
        address=address[:45],
        **fields,
    )
