"""Settings read from the environment: the only module that reads it.

Every variable is documented in `.env.example`. A missing or malformed value stops
start-up with ImproperlyConfigured naming the variable.
"""

import re
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
# The process environment wins over the file; PORTAL_ENV_FILE lets tests and scripts pick another file.
environ.Env.read_env(env.str("PORTAL_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean variable, refusing anything but a clear yes or no."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    """Return an integer variable within [minimum, maximum]."""
    raw = env.str(name, default=str(default)).strip()
    if not re.fullmatch(r"-?\d+", raw) or not minimum <= int(raw) <= maximum:
        raise ImproperlyConfigured(f"{name} must be a whole number from {minimum} to {maximum}, not {raw!r}.")
    return int(raw)


def env_applications(name: str, default: str) -> dict[str, str]:
    """Return the application registry seed: 'name=description' pairs separated by ';'."""
    apps = {}
    for item in filter(None, (part.strip() for part in env.str(name, default=default).split(";"))):
        key, _, description = item.partition("=")
        key = key.strip()
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,47}", key):
            raise ImproperlyConfigured(
                f"{name}: {key!r} is not a valid application name "
                "(lower-case letters, digits and '-', starting with a letter, at most 48)."
            )
        apps[key] = description.strip() or key
    if not apps:
        raise ImproperlyConfigured(f"{name} must name at least one application.")
    return apps


DISPLAY_NAME_MAX = 40


def env_names(name: str, default: str, *, key: str, what: str, named: bool = False) -> dict[str, str]:
    """Return 'key' or 'key=Display name' items separated by ',' as {key: display name or ''}, in order.

    Keys must match the pattern `key` and appear once; a display name is at most DISPLAY_NAME_MAX printable
    characters, unique, and required when `named`.
    """
    items: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in env.str(name, default=default).split(","))):
        raw_key, has_label, label = (part.strip() for part in item.partition("="))
        if not re.fullmatch(key, raw_key):
            raise ImproperlyConfigured(f"{name}: {raw_key!r} is not a valid {what}.")
        if raw_key in items:
            raise ImproperlyConfigured(f"{name}: {what} {raw_key!r} is given twice.")
        if (has_label or named) and not label:
            raise ImproperlyConfigured(f"{name}: {what} {raw_key!r} needs a name after '='.")
        if len(label) > DISPLAY_NAME_MAX or not label.isprintable():
            raise ImproperlyConfigured(
                f"{name}: the name of {raw_key!r} must be at most {DISPLAY_NAME_MAX} printable characters."
            )
        if label and label.casefold() in {other.casefold() for other in items.values()}:
            raise ImproperlyConfigured(f"{name}: the name {label!r} is given twice.")
        items[raw_key] = label
    if not items and not named:
        raise ImproperlyConfigured(f"{name} must name at least one {what}.")
    return items


# --- Django core -----------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
DEVELOPMENT_SECRET_KEY = "insecure-development-key-never-use-in-production"  # public: production refuses it
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Local state (SQLite database, collected static files, the embedded Cognito's recording).
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

try:
    DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
except Exception as exc:  # django-environ raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if DATABASES["default"].get("ENGINE") not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
    raise ImproperlyConfigured(
        "DATABASE_URL must start with sqlite:/// or postgres:// (the portal runs on SQLite or PostgreSQL)."
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0, maximum=3600)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several web workers and the task workers share the file (make load found "database is locked" 500s
    # without this): a transaction takes the write lock when it starts, so two never deadlock upgrading a
    # read lock; a writer waits up to 20 s for the lock instead of failing; readers go on while one writes (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "csp",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.signin.middleware.CognitoFaultMiddleware",
    "accounts.signin.middleware.SessionRevalidationMiddleware",
]

# The API under /api/v1/ (portal/wsgi.py): key-authenticated JSON, so no session, CSRF, messages or page headers.
PORTAL_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "accounts.headers.PermissionsPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "accounts.signin.middleware.CognitoFaultMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
            ],
        },
    },
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_AGE_SECONDS", 8 * 3600, minimum=300, maximum=30 * 86400)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# No inline script or style anywhere (tests/test_security.py keeps templates/ free of them): all from /static/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # the authenticator enrolment's QR code is a data: URI
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features the portal never uses, turned off for it and anything it could embed (accounts/headers.py).
PORTAL_PERMISSIONS_POLICY_OFF = [
    "accelerometer",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "usb",
]

