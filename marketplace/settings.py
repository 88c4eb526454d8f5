"""Settings, read from the environment (twelve-factor).

With nothing set this is the embedded default: SQLite under var/, a Celery broker that needs no server
(kombu's filesystem transport under var/), outgoing mail written as files under var/mail/. Set
DATABASE_URL and REDIS_URL for PostgreSQL and Redis. Every setting is listed in README.md and .env.example.
"""

import difflib
import json
import logging
import math
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import environ
from django.core.exceptions import ImproperlyConfigured

from marketplace import localenv

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")

# --- The local settings file (var/local.env, written by `make run`) ------------------------------------
# A generated SECRET_KEY, DEBUG=1, the ports and addresses of the running stack, so every manage.py command
# in a new shell sees what `make run` uses. The environment wins over its lines. LOCAL_ENV_FILE="" reads
# none (tests). Read only under the explicit development switch MARKETPLACE_DEV=1 (`make run` exports it),
# never because the file happens to exist: a checkout that once ran `make run` and is then started for
# production must not pick up DEBUG=1 or the public fake webhook secret. See marketplace/localenv.py.
LOCAL_ENV_FILE = localenv.local_env_path()
LOCAL_ENV_READ = localenv.dev_switch_on() and LOCAL_ENV_FILE is not None and LOCAL_ENV_FILE.is_file()
# Where each value comes from (the environment, or a line of the file), taken before the file is loaded.
_ENV_SOURCES = localenv.Sources(LOCAL_ENV_FILE if LOCAL_ENV_READ else None)
if LOCAL_ENV_READ:
    # Its "Invalid line" warnings are make run's to give, with the line number (localenv.warnings_for).
    _environ_logger = logging.getLogger("environ.environ")
    _environ_logger.disabled, _was_disabled = True, _environ_logger.disabled
    environ.Env.read_env(LOCAL_ENV_FILE, overwrite=False)
    _environ_logger.disabled = _was_disabled
# Named in production's refusals, so an operator sees why the file's values did not count.
_LOCAL_ENV_IGNORED = (
    f" ({LOCAL_ENV_FILE} exists but is not read: it is read only with {localenv.DEV_SWITCH}=1, for development)"
    if not LOCAL_ENV_READ and LOCAL_ENV_FILE is not None and LOCAL_ENV_FILE.is_file() else "")


# --- Reading the environment ----------------------------------------------------------------------------
# Every setting is read through these helpers: a bad value stops the start with one ImproperlyConfigured
# line naming the setting, its source (a line of var/local.env, or the environment) and what is expected
# (localenv.SettingError), and `make run` reports the names of var/local.env that none of them read (typos).
_ENV_NAMES_READ: set[str] = set()
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _env_value(name: str) -> str | None:
    """The variable, None when unset or empty (the setting's default)."""
    _ENV_NAMES_READ.add(name)
    value = os.environ.get(name)
    return None if value is None or value == "" else value


def env_invalid(name: str, expected: str, *, secret: bool = False) -> localenv.SettingError:
    """The error for a setting whose value is not `expected` (its value left out when secret)."""
    return localenv.SettingError(name, _ENV_SOURCES.of(name), expected, None if secret else os.environ.get(name))


def env_str(name: str, default: str = "") -> str:
    _ENV_NAMES_READ.add(name)
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = _env_value(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise env_invalid(name, "1, true, yes or on, or 0, false, no or off")


def env_int(name: str, default: int) -> int:
    value = _env_value(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise env_invalid(name, "a whole number, like 10") from None


def env_float(name: str, default: float | None) -> float | None:
    value = _env_value(name)
    if value is None:
        return None if default is None else float(default)
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise env_invalid(name, "a number, like 0.5 or 300")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_env_value(name) or default).strip().lower()
    if value not in choices:
        raise env_invalid(name, " or ".join(choices))
    return value


def env_json(name: str, default):
    value = _env_value(name)
    if value is None:
        return default
    try:
        return json.loads(value)
    except ValueError as exc:
        raise env_invalid(name, f"JSON, like {{\"key\": 1}} ({exc})") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
# The embedded default (`make run`) sets DEBUG=1; anything else is treated as production and needs a
# real secret. A known-insecure key is only ever used when DEBUG is on.
_INSECURE_KEY = "insecure-dev-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value, or run `make run` once: it writes "
            f"{VAR_DIR / 'local.env'} with a generated key and DEBUG=1 for local development (read with "
            f"{localenv.DEV_SWITCH}=1).{_LOCAL_ENV_IGNORED}"
        )
    SECRET_KEY = _INSECURE_KEY
