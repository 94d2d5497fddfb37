"""Alliance settings: one file, driven by the environment.

The embedded default (no variable set) runs on SQLite with in-process Celery tasks
and console email, so `make run` works on a fresh machine. `ALLIANCE_ENV=production`
refuses to start without a real secret key and turns on every deployment safeguard.
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name, default=False):
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name, default):
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name, default=()):
    value = env_str(name)
    if value is None:
        return list(default)
    return [part.strip() for part in value.split(",") if part.strip()]


def _url_host(parts):
    """The host as written, percent-decoded and with its case kept: a Unix socket directory is
    written percent-encoded (postgres://user@%2Fvar%2Frun%2Fpostgresql/name), and urlsplit's
    `hostname` would leave it encoded and lower-cased."""
    location = parts.netloc.rpartition("@")[2]
    if location.startswith("["):  # an IPv6 literal: [::1]:5432
        return parts.hostname or ""
    return unquote(location.partition(":")[0])


def parse_database_url(url):
    """postgres://user:pass@host:port/name?sslmode=require → a Django DATABASES entry.

    The host may be a Unix socket directory, percent-encoded in the host part or given as
    `?host=/var/run/postgresql`; user and password are percent-decoded; every other query
    option goes to OPTIONS (libpq's connection parameters)."""
    parts = urlsplit(url)
    engines = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "sqlite": "django.db.backends.sqlite3",
    }
    if parts.scheme not in engines:
        raise ImproperlyConfigured(f"DATABASE_URL scheme must be postgres:// or sqlite://, not {parts.scheme!r}")
    if parts.scheme == "sqlite":
        return {"ENGINE": engines["sqlite"], "NAME": unquote(parts.path[1:]) or ":memory:"}
    if not parts.path.strip("/"):
        raise ImproperlyConfigured("DATABASE_URL must name a database, e.g. postgres://host/alliance")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL has an invalid port: {exc}") from None
    return {
        "ENGINE": engines[parts.scheme],
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": options.pop("host", None) or _url_host(parts),
        "PORT": str(options.pop("port", None) or port or ""),
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


def parse_email_url(url):
    """smtp://user:pass@host:587?tls=1 | console:// → Django email settings."""
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parts.scheme == "none":  # a process that sends no mail (the beat container): no mail password
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme must be smtp://, smtps://, console:// or none://, not {parts.scheme!r}"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 587),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": parts.scheme == "smtp" and query.get("tls", "1") != "0",
    }


ALLIANCE_ENV = env_str("ALLIANCE_ENV", "embedded")
if ALLIANCE_ENV not in {"embedded", "production", "test"}:
    raise ImproperlyConfigured("ALLIANCE_ENV must be 'embedded', 'test' or 'production'")
IS_PRODUCTION = ALLIANCE_ENV == "production"

SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when ALLIANCE_ENV=production")
    SECRET_KEY = "embedded-default-insecure-key-only-for-local-use-0123456789abcdef"
elif IS_PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")

DEBUG = env_bool("DEBUG", default=ALLIANCE_ENV == "embedded")
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG cannot be on when ALLIANCE_ENV=production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
if IS_PRODUCTION and not env_str("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when ALLIANCE_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address used in emailed links (survey invitations, flag alerts).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    # The second factor (issue 13.1): TOTP devices and single-use recovery codes (accounts.second_factor).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "alliance_site.apps.AllianceSiteConfig",
    "accounts",
    "sessions_app",
    "audit",
    "measures",
    "surveys",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "alliance_site.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "alliance_site.middleware.StaffSessionTimeoutMiddleware",
    # request.user.is_verified(); then every staff page (the operator's admin too) needs a verified
    # session: enrol or enter a code first.
    "django_otp.middleware.OTPMiddleware",
    "accounts.second_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "alliance_site.middleware.ServiceUnavailableMiddleware",
    "alliance_site.middleware.NoStoreForSignedInMiddleware",
    "alliance_site.middleware.ClinicTimeZoneMiddleware",
    # After authentication: one access log entry per request for client data (audit/routes.py).
    "audit.middleware.AccessLogMiddleware",
    # Last, as django-axes asks: it turns a login the lock-out refused into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "alliance_site.urls"
WSGI_APPLICATION = "alliance_site.wsgi.application"
ASGI_APPLICATION = "alliance_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "alliance_site.context_processors.header",
            ],
        },
    },
]