# --- Cognito ---------------------------------------------------------------------------------
COGNITO_REGION = env.str("COGNITO_REGION", default="us-east-1")
COGNITO_USER_POOL_ID = env.str("COGNITO_USER_POOL_ID", default="")
COGNITO_APP_CLIENT_ID = env.str("COGNITO_APP_CLIENT_ID", default="")
COGNITO_APP_CLIENT_SECRET = env.str("COGNITO_APP_CLIENT_SECRET", default="")
# The app client the applications sign users in with (cognito_bootstrap creates it): the access-check
# API accepts tokens issued to it.
COGNITO_APPLICATIONS_CLIENT_ID = env.str("COGNITO_APPLICATIONS_CLIENT_ID", default="")
COGNITO_ENDPOINT_URL = env.str("COGNITO_ENDPOINT_URL", default="") or None
COGNITO_EMBEDDED = env_bool("COGNITO_EMBEDDED", False)
COGNITO_CONNECT_TIMEOUT = env_int("COGNITO_CONNECT_TIMEOUT", 3, minimum=1, maximum=60)
COGNITO_READ_TIMEOUT = env_int("COGNITO_READ_TIMEOUT", 10, minimum=1, maximum=120)
COGNITO_MAX_ATTEMPTS = env_int("COGNITO_MAX_ATTEMPTS", 4, minimum=1, maximum=10)
# Seconds a web request may spend on Cognito, all its calls and retries together (well under gunicorn's
# --timeout 30); /healthz has 2 of them. Background work is not limited: it keeps botocore's retries.
COGNITO_REQUEST_BUDGET_SECONDS = env_int("COGNITO_REQUEST_BUDGET_SECONDS", 8, minimum=2, maximum=25)

if COGNITO_EMBEDDED and not re.match(
    r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/?$", COGNITO_ENDPOINT_URL or ""
):
    raise ImproperlyConfigured(
        "COGNITO_EMBEDDED=true needs COGNITO_ENDPOINT_URL on loopback (the embedded emulator); "
        "it shows temporary passwords and reset codes, so it is refused for a real pool."
    )

# What cognito_bootstrap creates or checks.
COGNITO_USER_POOL_NAME = env.str("COGNITO_USER_POOL_NAME", default="portal")
COGNITO_APP_CLIENT_NAME = env.str("COGNITO_APP_CLIENT_NAME", default="portal")
COGNITO_APPLICATIONS_CLIENT_NAME = env.str("COGNITO_APPLICATIONS_CLIENT_NAME", default="applications")
COGNITO_TOKEN_VALIDITY_MINUTES = env_int("COGNITO_TOKEN_VALIDITY_MINUTES", 15, minimum=5, maximum=1440)
COGNITO_REFRESH_TOKEN_VALIDITY_HOURS = env_int("COGNITO_REFRESH_TOKEN_VALIDITY_HOURS", 12, minimum=1, maximum=87600)

# --- Roles, applications, staff --------------------------------------------------------------
# PORTAL_ROLES is 'name' or 'name=Display name' items: PORTAL_ROLES keeps the names (the stored value),
# PORTAL_ROLE_NAMES the display names given.
PORTAL_ROLE_NAMES = env_names("PORTAL_ROLES", "a,b,c", key=r"[a-z][a-z0-9_]{0,14}", what="role name")
PORTAL_ROLES = list(PORTAL_ROLE_NAMES)
PORTAL_ROLE_NAMES = {role: label for role, label in PORTAL_ROLE_NAMES.items() if label}
PORTAL_ROLE_MAX_LEVEL = env_int("PORTAL_ROLE_MAX_LEVEL", 3, minimum=1, maximum=100)
# Names of the levels, the same for every role: '1=Basic,2=Standard,3=Full'. A level without one shows its number.
PORTAL_ROLE_LEVEL_NAMES = {
    int(level): label
    for level, label in env_names("PORTAL_ROLE_LEVELS", "", key=r"[1-9][0-9]{0,2}", what="level", named=True).items()
}
if _too_high := [level for level in PORTAL_ROLE_LEVEL_NAMES if level > PORTAL_ROLE_MAX_LEVEL]:
    raise ImproperlyConfigured(
        f"PORTAL_ROLE_LEVELS names level {_too_high[0]}, above PORTAL_ROLE_MAX_LEVEL ({PORTAL_ROLE_MAX_LEVEL})."
    )