elif not DEBUG and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32 or len(set(SECRET_KEY)) < 5
                   or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured("SECRET_KEY is too weak for production: use at least 32 random characters "
                               "(not a few repeated ones).")


# Template values (.env.example's `change-me-...`, `whsec_...`, `sk_live_...`) copied without an edit.
_PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "replace-me", "replace_me", "your-", "your_", "<your",
                      "...")


def _refuse_placeholder(name: str, value: str, how: str) -> None:
    """Production (DEBUG off) never starts on a template value: it is as public as the template."""
    if not DEBUG and any(mark in value.lower() for mark in _PLACEHOLDER_MARKS):
        raise ImproperlyConfigured(f"{name} is a placeholder ({value!r}, as in .env.example): {how}.")


_refuse_placeholder("SECRET_KEY", SECRET_KEY, "set a long random value of your own, e.g. the output of "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Links in mails and Stripe's return links. `make run` sets it from PORT (var/local.env).
PUBLIC_BASE_URL = (env_str("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
# The name mails greet and sign with (allauth would otherwise use the request's host, "127.0.0.1:8600").
SITE_NAME = env_str("SITE_NAME", "Labeling Marketplace")
# How long the one-click unsubscribe link in a notification mail stays good (workers.services.unsubscribe).
UNSUBSCRIBE_TOKEN_MAX_AGE_SECONDS = env_int("UNSUBSCRIBE_TOKEN_MAX_AGE_SECONDS", 90 * 24 * 3600)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, no CDN
    # The workers' web app (pages at /), on the same services and selectors as the API. Before allauth: its
    # account/ and mfa/ templates replace allauth's own.
    "webapp",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "allauth.mfa",
    "csp",
    "django_prometheus",
    "marketplace",
    "workers",
    "tasks",
    "quality",
    "payments",
    "sandbox",  # runs untrusted code under bubblewrap, on the sandbox queue
    "simulation",  # manage.py simulate: a day in the marketplace through the real API
    "django_htmx",
]

MIDDLEWARE = [
    # Request counts and latencies for /metrics (django-prometheus): first and last, so they time the rest.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Every log line of the request, and every Celery job it enqueues, carries this id (X-Request-ID).
    "marketplace.observability.requestid.RequestIdMiddleware",
    # Outermost: Django's own error pages under /api/ become the one JSON error shape, DEBUG or not.
    "marketplace.api.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # request.htmx: the web app answers an htmx request with the part of the page it replaces.
    "django_htmx.middleware.HtmxMiddleware",
    # Refuses hostile JSON bodies, out-of-range ids and NUL in query strings before any view (400/404).
    "marketplace.api.input_guard.InputGuardMiddleware",
    # Pages (the admin) render stored text that may hold a lone surrogate: never a 500 for it.
    "marketplace.safe_output.SafeTemplateMiddleware",
    "marketplace.idempotency.IdempotencyKeyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "marketplace" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'marketplace.sqlite3'}"
# Read whatever the engine, so a line of var/local.env naming one is never taken for a typo.
_DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 60)
_DB_SERVER_SIDE_BINDING = env_bool("DB_SERVER_SIDE_BINDING", True)
_DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 5)
_DB_JIT = env_bool("DB_JIT", False)
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=_DB_CONN_MAX_AGE)}
except ValueError as _exc:  # the URL holds a password: the message names its scheme only
    _scheme = DATABASE_URL.partition("://")[0] if "://" in DATABASE_URL else ""
    if isinstance(_exc, dj_database_url.UnknownSchemeError):
        _close = difflib.get_close_matches(_scheme.lower(), ["postgres", "postgresql", "sqlite"], n=1)
        _problem = (f"the scheme {_scheme!r} is unknown" if _scheme else "there is no scheme") + (
            f" (did you mean {_close[0]}?)" if _close else "")
    else:
        _problem = "it is not a valid URL (%-quote a / @ : or % in the password)"
    raise env_invalid("DATABASE_URL", "postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH; "
                                      f"{_problem}", secret=True) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the Celery worker and beat share one SQLite file; IMMEDIATE
    # transactions take the write lock up front so writers queue instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    if _DB_SERVER_SIDE_BINDING:
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True,
                                           "prepare_threshold": _DB_PREPARE_THRESHOLD or None}
    # PostgreSQL's JIT compiles any query the planner costs high, before running it: 2 s of compiling for a
    # 60 ms notification batch (a LIMITed index walk the planner costs as a full scan), at every batch.
    # Off by default (as most OLTP deployments do); behind PgBouncer, which refuses the startup option,
    # set DB_JIT=1 and `ALTER DATABASE ... SET jit = off` instead (docs/scaling.md).
    if not _DB_JIT:
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# Query counts and latencies for /metrics: django-prometheus's wrappers of the same backends.
if env_bool("METRICS_DB_INSTRUMENTATION", True):
    _PROMETHEUS_ENGINES = {"django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
                           "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3"}
    DATABASES["default"]["ENGINE"] = _PROMETHEUS_ENGINES.get(DATABASES["default"]["ENGINE"],
                                                             DATABASES["default"]["ENGINE"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker --------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # Django's Redis cache, failing soft while Redis is down (marketplace.cache): rate limits fail open.
    CACHES = {"default": {"BACKEND": "marketplace.cache.ResilientRedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_DIR = VAR_DIR / "broker"
_CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
_CELERY_UNACKED_RESTORE_SECONDS = env_int("CELERY_UNACKED_RESTORE_SECONDS", 10)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Broadcast tables (the worker's control exchange); kombu's default is ./control in the cwd.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # The transport polls its folder; the default (1 s) caps the embedded stack at a few jobs a second.
        "polling_interval": 0.1,
    }
else:
    # A job taken by a worker that died (SIGKILL, OOM, lost machine) goes back to the queue once it has
    # been unacknowledged for CELERY_VISIBILITY_TIMEOUT seconds; workers look for such jobs every
    # CELERY_UNACKED_RESTORE_SECONDS (kombu's default scan is only every ~100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _CELERY_VISIBILITY_TIMEOUT,
                                       "unacked_restore_interval": _CELERY_UNACKED_RESTORE_SECONDS,
                                       "unacked_restore_throttle": 1}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# At-least-once delivery: a job is acknowledged after it ran, and redelivered if the worker dies.
# Every job is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "marketplace")
# CELERY_SPLIT_QUEUES=1: payouts, quality and client webhooks each on a queue of their own
# (<CELERY_QUEUE>-payouts, -quality, -webhooks), so a worker pool per kind can be sized and restarted
# alone: a long quality recompute or a client's slow endpoint then never delays a payout. Every queue
# needs a worker (`celery -A marketplace worker -Q <queue>`); off, everything runs on CELERY_QUEUE.
CELERY_SPLIT_QUEUES = env_bool("CELERY_SPLIT_QUEUES", False)
CELERY_TASK_ROUTES = {
    "payments.jobs.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}-payouts"},
    "quality.jobs.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}-quality"},
    "tasks.jobs.clients.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}-webhooks"},
} if CELERY_SPLIT_QUEUES else {}
# Untrusted code runs only on the sandbox queue, always split off: its workers belong on isolated machines
# with bubblewrap (docs/sandbox.md), never on the web hosts.
SANDBOX_QUEUE = env_str("SANDBOX_QUEUE", "sandbox")
CELERY_TASK_ROUTES["sandbox.jobs.*"] = {"queue": SANDBOX_QUEUE}
CELERY_TASK_ROUTES["tasks.jobs.execution.*"] = {"queue": SANDBOX_QUEUE}  # runs task tests: sandbox machines
SANDBOX_BWRAP = env_str("SANDBOX_BWRAP", "bwrap")
SANDBOX_CPU_SECONDS = env_int("SANDBOX_CPU_SECONDS", 5)
SANDBOX_WALL_SECONDS = env_float("SANDBOX_WALL_SECONDS", 10)
SANDBOX_MEMORY_BYTES = env_int("SANDBOX_MEMORY_MB", 1024) * 1024 ** 2
SANDBOX_PROCESSES = env_int("SANDBOX_PROCESSES", 64)
SANDBOX_OUTPUT_BYTES = env_int("SANDBOX_OUTPUT_KB", 64) * 1024
SANDBOX_FILE_BYTES = env_int("SANDBOX_FILE_MB", 16) * 1024 ** 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEARTBEAT_SECONDS = env_int("HEARTBEAT_SECONDS", 30)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "marketplace.jobs.heartbeat", "schedule": timedelta(seconds=HEARTBEAT_SECONDS)},
}
# A publish that cannot reach the broker fails fast (the outbox relay retries), instead of hanging a process.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2)
if not CELERY_BROKER_URL.startswith(("filesystem://", "memory://")):
    CELERY_BROKER_TRANSPORT_OPTIONS.update({"socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
                                            "socket_timeout": 10})