if env_str("DATABASE_URL"):
    DATABASES = {"default": parse_database_url(env_str("DATABASE_URL"))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # SQLite waits for a writer instead of failing at once under concurrent submits.
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Argon2id first (tuned in accounts/hashers.py): new and changed passwords get it; older PBKDF2
# hashes still verify and are re-hashed with Argon2id at the next successful sign-in.
PASSWORD_HASHERS = [
    "accounts.hashers.TunedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses a login for a locked account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

if not IS_PRODUCTION:
    # Outside production static files are served from the source folders (no collectstatic).
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email: console on the embedded default, SMTP (or another backend) from EMAIL_URL.
# Lower-case: not a setting, so the SMTP password does not show in diffsettings.
_email_url = env_str("EMAIL_URL", "console://")
if IS_PRODUCTION and urlsplit(_email_url).scheme in {"console", "locmem"}:
    # Printed invitations reach no client: production does not start without a real mail server.
    raise ImproperlyConfigured("EMAIL_URL must be smtp:// or smtps:// when ALLIANCE_ENV=production, not console")
globals().update(parse_email_url(_email_url))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Alliance <alliance@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: eager (in-process) unless a broker is configured.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Reliability (README: Reliability): a task is acknowledged only once it has finished, so a worker
# killed mid-task leaves it to be redelivered; with retries (alliance_site/celery.py: ReliableTask).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
# Tasks running when the broker connection drops are redelivered anyway: cancel them, not run twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Redis redelivers a message unacknowledged for this long (default 1 h): the time after a SIGKILL
# before a reserved task runs again. It must exceed the longest a message stays unacknowledged: a
# wait for a busy process (120 s), its own run (120 s), and for a retry its countdown (at most 60 s).
REDIS_VISIBILITY_TIMEOUT = 300
# A web request must not hang when the broker is down: fail fast, the nightly sweep catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "visibility_timeout": REDIS_VISIBILITY_TIMEOUT,
    # A hung Redis (accepting connections, never answering) must not hold a submission either:
    # without a socket timeout a publish waits for as long as Redis hangs (the mark catches up).
    # Look for messages past their visibility timeout every 10 s (kombu's default is only every
    # tenth look, 100 s): a SIGKILLed worker's task is back soon after the timeout, not minutes later.
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    "socket_timeout": 1,
    "socket_connect_timeout": 1,
}
# Only the holder of a Redis lock schedules; a second beat stands by (alliance_site/celery.py).
CELERY_BEAT_SCHEDULER = "alliance_site.celery:SingleBeatScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "send-due-reminders": {
        "task": "measures.tasks.send_due_reminders",
        "schedule": crontab(minute="*/30"),
    },
    # A check whose link expired unanswered now counts as skipped: re-evaluate its case.
    "evaluate-expired-checks": {
        "task": "measures.tasks.evaluate_expired_checks",
        "schedule": crontab(minute="*/30"),
    },
    "nightly-sweep": {
        "task": "measures.tasks.nightly_sweep",
        "schedule": crontab(hour=2, minute=15),
    },
    # Cases marked "needs evaluation" whose task was never queued (broker down) or got lost.
    "catch-up-evaluations": {
        "task": "measures.tasks.catch_up_evaluations",
        "schedule": crontab(minute="*/5"),
    },
    # Every 15 minutes, as some zones are offset by :30 or :45: each therapist's digest goes out at
    # the first run at or after 06:30 in their clinic's zone (dashboard/digests.py); else a no-op.
    "send-digests": {
        "task": "dashboard.tasks.send_digests",
        "schedule": crontab(minute="*/15"),
    },
    "compute-clinic-overviews": {
        "task": "measures.tasks.compute_clinic_overviews",
        "schedule": crontab(minute=5),
    },
}