PORTAL_APPLICATION_GROUP_PREFIX = env.str("PORTAL_APPLICATION_GROUP_PREFIX", default="app-")
PORTAL_APPLICATIONS = env_applications(
    "PORTAL_APPLICATIONS",
    "billing=Billing and invoices;crm=Customer relations;hr=People and payroll;"
    "inventory=Stock and warehouses;analytics=Reports and dashboards;support=Help-desk tickets;"
    "scheduling=Shifts and rotas;procurement=Purchasing;docs=Document library;fleet=Vehicles and routes",
)
PORTAL_ADMIN_GROUP = env.str("PORTAL_ADMIN_GROUP", default="portal-admins")
PORTAL_HELPDESK_GROUP = env.str("PORTAL_HELPDESK_GROUP", default="portal-helpdesk")
if PORTAL_ADMIN_GROUP.startswith(PORTAL_APPLICATION_GROUP_PREFIX) or PORTAL_HELPDESK_GROUP.startswith(
    PORTAL_APPLICATION_GROUP_PREFIX
):
    raise ImproperlyConfigured(
        "PORTAL_ADMIN_GROUP and PORTAL_HELPDESK_GROUP must not start with PORTAL_APPLICATION_GROUP_PREFIX."
    )
# Prefix of the Cognito group that makes its members owners of one application (`portal-owner--billing`).
# Neither prefix may start with the other, and no staff group may start with it: an owner group can never be
# mistaken for an application or staff group, nor an application group for an owner group.
PORTAL_OWNER_GROUP_PREFIX = env.str("PORTAL_OWNER_GROUP_PREFIX", default="portal-owner--")
if (
    not PORTAL_OWNER_GROUP_PREFIX
    or PORTAL_OWNER_GROUP_PREFIX.startswith(PORTAL_APPLICATION_GROUP_PREFIX)
    or PORTAL_APPLICATION_GROUP_PREFIX.startswith(PORTAL_OWNER_GROUP_PREFIX)
    or any(group.startswith(PORTAL_OWNER_GROUP_PREFIX) for group in (PORTAL_ADMIN_GROUP, PORTAL_HELPDESK_GROUP))
):
    raise ImproperlyConfigured(
        "PORTAL_OWNER_GROUP_PREFIX must be set, neither it nor PORTAL_APPLICATION_GROUP_PREFIX may start with the "
        "other, and PORTAL_ADMIN_GROUP and PORTAL_HELPDESK_GROUP must not start with it."
    )

# Each application has its own app client, and the access-check API counts a token only for the application
# it was issued to. A pool set up with one client shared by every application sets this to true: then tokens of
# COGNITO_APPLICATIONS_CLIENT_ID count for every application too (cognito_check reports it as a finding).
PORTAL_APPLICATIONS_SHARE_CLIENT = env_bool("PORTAL_APPLICATIONS_SHARE_CLIENT", False)

# The access-check API (POST /api/v1/access-check): requests per minute per API key, and the largest body.
PORTAL_ACCESS_CHECK_RATE_PER_MINUTE = env_int("PORTAL_ACCESS_CHECK_RATE_PER_MINUTE", 600, minimum=1, maximum=10**7)
PORTAL_ACCESS_CHECK_MAX_BODY_BYTES = env_int("PORTAL_ACCESS_CHECK_MAX_BODY_BYTES", 16384, minimum=1024, maximum=10**6)
# Seconds a worker keeps an API key it read (0: read it on every request). A revoked key is refused at once
# anyway (every answer re-reads it with the index); the cache only spares the lookup before the token's check.
PORTAL_API_KEY_CACHE_SECONDS = env_int("PORTAL_API_KEY_CACHE_SECONDS", 5, minimum=0, maximum=300)
# Tokens a worker remembers having verified (their SHA-256, never the token), so an application asking again
# about the same token is not made to wait for the same signature check: expiry, the key set, the client, the
# revocations and the index are checked again on every request all the same (0: verify every time).
PORTAL_ACCESS_CHECK_VERIFIED_TOKENS = env_int("PORTAL_ACCESS_CHECK_VERIFIED_TOKENS", 4096, minimum=0, maximum=10**6)