# --- Outbox and faults (docs/design.md) -----------------------------------------------------------------
# The outbox relay (manage.py outbox_relay): seconds between scans when no commit wakes it (PostgreSQL
# wakes it at each commit with NOTIFY), events per publish batch, the longest pause between retries while
# the broker or the database is down, and how long sent events are kept before they are pruned.
OUTBOX_POLL_SECONDS = env_float("OUTBOX_POLL_SECONDS", 0.5)
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 500)
OUTBOX_RETRY_MAX_SECONDS = env_float("OUTBOX_RETRY_MAX_SECONDS", 2)
OUTBOX_KEEP_SECONDS = env_int("OUTBOX_KEEP_SECONDS", 24 * 3600)
# A job published but not finished after this long is published again (lost by the broker or with a killed
# worker), at most OUTBOX_MAX_PUBLISHES times in all. Longer than the longest job plus its first countdown.
OUTBOX_REDELIVER_SECONDS = env_int("OUTBOX_REDELIVER_SECONDS", 60)
OUTBOX_MAX_PUBLISHES = env_int("OUTBOX_MAX_PUBLISHES", 10)
# Idempotency-Key header on API writes: how long an answer is kept for replay, and the largest JSON
# body the key covers (bigger uploads, i.e. ingest, are idempotent by their external_ids instead).
IDEMPOTENCY_KEEP_SECONDS = env_int("IDEMPOTENCY_KEEP_SECONDS", 24 * 3600)
IDEMPOTENCY_MAX_BODY_BYTES = env_int("IDEMPOTENCY_MAX_BODY_BYTES", 1 << 20)
# The Retry-After (seconds) of a 503 answered while the database is unreachable.
DATABASE_UNAVAILABLE_RETRY_AFTER = env_int("DATABASE_UNAVAILABLE_RETRY_AFTER", 5)
CELERY_BEAT_SCHEDULE.update({
    # Backstop for a deployment without the relay process, and the pruning of old idempotency answers.
    "outbox-relay": {"task": "marketplace.jobs.outbox_relay", "schedule": timedelta(seconds=30)},
    "idempotency-prune": {"task": "marketplace.jobs.idempotency_keys_prune", "schedule": timedelta(hours=1)},
})

