"""The project's own deployment checks, run by `manage.py check --deploy` (which fails on an Error).

Each check refuses a production setting that would quietly undo a safeguard the audit asked for.
More checks of the same kind belong here (one module, one `alliance.E0xx` id each).
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

# The longest staff sessions a deployment may configure (issue 13): shorter is allowed.
MAX_IDLE_SECONDS = 15 * 60
MAX_SESSION_SECONDS = 12 * 60 * 60
CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
TIMEOUT_MIDDLEWARE = "alliance_site.middleware.StaffSessionTimeoutMiddleware"
UNSAFE_INLINE = "'unsafe-inline'"


@register(Tags.security, deploy=True)
def check_session_lifetime(app_configs, **kwargs):
    errors = []
    idle = getattr(settings, "STAFF_SESSION_IDLE_SECONDS", None)
    total = getattr(settings, "STAFF_SESSION_MAX_SECONDS", None)
    if TIMEOUT_MIDDLEWARE not in settings.MIDDLEWARE or idle is None or total is None:
        errors.append(Error("Staff sessions have no idle or total limit.",
                            hint=f"Keep {TIMEOUT_MIDDLEWARE} in MIDDLEWARE.", id="alliance.E001"))
        return errors
    if idle > MAX_IDLE_SECONDS or total > MAX_SESSION_SECONDS:
        errors.append(Error(
            f"Staff sessions last too long: idle {idle} s, total {total} s.",
            hint=f"STAFF_SESSION_IDLE_SECONDS at most {MAX_IDLE_SECONDS}, "
                 f"STAFF_SESSION_MAX_SECONDS at most {MAX_SESSION_SECONDS}.",
            id="alliance.E002",
        ))
    if total < settings.SESSION_COOKIE_AGE or not settings.SESSION_EXPIRE_AT_BROWSER_CLOSE:
        errors.append(Error(
            "The session cookie outlives the staff session.",
            hint="SESSION_COOKIE_AGE at most STAFF_SESSION_MAX_SECONDS, SESSION_EXPIRE_AT_BROWSER_CLOSE = True.",
            id="alliance.E003",
        ))
    return errors


@register(Tags.security, deploy=True)
def check_content_security_policy(app_configs, **kwargs):
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
    directives = policy.get("DIRECTIVES") or {}
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE or not directives.get("default-src"):
        return [Error("No Content-Security-Policy is sent.",
                      hint=f"Keep {CSP_MIDDLEWARE} in MIDDLEWARE and CONTENT_SECURITY_POLICY['DIRECTIVES'] "
                           "with a default-src.", id="alliance.E004")]
    errors = []
    for kind in ("script-src", "style-src"):
        sources = directives.get(kind) or directives["default-src"]
        if UNSAFE_INLINE in sources:
            errors.append(Error(f"The Content-Security-Policy allows inline code ({kind} 'unsafe-inline').",
                                hint="Move the code into a static file.", id="alliance.E005"))
    return errors