# Audited actions (role_change, user_delete, ...) whose forms require a reason or ticket; every other change
# takes an optional one. accounts/rules/reasons.py lists the actions, and start-up refuses a name not among them.
PORTAL_REASON_REQUIRED = env.list("PORTAL_REASON_REQUIRED", default=[])
if _bad_action := next((name for name in PORTAL_REASON_REQUIRED if not re.fullmatch(r"[a-z_]{1,64}", name)), None):
    raise ImproperlyConfigured(f"PORTAL_REASON_REQUIRED: {_bad_action!r} is not an audit action name.")

# The first administrator that cognito_bootstrap creates when the pool has none.
PORTAL_ADMIN_EMAIL = env.str("PORTAL_ADMIN_EMAIL", default="")
PORTAL_ADMIN_PASSWORD = env.str("PORTAL_ADMIN_PASSWORD", default="")

# --- Logging: never a password or a token ----------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One line per event: control characters in logged values (a newline in a request field) are escaped.
    "formatters": {
        "plain": {
            "()": "accounts.logformat.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # botocore at DEBUG prints request bodies, which carry passwords and tokens.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# --- Password policy: set on the pool by cognito_bootstrap, checked by the portal before Cognito --
COGNITO_PASSWORD_MIN_LENGTH = env_int("COGNITO_PASSWORD_MIN_LENGTH", 12, minimum=8, maximum=99)
COGNITO_TEMPORARY_PASSWORD_DAYS = env_int("COGNITO_TEMPORARY_PASSWORD_DAYS", 7, minimum=1, maximum=365)

# --- Staff sign-in -----------------------------------------------------------------------------
COGNITO_JWKS_URL = env.str("COGNITO_JWKS_URL", default="")  # derived from the pool when empty
COGNITO_JWKS_REFETCH_SECONDS = env_int("COGNITO_JWKS_REFETCH_SECONDS", 60, minimum=1, maximum=86400)
PORTAL_SESSION_REVALIDATE_SECONDS = env_int("PORTAL_SESSION_REVALIDATE_SECONDS", 300, minimum=10, maximum=86400)
# A staff member's own standing (enabled, still in a staff group) is read live again when older than this,
# on their next request and before a write they make (bulk jobs included).
PORTAL_STAFF_RECHECK_SECONDS = env_int("PORTAL_STAFF_RECHECK_SECONDS", 60, minimum=0, maximum=86400)
PORTAL_REQUIRE_MFA_FOR_ADMINS = env_bool("PORTAL_REQUIRE_MFA_FOR_ADMINS", False)
PORTAL_MFA_ISSUER = env.str("PORTAL_MFA_ISSUER", default="Access portal")
AUTHENTICATION_BACKENDS = ["accounts.signin.backend.CognitoBackend"]
# Failed sign-ins (passwords, MFA codes, reset codes) are counted per account AND client address together
# by django-axes (accounts/throttle.py), so a stranger's failures never refuse the right password elsewhere.
PORTAL_SIGNIN_MAX_FAILURES = env_int("PORTAL_SIGNIN_MAX_FAILURES", 5, minimum=1, maximum=1000)
PORTAL_SIGNIN_LOCKOUT_SECONDS = env_int("PORTAL_SIGNIN_LOCKOUT_SECONDS", 900, minimum=10, maximum=86400)
# Proxies in front of the portal that each append to X-Forwarded-For: 0 = use REMOTE_ADDR (no proxy), N = the
# Nth address from the right. Entries the client wrote itself are never read.
PORTAL_TRUSTED_PROXY_COUNT = env_int("PORTAL_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
# Forgot-password requests sent on to Cognito per email and per client address, each per hour.
PORTAL_PASSWORD_FORGOT_PER_EMAIL = env_int("PORTAL_PASSWORD_FORGOT_PER_EMAIL", 5, minimum=1, maximum=1000)
PORTAL_PASSWORD_FORGOT_PER_ADDRESS = env_int("PORTAL_PASSWORD_FORGOT_PER_ADDRESS", 20, minimum=1, maximum=100000)

AXES_HANDLER = "accounts.signin.throttle.SignInAttemptHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "accounts.signin.throttle.failure_limit"
AXES_COOLOFF_TIME = "accounts.signin.throttle.cool_off"
AXES_CLIENT_IP_CALLABLE = "accounts.audit.record.client_ip"
AXES_RESET_ON_SUCCESS = False  # the flow clears the pair once the whole sign-in (MFA included) succeeds
AXES_DISABLE_ACCESS_LOG = True  # the audit log records every attempt
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_SENSITIVE_PARAMETERS = ["password", "new_password", "confirm_password", "old_password", "code"]
# The flow asks axes' handler itself (so a challenge is not a failure and the refusal is the form's message),
# instead of axes' backend and middleware, which would turn every lock into their own 429 page.
SILENCED_SYSTEM_CHECKS = ["axes.W002", "axes.W003"]

# A cache shared by every worker and machine (request counters live here).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "portal_cache",
    }
}

# --- Bulk work: CSV import, bulk actions (run by `manage.py db_worker`, which make run starts) --------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Rows of one job a worker applies at once (threads), so that one worker reaches the quota buckets' rate.
PORTAL_BULK_THREADS = env_int("PORTAL_BULK_THREADS", 8, minimum=1, maximum=32)
PORTAL_BULK_IMPORT_MAX_MB = env_int("PORTAL_BULK_IMPORT_MAX_MB", 50, minimum=1, maximum=1024)
PORTAL_BULK_INLINE_MAX = env_int("PORTAL_BULK_INLINE_MAX", 20, minimum=0, maximum=1000)
PORTAL_BULK_TASKS_PER_JOB = env_int("PORTAL_BULK_TASKS_PER_JOB", 2, minimum=1, maximum=32)
PORTAL_BULK_LEASE_SECONDS = env_int("PORTAL_BULK_LEASE_SECONDS", 300, minimum=2, maximum=86400)

# --- The directory sync, scheduled on the task workers (make run starts it) ---------------------------------
# Seconds between two scheduled runs of cognito_sync; the embedded Cognito is cheap to list, so more often there.
PORTAL_SYNC_INTERVAL_SECONDS = env_int(
    "PORTAL_SYNC_INTERVAL_SECONDS", 300 if COGNITO_EMBEDDED else 900, minimum=10, maximum=86400
)
# --- Access that ends: expiring grants and temporary role raises (accounts/directory/expiry.py) ----------
# Seconds between two runs of the workers' expiry sweep (it also catches up at once when a worker starts).
PORTAL_EXPIRY_SWEEP_SECONDS = env_int("PORTAL_EXPIRY_SWEEP_SECONDS", 60, minimum=5, maximum=3600)
# Ends a sweep run takes at most; the rest wait for the next run, which it queues at once.
PORTAL_EXPIRY_SWEEP_BATCH = env_int("PORTAL_EXPIRY_SWEEP_BATCH", 500, minimum=1, maximum=100000)
# Hours before an end that its granter is told by email (0: never); the dashboard's "Ending soon" tile and the
# directory's "within 7 days" filter look PORTAL_EXPIRY_SOON_DAYS ahead.
PORTAL_EXPIRY_NOTICE_HOURS = env_int("PORTAL_EXPIRY_NOTICE_HOURS", 72, minimum=0, maximum=24 * 90)
PORTAL_EXPIRY_SOON_DAYS = env_int("PORTAL_EXPIRY_SOON_DAYS", 7, minimum=1, maximum=365)

# --- Email (the expiry notices): the console backend unless SMTP is configured ---------------------------
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="portal@localhost")

