"""Settings for the CoE service, read from the environment only.

Every variable is listed in ``.env.example``. Defaults are safe for development: a SQLite
file, eager Celery, DEBUG off unless asked for. Production (DEBUG off) refuses to start
without ``SECRET_KEY`` or ``CONNECTOR_CREDENTIALS_KEYS``.

The test suite runs these settings through ``coe/settings_test.py``, which sets the
environment a deployment would and overrides only a named, tested list.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from the environment, ``default`` when unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean from the environment: 1/true/yes/on are true, 0/false/no/off are false."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_decimal(name: str, default: str) -> Decimal:
    value = env_str(name, default)
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list from the environment, empty items dropped."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for development)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "coe.apps.CoEAdminConfig",  # django.contrib.admin under the policy's rules
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "axes",
    "rules",
    "coe",
    "notify",
    "registry",
    "tool_requests",
    "connectors",
    "kpis",
    "assessments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: refuses oversized bodies (413) and NUL bytes (400).
    "coe.limits.RequestLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After authentication: every change made while serving the request is logged with its
    # actor, the origin (api, page or admin) and the client address (coe/changelog.py).
    "coe.changelog.ChangeLogMiddleware",
    # Last: turns a login refused by the lockout into its answer (coe/signin.py).
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Lockout first: a locked-out username and address is refused before any password check.
    "axes.backends.AxesStandaloneBackend",
    # Username and password (only superusers when PASSWORD_LOGIN is off), then single sign-on.
    "coe.sso.PasswordBackend",
    "coe.sso.SSOBackend",
    # The policy rules (coe/policy.py) answer every has_perm, object-level included.
    "rules.permissions.ObjectPermissionBackend",
]

ROOT_URLCONF = "coe.urls"
WSGI_APPLICATION = "coe.wsgi.application"
ASGI_APPLICATION = "coe.asgi.application"

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
                "coe.context_processors.navigation",
                "notify.context_processors.unread_notifications",
            ],
            # {% has_perm "registry.change_tool" user tool as can_change %} in every template
            "builtins": ["rules.templatetags.rules", "coe.templatetags.coe_format"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection the server dropped (restart, pg_terminate_backend, failover) is
        # replaced at the start of the next request instead of failing it.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite under concurrent requests and the demo's background sync: wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("CACHE_URL")}
        if env_str("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# plotly.js is served from the plotly package's own copy, under static/plotly/.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    (
        "plotly",
        Path(importlib.util.find_spec("plotly").submodule_search_locations[0]) / "package_data",
    ),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
# Largest request body of every endpoint not named in REQUEST_BODY_LIMITS below (JSON API,
# forms): Django refuses a bigger body it would read, coe.limits answers 413 before reading.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

LOGIN_URL = "login"

# Sign-in hardening (docs/api.md). Proxies in front of the service whose X-Forwarded-For
# entries are trusted (0: the client address is REMOTE_ADDR, the header is ignored); the
# change log and the login lockout both use it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# API tokens expire this many hours after they were issued.
API_TOKEN_TTL_HOURS = env_int("API_TOKEN_TTL_HOURS", 720)
# The OpenAPI schema and the interactive docs without signing in (1) or for signed-in users.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)
# Login lockout (django-axes): failed logins of one username from one address before the
# pair is locked out, and the minutes the lockout lasts (CoE staff can lift it sooner).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "coe.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "coe.signin.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Axes logs every failed attempt at INFO; the service logs each lockout itself (WARNING).
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in (docs/deploy.md "Single sign-on"). Password login stays for superusers whatever
# PASSWORD_LOGIN says, so an operator can always get in when the provider is down.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
# OpenID Connect single sign-on, on when OIDC_ISSUER is set: endpoints and keys come from
# the issuer's discovery document; authorization code flow with PKCE, state and nonce.
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_STAFF_GROUPS = env_list("OIDC_STAFF_GROUPS", "coe_staff")
# Group values that grant a factory role; named groups `slug` and `role` are required.
OIDC_FACTORY_ROLE_PATTERN = env_str(
    "OIDC_FACTORY_ROLE_PATTERN", r"factory:(?P<slug>[-a-zA-Z0-9_]+):(?P<role>business_owner|member)"
)
OIDC_DISCOVERY_TTL_SECONDS = env_int("OIDC_DISCOVERY_TTL_SECONDS", 3600)
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True
OIDC_AUTHENTICATE_CLASS = "coe.sso.SSORequestView"
OIDC_CALLBACK_CLASS = "coe.sso.SSOCallbackView"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"

# Production hardening (checked by `manage.py check --deploy` in `make lint`).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# HSTS preloading commits the whole parent domain; it stays the operator's choice.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "coe@localhost")

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        # DRF's JSON parser plus a nesting limit and NUL refusal (coe/api/parsers.py).
        "coe.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "coe.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # One class: the policy rule coe/policy_matrix.py names for each route and action.
    "DEFAULT_PERMISSION_CLASSES": ["coe.api.permissions.PolicyPermission"],
    "DEFAULT_PAGINATION_CLASS": "coe.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "coe.api.filters.BoundedFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "coe.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CoE API",
    "DESCRIPTION": (
        "Center of Excellence governance and maturity service for digital factories: "
        "registry, duplicate detection, maturity assessments, connectors and tool requests."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc served from the app's own static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema name per choice set (several models share field names such as kind/status).
    "ENUM_NAME_OVERRIDES": {
        "FactoryKindEnum": "coe.choices.FactoryKind",
        "RoleEnum": "coe.choices.Role",
        "RingEnum": "registry.choices.Ring",
        "AdoptionStatusEnum": "registry.choices.AdoptionStatus",
        "FindingKindEnum": "registry.choices.FindingKind",
        "FindingStatusEnum": "registry.choices.FindingStatus",
        "RequestStatusEnum": "tool_requests.choices.RequestStatus",
        "ConnectorKindEnum": "connectors.choices.ConnectorKind",
        "SyncStatusEnum": "connectors.choices.SyncStatus",
        "DeviceStatusEnum": "connectors.choices.DeviceStatus",
        "FinanceKindEnum": "connectors.facts.FinanceKind",
        "DeploymentStatusEnum": "connectors.facts.DeploymentStatus",
        "WorkItemKindEnum": "connectors.facts.WorkItemKind",
        "AssessmentStatusEnum": "assessments.choices.AssessmentStatus",
    },
}

# Celery: eager (inline) unless a broker is configured.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
# Queues (docs/deploy.md "Processes"): `io` runs connector syncs (waiting on plants and
# systems), `cpu` runs duplicate detection and scoring, `celery` runs everything else —
# the event scans, webhook deliveries, the sync dispatcher and the run reaper, which must
# not wait behind a backlog of syncs (nor behind the hung syncs the reaper is there for).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "connectors.tasks.sync_connector_task": {"queue": "io"},
    "registry.tasks.detect_duplicates_task": {"queue": "cpu"},
    "assessments.tasks.refresh_signals_task": {"queue": "cpu"},
    # The KPI rollups, when their app is installed.
    "kpis.tasks.*": {"queue": "cpu"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis: a task a worker took and never acknowledged (the worker died) goes back on
    # its queue once it is this old (s)...
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # ...found by a sweep every interval × throttle seconds (kombu's defaults: 10 and 10).
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
CELERY_BEAT_SCHEDULE: dict = {
    # The event outbox (docs/events.md): a sweep for rows whose after-commit task never
    # ran, webhook retries whose pause is over, the daily digest and the daily scans that
    # emit waiver.expiring, audit.due, tool_request.overdue and connector.unhealthy.
    "dispatch events": {"task": "coe.tasks.dispatch_events_task", "schedule": 60.0},
    "send due webhook deliveries": {
        "task": "notify.tasks.send_due_deliveries_task",
        "schedule": 30.0,
    },
    "daily notification digest": {
        "task": "notify.tasks.send_digests_task",
        "schedule": crontab(hour=7, minute=0),
    },
    "emit due events": {"task": "registry.tasks.emit_due_events_task", "schedule": 3600.0},
    "emit overdue request events": {
        "task": "tool_requests.tasks.emit_overdue_requests_task",
        "schedule": 3600.0,
    },
    "emit audit due events": {
        "task": "assessments.tasks.emit_audit_due_task",
        "schedule": 3600.0,
    },
    "emit connector health events": {
        "task": "connectors.tasks.emit_connector_unhealthy_task",
        "schedule": 3600.0,
    },
}
CELERY_TIMEZONE = TIME_ZONE

# Connectors: hosts/CIDRs a connector may reach when the factory keeps no allowlist of its own.
CONNECTOR_DEFAULT_ALLOWLIST = env_list(
    "CONNECTOR_DEFAULT_ALLOWLIST", "127.0.0.0/8,::1" if DEBUG else ""
)

# The currency portfolio and business-unit ROI totals are pooled in (docs/kpis.md).
PORTFOLIO_CURRENCY = env_str("PORTFOLIO_CURRENCY", "EUR").upper()

# Webhooks (docs/events.md): hosts/CIDRs a webhook URL may reach (default: the connectors'
# default allowlist), seconds a receiver has to answer, tries of a delivery and the first
# pause between them (tripled after each try: 60 s … 12 h, eight tries over ~18 h).
WEBHOOK_ALLOWLIST = env_list("WEBHOOK_ALLOWLIST", ",".join(CONNECTOR_DEFAULT_ALLOWLIST))
WEBHOOK_TIMEOUT_SECONDS = float(env_str("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 60)

# Tool requests (docs/tool-requests.md): cost above which the CoE must review (in the
# factory's currency), the fast track, due days per step, the longest hold-ring exception.
TOOL_REQUEST_REVIEW_THRESHOLD = env_decimal("TOOL_REQUEST_REVIEW_THRESHOLD", "10000")
TOOL_REQUEST_FAST_TRACK = env_bool("TOOL_REQUEST_FAST_TRACK", True)
TOOL_REQUEST_OWNER_DAYS = env_int("TOOL_REQUEST_OWNER_DAYS", 5)
TOOL_REQUEST_COE_DAYS = env_int("TOOL_REQUEST_COE_DAYS", 10)
TOOL_REQUEST_PROVISION_DAYS = env_int("TOOL_REQUEST_PROVISION_DAYS", 10)
TOOL_REQUEST_EXCEPTION_MAX_DAYS = env_int("TOOL_REQUEST_EXCEPTION_MAX_DAYS", 365)
# The service's public address, for links in notification mails.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# Every CSV/XLSX table the product reads (coe/tables.py, docs/api.md "Limits"): largest
# file, most rows (blank ones included), columns, cells, characters in one cell.
TABLE_MAX_BYTES = env_int("TABLE_MAX_BYTES", 10 * 1024 * 1024)
TABLE_MAX_ROWS = env_int("TABLE_MAX_ROWS", 100_000)
TABLE_MAX_COLUMNS = env_int("TABLE_MAX_COLUMNS", 100)
TABLE_MAX_CELLS = env_int("TABLE_MAX_CELLS", 2_000_000)
TABLE_MAX_CELL_CHARS = env_int("TABLE_MAX_CELL_CHARS", 10_000)
# An XLSX is a zip archive: checked from its directory before anything is unpacked.
XLSX_MAX_ENTRIES = env_int("XLSX_MAX_ENTRIES", 1_000)
XLSX_MAX_UNCOMPRESSED_BYTES = env_int("XLSX_MAX_UNCOMPRESSED_BYTES", 64 * 1024 * 1024)
XLSX_MAX_COMPRESSION_RATIO = env_int("XLSX_MAX_COMPRESSION_RATIO", 100)
# Largest evidence file of an audit answer.
ASSESSMENT_EVIDENCE_MAX_BYTES = env_int("ASSESSMENT_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
# The token endpoint takes a user name and a password, from anyone.
AUTH_TOKEN_MAX_BYTES = env_int("AUTH_TOKEN_MAX_BYTES", 16 * 1024)
# JSON bodies nested deeper than this are refused (400).
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 64)
# Request body limits by URL name (coe/limits.py); a multipart body carries its file plus
# the form's other fields and boundaries.
_MULTIPART_SLACK = 64 * 1024
_TABLE_UPLOAD = TABLE_MAX_BYTES + _MULTIPART_SLACK
_EVIDENCE_UPLOAD = ASSESSMENT_EVIDENCE_MAX_BYTES + _MULTIPART_SLACK
REQUEST_BODY_LIMITS = {
    "api:auth-token": AUTH_TOKEN_MAX_BYTES,
    "api:ingest-metrics": _TABLE_UPLOAD,
    "api:ingest-counters": _TABLE_UPLOAD,
    "api:ingest-finance": _TABLE_UPLOAD,
    "api:ingest-devices": _TABLE_UPLOAD,
    "api:import-registry": _TABLE_UPLOAD,
    "api:import-adoptions": _TABLE_UPLOAD,
    "registry-import": _TABLE_UPLOAD,
    "fact-upload": _TABLE_UPLOAD,
    "api:assessment-evidence": _EVIDENCE_UPLOAD,
    "assessment-detail": _EVIDENCE_UPLOAD,
}
# Four-eyes audits: finalising needs a CoE staff member other than whoever answered.
AUDIT_FOUR_EYES = env_bool("AUDIT_FOUR_EYES", True)

# Connectors (docs/connectors.md). Fernet keys of stored credentials, newest first (the
# first encrypts, all decrypt). Required when DEBUG is off: a key generated on the fly
# would be lost with the machine and every stored credential with it. With DEBUG and the
# variable unset, a generated key is kept in .dev-fernet-key.
CONNECTOR_CREDENTIALS_KEYS = env_list("CONNECTOR_CREDENTIALS_KEYS")
if not CONNECTOR_CREDENTIALS_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "CONNECTOR_CREDENTIALS_KEYS must be set when DEBUG is off (comma-separated Fernet "
        "keys; make one with `python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'`)."
    )
# Seconds before an unchanged device's last_seen is moved again (re-syncs within it write
# nothing), and device records per ingest batch (0: 10,000 on PostgreSQL, 500 elsewhere).
CONNECTOR_LAST_SEEN_RESOLUTION = env_int("CONNECTOR_LAST_SEEN_RESOLUTION", 3600)
CONNECTOR_INGEST_BATCH_SIZE = env_int("CONNECTOR_INGEST_BATCH_SIZE", 0)
# Device batches an ingest writes in background threads (each with its own database
# connection) while it plans the next; PostgreSQL only, never inside a caller's
# transaction; 0 writes every batch in turn.
CONNECTOR_INGEST_WRITERS = env_int("CONNECTOR_INGEST_WRITERS", 2)
# A running sync whose heartbeat is older than this (s) is taken to be dead: a redelivered
# task takes it over, and the reaper (every CONNECTOR_REAPER_INTERVAL s, Celery beat)
# fails it and frees its connector.
CONNECTOR_RUN_STALE_SECONDS = env_int("CONNECTOR_RUN_STALE_SECONDS", 600)
CONNECTOR_REAPER_INTERVAL = env_int("CONNECTOR_REAPER_INTERVAL", 60)
# A queued sync whose task message no worker has picked up within this (s) is taken to be
# lost by the broker (restart without persistence, purge, consumer timeout): the reaper
# re-sends it, at most CONNECTOR_RUN_QUEUED_RESENDS times, then fails it.
CONNECTOR_RUN_QUEUED_RESEND_SECONDS = env_int("CONNECTOR_RUN_QUEUED_RESEND_SECONDS", 300)
CONNECTOR_RUN_QUEUED_RESENDS = env_int("CONNECTOR_RUN_QUEUED_RESENDS", 3)
# First retry delay (s, doubling) of a sync whose source is unreachable.
CONNECTOR_RETRY_BACKOFF = env_int("CONNECTOR_RETRY_BACKOFF", 30)
# MQTT broker of the demo simulators and the tests; unset: Mosquitto on 127.0.0.1:1883
# when it answers, else an embedded broker.
MQTT_BROKER_URL = env_str("MQTT_BROKER_URL")

# The password every demo user gets from `load_demo` (printed by the command).
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "northwind-demo-2026")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