# --- Auth: custom user, allauth headless (app client) ---------------------------------------------
AUTH_USER_MODEL = "marketplace.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_ADAPTER = "marketplace.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Marketplace] "
# False (not {}) switches allauth's limits off; {} would mean "the defaults". "key" counts per address (case
# and spaces folded), shared by the API, the web app and the admin; past a limit the answer is 429
# (marketplace.adapters, marketplace.signup_guard; docs/security.md). Others: allauth's defaults.
_ACCOUNT_RATE_LIMITS_ON = {  # also what tests/marketplace/test_auth_rate_limits.py runs with
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "60/m/ip",
    "signup_email": "3/10m/key",
    "reset_password": "20/m/ip,3/10m/key",
    "confirm_email": "1/10s/key",
}
ACCOUNT_RATE_LIMITS = False if env_bool("ACCOUNT_RATE_LIMITS_OFF") else _ACCOUNT_RATE_LIMITS_ON
ACCOUNT_SIGNUP_FORM_CLASS = "marketplace.signup_guard.SignupGuard"
HEADLESS_ONLY = True
HEADLESS_CLIENTS = ("app",)
HEADLESS_TOKEN_STRATEGY = "marketplace.api.tokens.SessionTokenStrategy"
HEADLESS_FRONTEND_URLS = {
    # Links in mails point at small pages served by this backend (marketplace/views.py). None of them acts
    # on a GET (mail scanners fetch every link): each shows a form that POSTs.
    "account_confirm_email": f"{PUBLIC_BASE_URL}/account/verify-email/{{key}}",
    "account_reset_password": f"{PUBLIC_BASE_URL}/account/reset-password",
    "account_reset_password_from_key": f"{PUBLIC_BASE_URL}/account/reset-password/{{key}}",
    # The "no account for this address" and "already signed up" mails link the web app's sign-up page.
    "account_signup": f"{PUBLIC_BASE_URL}/accounts/signup/",
}
# The admin and the workers' web app sign in through allauth's pages (marketplace/urls.py, accounts/...), with
# its rate limits and MFA. After sign-in staff land in the admin, everyone else on the web app's start page
# (marketplace.adapters.AccountAdapter.get_login_redirect_url).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Labeling Marketplace")

# --- Mail -----------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "marketplace@localhost")

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["marketplace.api.authentication.SessionTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.errors.exception_handler",
    # JSON only, decoded with orjson and checked (marketplace.json_limits): no form or multipart bodies.
    "DEFAULT_PARSER_CLASSES": ["marketplace.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["marketplace.api.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Deepest nesting accepted in a JSON body or an uploaded task row (marketplace.json_limits).
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 64)
SPECTACULAR_SETTINGS = {
    "TITLE": "Labeling workforce marketplace API",
    "DESCRIPTION": "Clients push code-judgment tasks and pull results; freelancers claim, judge and get paid.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "marketplace.api.schema.add_error_responses",
    ],
}