# Short socket timeouts (seconds): a down or hung Redis must not hold a client's submission; the
# survey's rate limiter fails open when the cache does not answer in time (surveys/ratelimit.py).
# A cache call on loopback or a LAN takes about a millisecond.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Survey submissions per link and per client address in a window (surveys/ratelimit.py). The
# address limit is generous: a clinic's shared Wi-Fi puts many clients behind one address.
# Requests for unknown links are counted apart, per address, with a small limit of their own.
SURVEY_RATE_LIMIT = {
    "per_link": env_int("SURVEY_RATE_LIMIT_PER_LINK", 20),
    "per_address": env_int("SURVEY_RATE_LIMIT_PER_ADDRESS", 300),
    "unknown_per_address": env_int("SURVEY_RATE_LIMIT_UNKNOWN_PER_ADDRESS", 30),
    "window_seconds": 600,
}
# How many reverse proxies in front of the app append to X-Forwarded-For (0: use REMOTE_ADDR).
NUM_PROXIES = env_int("NUM_PROXIES", 0)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Staff sessions: signed out after STAFF_SESSION_IDLE_SECONDS without a request and
# STAFF_SESSION_MAX_SECONDS after signing in, whatever they did (alliance_site.middleware). The
# cookie lasts no longer than that and dies with the browser; the tablet room sets its own two
# hours on its anonymous session (surveys/room.py).
STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 15 * 60)
STAFF_SESSION_MAX_SECONDS = env_int("STAFF_SESSION_MAX_SECONDS", 12 * 60 * 60)
SESSION_COOKIE_AGE = STAFF_SESSION_MAX_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Lock-out (django-axes, counted in the database so every web process shares it): an account is
# locked after LOGIN_FAILURES_PER_ACCOUNT failed sign-ins, an address after
# LOGIN_FAILURES_PER_ADDRESS (higher: a clinic's staff share one Wi-Fi address), each for
# LOGIN_LOCKOUT_MINUTES since the last failure. Unknown accounts are counted and locked like
# real ones, and the lock-out page is the same for both (accounts.lockout).
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # this order: LockoutHandler reads them so
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.lockout_address"
# The login forms' field is "username" (it holds the email); axes would look for "email".
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.submitted_email"
AXES_VERBOSE = False

# Second factor (django-otp): the name an authenticator app shows. Wrong codes are throttled per
# device, across every session and address: after n failures the next try waits
# THROTTLE_FACTOR * 2^(n-1) seconds (1, 2, 4, ... 512 s after ten), reset by a right code.
OTP_TOTP_ISSUER = "Alliance"
OTP_TOTP_THROTTLE_FACTOR = env_int("OTP_THROTTLE_FACTOR", 1)
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR

# Content-Security-Policy (django-csp 4): nothing inline, nothing from another host. Pages keep
# their CSS and JS in static files; the QR code and the charts are SVG with presentation
# attributes only (no style=""). data: images are Bootstrap's own form icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features the app never uses are off for every page (alliance_site.middleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(), "
    "screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "alliance_site.logging.RedactTokensFilter"},
        "request_user": {"()": "audit.logging.RequestUserFilter"},  # first: it reads record.request
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_user", "redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own default handlers know nothing of the redaction filter: every Django logger
        # (django.request logs "Not Found: /s/<token>/", django.server each request line) goes
        # through the filtered console handler instead.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Set in CI: every "service missing" skip becomes a failure.
ALLIANCE_REQUIRE_SERVICES = env_bool("ALLIANCE_REQUIRE_SERVICES", False)