# --- Events to the applications: the outbox, webhooks, Security Event Tokens (accounts/events/) ------------
# The issuer (`iss`) of the portal's Security Event Tokens: the portal's public URL. Default: http://localhost:8000
PORTAL_EVENTS_ISSUER = env.str("PORTAL_EVENTS_ISSUER", default="http://localhost:8000").rstrip("/")
# http:// subscriptions, to loopback only, for development and tests; https:// is required otherwise.
PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK = env_bool("PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK", COGNITO_EMBEDDED)
# How long a delivery is retried (exponential back-off from the first delay, capped at the maximum) before failing.
PORTAL_EVENTS_RETRY_SECONDS = env_int("PORTAL_EVENTS_RETRY_SECONDS", 86400, minimum=1, maximum=7 * 86400)
PORTAL_EVENTS_BACKOFF_SECONDS = env_int("PORTAL_EVENTS_BACKOFF_SECONDS", 5, minimum=1, maximum=3600)
PORTAL_EVENTS_BACKOFF_MAX_SECONDS = env_int("PORTAL_EVENTS_BACKOFF_MAX_SECONDS", 3600, minimum=1, maximum=86400)
PORTAL_EVENTS_CONNECT_TIMEOUT = env_int("PORTAL_EVENTS_CONNECT_TIMEOUT", 3, minimum=1, maximum=60)
PORTAL_EVENTS_READ_TIMEOUT = env_int("PORTAL_EVENTS_READ_TIMEOUT", 10, minimum=1, maximum=120)
# Parallel sends of one delivery worker (different subscriptions, or different users of one).
PORTAL_EVENTS_SENDERS = env_int("PORTAL_EVENTS_SENDERS", 8, minimum=1, maximum=64)
# Seconds an old signing secret keeps signing (both signatures are sent) after a rotation.
PORTAL_EVENTS_SECRET_OVERLAP_SECONDS = env_int(
    "PORTAL_EVENTS_SECRET_OVERLAP_SECONDS", 86400, minimum=0, maximum=30 * 86400
)