# --- Stripe ---------------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_fake")
# Unset means Stripe itself. `make run` and the tests point it at payments.fakestripe.
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
# No production default: the security section below refuses to start without a secret of your own.
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "") or ("whsec_fake" if DEBUG else "")
STRIPE_CURRENCY = env_str("STRIPE_CURRENCY", "usd")

# --- Outgoing webhooks to clients -----------------------------------------------------------------
# Callback URLs that resolve to loopback, link-local or private ranges are refused unless this is on.
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)

# --- Internationalisation, static -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security: production (DEBUG off) refuses unsafe settings and sends the protective headers -------
# Webhook signing secrets written anywhere in this repository (tests, compose, examples): whoever reads
# the repository could sign Stripe events with them (account.updated switching a worker's payouts off).
PUBLIC_STRIPE_WEBHOOK_SECRETS = frozenset({
    "whsec_fake", "whsec_test", "whsec_...", "whsec_compose_local_only_not_a_secret_0123456789"})
_refuse_placeholder("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY, "set your secret key from the Stripe dashboard")
_refuse_placeholder("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET,
                    "set your webhook endpoint's signing secret from the Stripe dashboard")
if not DEBUG:
    if not STRIPE_WEBHOOK_SECRET:
        raise ImproperlyConfigured(
            "STRIPE_WEBHOOK_SECRET is not set. Set it to your Stripe webhook endpoint's signing secret "
            f"(whsec_..., from the Stripe dashboard), or DEBUG=1 for local development.{_LOCAL_ENV_IGNORED}")
    # A public or short secret is tolerated only against a fake Stripe (STRIPE_API_BASE set, as in
    # docker compose): no real money can move there. Against Stripe itself it never starts.
    if (STRIPE_WEBHOOK_SECRET in PUBLIC_STRIPE_WEBHOOK_SECRETS or len(STRIPE_WEBHOOK_SECRET) < 24) \
            and not STRIPE_API_BASE:
        raise ImproperlyConfigured(
            "STRIPE_WEBHOOK_SECRET is a public value (written in this repository) or too short to be "
            "Stripe's: anyone could sign events. Use your endpoint's signing secret from the Stripe dashboard.")

# HTTPS only. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER names the header it sets
# (default X-Forwarded-Proto: https); the proxy must overwrite that header, never pass a client's through.
# Set it empty when clients reach the app directly. Local plain-http stacks (docker compose) set
# SECURE_SSL_REDIRECT=0; the health check answers over plain http for load balancers.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
_proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto" if not DEBUG else "").strip()
SECURE_PROXY_SSL_HEADER = (f"HTTP_{_proxy_header.upper().replace('-', '_')}", "https") if _proxy_header else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is a commitment made for the whole domain at hstspreload.org: opt in, never by default.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The silenced check only says "SECURE_HSTS_PRELOAD is off", a deliberate choice (above).
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Client API keys: an address with this many failed Api-Key attempts within the window gets 429 (with
# Retry-After) for every Api-Key request until the window ends. 0 switches the limit off.
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 20)
API_KEY_FAILURE_WINDOW_SECONDS = env_int("API_KEY_FAILURE_WINDOW_SECONDS", 300)
# Proxies in front of the app that append to X-Forwarded-For: the client address (allauth's login limits and
# the API-key limit) is read that many hops from the right. 0: REMOTE_ADDR, the header is ignored.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Content-Security-Policy (django-csp). An API plus the admin, the consoles, the web app and Swagger UI, all
# served from this origin (Swagger UI from drf-spectacular-sidecar; its start-up script is a file, not
# inline): scripts and styles from here only, no inline script, event handler or style attribute (stored
# text that slipped past escaping could not run); no plugins, no framing, forms post here. Swagger UI's page
# alone adds 'unsafe-inline' to style-src, for its one <style> block (marketplace/urls.py). Every template
# keeps to it: tests/marketplace/test_security_headers.py scans them and checks every HTML route's headers.
# Django's CSRF failure page has an inline <style> the policy refuses: ours, in the site's layout, has none.
CSRF_FAILURE_VIEW = "marketplace.views.csrf_failure"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Logs and metrics (docs/operations.md) ---------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line (python-json-logger), for a log shipper; human (default): plain
# lines for `make run`. Both carry the request id (X-Request-ID), in web requests and the jobs they enqueue.
LOG_FORMAT = env_choice("LOG_FORMAT", "human", ("json", "human"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "marketplace.observability.requestid.RequestIdFilter"}},
    "formatters": {
        "human": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Celery workers keep this LOGGING instead of installing their own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# GET /metrics (Prometheus). A scraper gets in with `Authorization: Bearer METRICS_TOKEN`, or from an
# address in METRICS_ALLOWED_NETWORKS (comma-separated CIDRs; under `make run` loopback by default).
# Neither set: /metrics refuses everyone.
# A Celery worker running apart from the web server serves its own counters on this port (0: off; with
# PROMETHEUS_MULTIPROC_DIR set in the worker's environment). Not behind METRICS_TOKEN: bind it to a
# private network only (CELERY_METRICS_ADDR), as docker compose does by not publishing the port.
CELERY_METRICS_PORT = env_int("CELERY_METRICS_PORT", 0)
CELERY_METRICS_ADDR = env_str("CELERY_METRICS_ADDR", "127.0.0.1")
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128" if DEBUG else "")
# How often beat refreshes the per-project task counts /metrics and the ops console read.
METRICS_PROJECT_REFRESH_SECONDS = env_int("METRICS_PROJECT_REFRESH_SECONDS", 60)
CELERY_BEAT_SCHEDULE.update({
    "metrics-project-counts": {"task": "marketplace.jobs.refresh_project_gauges",
                               "schedule": timedelta(seconds=METRICS_PROJECT_REFRESH_SECONDS)},
})

# --- workers ---
# The terms of service version a worker must accept (PATCH /api/v1/me/ accepted_terms_version) to claim work.
TERMS_VERSION = env_str("TERMS_VERSION", "2026-11")
# Seconds after a quiz attempt's deadline during which a submit is still accepted (network latency).
WORKERS_QUIZ_SUBMIT_GRACE_SECONDS = env_int("WORKERS_QUIZ_SUBMIT_GRACE_SECONDS", 5)

# --- tasks (queue) ---
# Most live (leased, unexpired) assignments one worker may hold at once; a claim beyond it is 403.
QUEUE_MAX_LIVE_CLAIMS = env_int("QUEUE_MAX_LIVE_CLAIMS", 3)
# Default per-worker share cap of a project without max_judgments_per_worker: a worker may hold at most
# max(QUEUE_DEFAULT_SHARE_MIN, QUEUE_DEFAULT_SHARE_PERCENT% of the project's tasks) live + submitted assignments.
QUEUE_DEFAULT_SHARE_PERCENT = env_int("QUEUE_DEFAULT_SHARE_PERCENT", 20)
QUEUE_DEFAULT_SHARE_MIN = env_int("QUEUE_DEFAULT_SHARE_MIN", 10)
# The claim runs as one SQL statement (FOR UPDATE SKIP LOCKED) on PostgreSQL; 0 uses the portable ORM path.
QUEUE_CLAIM_RAW_SQL = env_bool("QUEUE_CLAIM_RAW_SQL", default=True)
# Time spent on a task is measured by the server (claim to submit) and multiplied by this. Always 1 in
# production; a compressed-clock simulation (manage.py simulate --speed N) runs its server with N.
QUEUE_TIME_SCALE = env_float("QUEUE_TIME_SCALE", 1)
if QUEUE_TIME_SCALE <= 0:
    raise env_invalid("QUEUE_TIME_SCALE", "a number above 0, like 1 or 300")
# Beat: return expired leases to the queue, age open tasks, and how aging raises priority.
QUEUE_EXPIRE_EVERY_SECONDS = env_int("QUEUE_EXPIRE_EVERY_SECONDS", 30)
QUEUE_AGING_EVERY_SECONDS = env_int("QUEUE_AGING_EVERY_SECONDS", 600)
QUEUE_AGING_STEP_SECONDS = env_int("QUEUE_AGING_STEP_SECONDS", 3600)
QUEUE_AGING_MAX_BOOST = env_int("QUEUE_AGING_MAX_BOOST", 48)
# "There is work" mails: at most one per worker per interval; workers looked at per batch.
QUEUE_NOTIFY_MIN_INTERVAL_SECONDS = env_int("QUEUE_NOTIFY_MIN_INTERVAL_SECONDS", 3600)
QUEUE_NOTIFY_BATCH_SIZE = env_int("QUEUE_NOTIFY_BATCH_SIZE", 200)
CELERY_BEAT_SCHEDULE.update({
    "queue-expire-leases": {"task": "tasks.jobs.queue.expire_leases",
                            "schedule": timedelta(seconds=QUEUE_EXPIRE_EVERY_SECONDS)},
    "queue-age-tasks": {"task": "tasks.jobs.queue.age_tasks", "schedule": timedelta(seconds=QUEUE_AGING_EVERY_SECONDS)},
})

# --- tasks (clients) ---
# Bulk ingest: rows per INSERT statement, invalid lines reported in one 400, rows per upload, bytes per line.
TASKS_INGEST_BATCH_SIZE = env_int("TASKS_INGEST_BATCH_SIZE", 1000)
TASKS_INGEST_MAX_ERRORS = env_int("TASKS_INGEST_MAX_ERRORS", 100)
TASKS_INGEST_MAX_ROWS = env_int("TASKS_INGEST_MAX_ROWS", 1_000_000)
TASKS_INGEST_MAX_LINE_BYTES = env_int("TASKS_INGEST_MAX_LINE_BYTES", 1 << 20)
# An upload of this many new tasks or more refreshes the planner's statistics (ANALYZE) once it commits.
TASKS_INGEST_ANALYZE_ROWS = env_int("TASKS_INGEST_ANALYZE_ROWS", 10_000)
# Webhooks to clients: per-attempt timeout, attempts before giving up, backoff base (doubles each attempt,
# capped), how long task.completed waits for quality's consensus before going out with consensus null.
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10)
WEBHOOKS_MAX_ATTEMPTS = env_int("WEBHOOKS_MAX_ATTEMPTS", 8)
WEBHOOKS_BACKOFF_SECONDS = env_int("WEBHOOKS_BACKOFF_SECONDS", 30)
WEBHOOKS_BACKOFF_MAX_SECONDS = env_int("WEBHOOKS_BACKOFF_MAX_SECONDS", 6 * 3600)
CELERY_BEAT_SCHEDULE.update({
    "webhooks-sweep": {"task": "tasks.jobs.clients.webhooks_sweep", "schedule": timedelta(seconds=60)},
})

# --- quality ---
# Beat: how often projects whose judgments changed get their agreement, consensus and standings recomputed.
QUALITY_RECOMPUTE_SECONDS = env_int("QUALITY_RECOMPUTE_SECONDS", 300)
# Amortised recompute: while a project's approved judgments grew by less than this fraction since its last
# full Dawid-Skene fit, a beat run scores only the tasks the new judgments touched (quality.services.incremental).
QUALITY_REFIT_FRACTION = env_float("QUALITY_REFIT_FRACTION", 0.25)
# Overrides of quality.rules.DEFAULT_RULES, as JSON, e.g. {"fast": {"median_seconds_below": 3}}.
# Per project, ProjectQualityPolicy.rules overrides these in turn.
QUALITY_RULES = env_json("QUALITY_RULES", {})
# What a flag does at each severity: any of "suspend", "requeue", "hold".
QUALITY_ACTIONS = env_json("QUALITY_ACTIONS", {}) or {
    "review": ["hold"], "suspend": ["suspend", "requeue", "hold"]}
# "pool": suspend from the project's pool (platform-wide when the project has none); "worker": platform-wide.
QUALITY_SUSPEND_SCOPE = env_choice("QUALITY_SUSPEND_SCOPE", "pool", ("pool", "worker"))
CELERY_BEAT_SCHEDULE.update({
    "quality-recompute": {"task": "quality.jobs.recompute_quality",
                          "schedule": timedelta(seconds=QUALITY_RECOMPUTE_SECONDS)},
})

# --- payments ---
# Stripe requests per second this deployment sends (shared through the cache: Redis across all workers).
# Stripe's live limit is 100/s; a 429 that still happens is retried with backoff.
PAYMENTS_STRIPE_RATE_LIMIT = env_float("PAYMENTS_STRIPE_RATE_LIMIT", 100)
PAYMENTS_STRIPE_TIMEOUT = env_float("PAYMENTS_STRIPE_TIMEOUT", 20)  # seconds per Stripe request
# Where Stripe sends the worker after onboarding (default: the payout-account endpoint of this server).
PAYMENTS_ONBOARDING_RETURN_URL = env_str("PAYMENTS_ONBOARDING_RETURN_URL", "")
PAYMENTS_ONBOARDING_REFRESH_URL = env_str("PAYMENTS_ONBOARDING_REFRESH_URL", "")
# Finance bonuses and adjustments: the hard maximum of one (either sign; never above 10^12, the ledger's
# bound), and the size above which a second finance user must approve it before it is posted (four eyes).
PAYMENTS_ADJUSTMENT_MAX_CENTS = env_int("PAYMENTS_ADJUSTMENT_MAX_CENTS", 1_000_000)
PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS = env_int("PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS", 10_000)
# Beat re-enqueues payout lines of executing batches left open this long (lost jobs, outages).
PAYMENTS_RESUME_SECONDS = env_int("PAYMENTS_RESUME_SECONDS", 300)
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update({
    "PayoutBatchStatusEnum": "payments.models.PayoutBatch.Status",
    "PayoutLineStatusEnum": "payments.models.PayoutLine.Status",
    "LedgerAdjustmentStatusEnum": "payments.models.LedgerAdjustment.Status",
    # A completion's or a fix's run in the sandbox (tasks.CompletionRun, tasks.FixRun share these).
    "ExecutionStatusEnum": "tasks.models.CompletionRun.Status",
})
CELERY_BEAT_SCHEDULE.update({
    "payments-resume-payout-lines": {"task": "payments.jobs.payout_lines_resume",
                                     "schedule": timedelta(seconds=PAYMENTS_RESUME_SECONDS),
                                     "kwargs": {"older_than_seconds": PAYMENTS_RESUME_SECONDS}},
})

# --- pay follows evidence (payments.services.clearance, docs/payments.md "Pending earnings") ---
# A judgment's credit waits in the worker's pending balance until their quality evidence clears them:
# at least PAY_CLEARANCE_MIN_GOLD gold answers and PAY_CLEARANCE_MIN_JUDGMENTS gold + agreement-scored
# judgments in a project, whose pooled share right has its Wilson lower bound (z = PAY_CLEARANCE_Z) above the
# floor (PAY_CLEARANCE_FLOOR; empty: the project's gold threshold, quality rules gold.upper_below; agreement-scored
# judgments are held to its agreement equivalent against the project's consensus, docs/payments.md).
PAY_CLEARANCE_MIN_GOLD = env_int("PAY_CLEARANCE_MIN_GOLD", 3)
PAY_CLEARANCE_MIN_JUDGMENTS = env_int("PAY_CLEARANCE_MIN_JUDGMENTS", 15)
PAY_CLEARANCE_Z = env_float("PAY_CLEARANCE_Z", 0.5)
# Doubt, besides flags: the random-answering test's log likelihood ratio (random : honest) above this (empty:
# the project's quality rules random.watch_log_lr, 1.0 by default: quality watches the worker for random
# answering; schemas without that test use adaptive gold's agreement test instead) ...
PAY_CLEARANCE_DOUBT_LOG_LR = env_float("PAY_CLEARANCE_DOUBT_LOG_LR", None)
# ... or a median time per judgment under this share of the project's workers' median (0: off).
PAY_CLEARANCE_FAST_SHARE = env_float("PAY_CLEARANCE_FAST_SHARE", 0.8)
PAY_CLEARANCE_FLOOR = env_float("PAY_CLEARANCE_FLOOR", None)
# The clock fallback: a pending credit this old clears when nothing is in doubt about the worker. 0: no
# holding period (credits are payable at once unless a quality flag holds the worker).
PAY_CLEARANCE_WAIT_SECONDS = env_int("PAY_CLEARANCE_WAIT_SECONDS", 3 * 24 * 3600)
# What a quality flag's hold does to pending credits: "hold" (to held, released or forfeited with the flag)
# or "reverse" (back to the platform at once).
PAY_PENDING_ON_FLAG = env_choice("PAY_PENDING_ON_FLAG", "hold", ("hold", "reverse"))
# Beat: how often the clock fallback looks at workers holding pending money.
PAY_CLEARANCE_SWEEP_SECONDS = env_int("PAY_CLEARANCE_SWEEP_SECONDS", 600)
CELERY_BEAT_SCHEDULE["payments-clearance-due"] = {"task": "payments.jobs.earnings_clearance_due",
                                                  "schedule": timedelta(seconds=PAY_CLEARANCE_SWEEP_SECONDS)}

# --- pay floor ---
# Effective hourly pay = reward per judgment / median seconds per approved judgment * 3600, in the
# project's minor units, times the cleared share of those judgments' credits (pending pay is shown apart).
# Below this floor a project is flagged (admin warning, low_pay / below_pay_floor), on the cleared figure.
PAY_FLOOR_HOURLY_CENTS = env_int("PAY_FLOOR_HOURLY_CENTS", 1500)
# Fewer timed approved judgments than this: the figure is null (a median of 2 is noise).
PAY_HOURLY_MIN_JUDGMENTS = env_int("PAY_HOURLY_MIN_JUDGMENTS", 5)
# The sample behind the figure: each project's newest this many approved, timed judgments (read newest first
# on the (project, id) index), so its cost is bounded per project however many judgments it has.
PAY_HOURLY_SAMPLE = env_int("PAY_HOURLY_SAMPLE", 500)
if PAY_HOURLY_SAMPLE < 1:
    raise env_invalid("PAY_HOURLY_SAMPLE", "a whole number of at least 1")