# --- Cognito's request rate quotas: background work is paced by category (accounts/cognito/quotas.py) ---------
# AWS's default quota of each category, requests per second for the account and Region ("Quotas in Amazon
# Cognito", https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html#category_operations).
COGNITO_DEFAULT_QUOTAS = {
    "UserAuthentication": 120,
    "UserCreation": 50,
    "UserFederation": 25,
    "UserAccountRecovery": 30,
    "UserRead": 120,
    "UserUpdate": 25,
    "UserResourceRead": 50,
    "UserResourceUpdate": 25,
    "UserList": 30,
    "UserToken": 120,
    "UserPoolRead": 15,
    "UserPoolUpdate": 15,
    "UserPoolResourceRead": 20,
    "UserPoolResourceUpdate": 15,
    "UserPoolClientRead": 15,
    "UserPoolClientUpdate": 15,
}


def env_quotas(name: str, defaults: dict[str, int]) -> dict[str, int]:
    """Return every category's quota: the defaults, raised by 'Category=N,...' pairs (an account's larger ones)."""
    quotas = dict(defaults)
    for item in filter(None, (part.strip() for part in env.str(name, default="").split(","))):
        category, _, raw = (piece.strip() for piece in item.partition("="))
        if category not in defaults:
            raise ImproperlyConfigured(f"{name}: {category!r} is not a Cognito quota category ({', '.join(defaults)}).")
        if not re.fullmatch(r"\d+", raw) or int(raw) <= 0:
            raise ImproperlyConfigured(f"{name}: {category} must be a positive whole number (requests/s), not {raw!r}.")
        quotas[category] = int(raw)
    return quotas


def env_share(name: str, default: str) -> float:
    """Return a share: a number above 0 and at most 1."""
    raw = env.str(name, default=default).strip()
    if not re.fullmatch(r"\d*\.?\d+", raw) or not 0 < float(raw) <= 1:
        raise ImproperlyConfigured(f"{name} must be a number above 0 and at most 1, not {raw!r}.")
    return float(raw)


PORTAL_COGNITO_QUOTAS = env_quotas("PORTAL_COGNITO_QUOTAS", COGNITO_DEFAULT_QUOTAS)
# The share of each quota background work (imports, bulk actions, the sync, sweeps) may use, all workers on all
# machines together; the applications' own traffic keeps the rest. Web requests' calls count against it too.
PORTAL_COGNITO_QUOTA_SHARE = env_share("PORTAL_COGNITO_QUOTA_SHARE", "0.8")

# --- Access review campaigns (accounts/reviews/; the workers close them at their deadline) -----------------
# Hours before a campaign's deadline at which reviewers with undecided items get a reminder email.
_reminder_hours = env.list("PORTAL_REVIEW_REMINDER_HOURS", default=["72", "24"])
if not all(re.fullmatch(r"\d{1,4}", hours) and 1 <= int(hours) <= 2160 for hours in _reminder_hours):
    raise ImproperlyConfigured(f"PORTAL_REVIEW_REMINDER_HOURS: whole hours from 1 to 2160 each, not {_reminder_hours}.")
PORTAL_REVIEW_REMINDER_HOURS = sorted({int(hours) for hours in _reminder_hours})
# Seconds between two checks of the open campaigns (reviewers' standing, reminders, deadlines, interrupted work).
PORTAL_REVIEW_TICK_SECONDS = env_int("PORTAL_REVIEW_TICK_SECONDS", 900, minimum=10, maximum=86400)
# Reminder emails go through the email settings below (DJANGO_EMAIL_*, DJANGO_DEFAULT_FROM_EMAIL).
# The portal's address as people reach it, for the links in emails.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
