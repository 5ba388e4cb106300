"""Resolve settings, read from the environment in one place.

Every value comes from an environment variable with an embedded default that needs
no server: SQLite under var/, a filesystem Celery broker, email written to var/mail/.
Set DATABASE_URL, REDIS_URL (or CELERY_BROKER_URL) and EMAIL_URL for real services.
"""

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("RESOLVE_VAR_DIR", default=str(BASE_DIR / "var")))


class _StrictEnv(environ.Env):
    """django-environ reads any unknown word as False; a typo in a flag must stop start-up."""

    FALSE_STRINGS = ("false", "off", "n", "no", "0", "")

    def bool(self, var, default=environ.Env.NOTSET):  # type: ignore[override]
        raw = self.ENVIRON.get(var)
        if raw is not None and raw.strip().lower() not in (
            *self.BOOLEAN_TRUE_STRINGS,
            *self.FALSE_STRINGS,
        ):
            raise ImproperlyConfigured(f"{var}={raw!r} is not a boolean: use true or false.")
        return super().bool(var, default=default)


env = _StrictEnv()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    # Only ever used with DEBUG on.
    SECRET_KEY = "insecure-dev-key-only-for-debug"  # noqa: S105  # nosec B105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Links in e-mails point at the port `make run` serves on (PORT) unless BASE_URL says otherwise.
PORT = env.int("PORT", default=8000)
BASE_URL = env.str("BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "accounts",
    "projects",
    "issues",
    "customfields",
    "playbooks",
    "workflows",
    "notifications",
    "reports",
    "boards",
    "intake",
    "webhooks",
    "mailin",
    "api",
]
# Benchmarks and bench seeding (`make bench`): not part of the product, left out with
# BENCH_APP=false.
if env.bool("BENCH_APP", default=True):
    INSTALLED_APPS.append("bench")

# Sessions, the signed-in user, their time zone and messages are for pages: the tracker
# subclasses skip them under /api/ (token-authenticated; see tracker/middleware.py).
MIDDLEWARE = [
    "tracker.middleware.RequestIdMiddleware",
    # Logs (once) when plain HTTP meets the HTTPS-only settings, before the redirect.
    "tracker.middleware.PlainHttpNoticeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tracker.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "tracker.middleware.AuthenticationMiddleware",
    "tracker.middleware.UserTimezoneMiddleware",
    "tracker.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"
ASGI_APPLICATION = "tracker.asgi.application"

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
                "django.template.context_processors.csp",
                "tracker.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'resolve.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT: compiling a report's plan costs 30-150 ms per statement, more than it saves here.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite: wait for the writer instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# SQLite ignores the covering indexes' INCLUDE columns (made for PostgreSQL); that is expected
# on the embedded default and not worth a warning on every command.
SILENCED_SYSTEM_CHECKS = [] if IS_POSTGRES else ["models.W040"]
# Intake runs its two per-event statements as prepared statements (intake/hotpath.py); turn
# off behind a pooler that cannot keep them (PgBouncer < 1.21 in transaction mode).
INTAKE_PREPARED_STATEMENTS = env.bool("INTAKE_PREPARED_STATEMENTS", default=True)
# Events from Sentry SDKs are stored with an asynchronous commit (intake/sdk.py says what a
# PostgreSQL crash can lose); false waits for the WAL flush on every event.
SDK_ASYNC_COMMIT = env.bool("SDK_ASYNC_COMMIT", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Django's ModelBackend and database sessions, each reading its row with a statement compiled
# once per process instead of on every page (accounts.backends, accounts.sessions).
AUTHENTICATION_BACKENDS = ["accounts.backends.UserBackend"]
SESSION_ENGINE = "accounts.sessions"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login and password-reset attempts allowed per client IP and per account.
AUTH_ATTEMPTS_RATE = env.str("AUTH_ATTEMPTS_RATE", default="10/m")

# --- Cache ----------------------------------------------------------------
# Shared across processes when Redis is there (rate limits must hold across gunicorn workers).
# The intake app's per-token rate limit counts in the "intake" alias.
_shared_cache = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("REDIS_URL")}
    if env.str("REDIS_URL", default="")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
)
CACHES = {"default": _shared_cache, "intake": {**_shared_cache, "KEY_PREFIX": "intake"}}

# --- I18N / time ----------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------
# EMAIL_URL: smtp://user:pass@host:port (smtp+tls:// for STARTTLS); unset writes files.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Resolve <resolve@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAIL_DIR = VAR_DIR / "mail"


def _mailer_from_url(url: str) -> dict:
    if not url:
        return {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(MAIL_DIR)},
        }
    parsed = environ.Env.email_url_config(url)
    options = {
        "host": parsed.get("EMAIL_HOST", "localhost"),
        "port": parsed.get("EMAIL_PORT", 25),
        "username": parsed.get("EMAIL_HOST_USER", ""),
        "password": parsed.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": parsed.get("EMAIL_USE_TLS", False),
        "use_ssl": parsed.get("EMAIL_USE_SSL", False),
        "timeout": env.int("EMAIL_TIMEOUT", default=10),
    }
    return {"BACKEND": parsed["EMAIL_BACKEND"], "OPTIONS": options}


MAILERS = {"default": _mailer_from_url(env.str("EMAIL_URL", default=""))}

# --- Notifications and the SLA monitor (notifications app) ----------------
# How often Celery beat runs the SLA sweep, in seconds.
SLA_SWEEP_INTERVAL = env.float("SLA_SWEEP_INTERVAL", default=60.0)
# Checkpoints claimed per sweep transaction (bounded work, short row locks).
SLA_SWEEP_BATCH = env.int("SLA_SWEEP_BATCH", default=1000)
# The sweep runs every minute; older than this, the dashboard warns that alerts are not going out.
SLA_SWEEP_STALE_SECONDS = env.int("SLA_SWEEP_STALE_SECONDS", default=300)
# Default wait before a still-breached issue escalates to the project's Managers, in minutes
# (each project's escalation ladder may override it).
SLA_ESCALATE_AFTER_MINUTES = env.int("SLA_ESCALATE_AFTER_MINUTES", default=120)
# Local hour (in each manager's own time zone) of the daily SLA digest.
SLA_DIGEST_HOUR = env.int("SLA_DIGEST_HOUR", default=8)
# How often notifications set to "digest" go out as one batched email, in minutes.
NOTIFY_BATCH_MINUTES = env.int("NOTIFY_BATCH_MINUTES", default=60)
# Email retries: exponential backoff 1 s, 2 s, 4 s ... capped, then the catch-up beat entry.
NOTIFY_EMAIL_MAX_RETRIES = env.int("NOTIFY_EMAIL_MAX_RETRIES", default=10)
NOTIFY_EMAIL_BACKOFF_MAX = env.int("NOTIFY_EMAIL_BACKOFF_MAX", default=600)
# --- Reliability (issue 8) ---
# How long an email sender owns a claimed row; a killed sender's rows are retried after it.
NOTIFY_EMAIL_CLAIM_SECONDS = env.int("NOTIFY_EMAIL_CLAIM_SECONDS", default=300)
# --- end reliability ---
# Queue the web app publishes to and the worker consumes (tests use a unique one per run).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")

# --- Mail in (mailin app) ----------------------------------------------------
# Replies to notifications go to MAILIN_REPLY_ADDRESS with a signed token: reply+<token>@host.
MAILIN_REPLY_ADDRESS = env.str(
    "MAILIN_REPLY_ADDRESS", default=f"reply@{urlparse(BASE_URL).hostname or 'localhost'}"
)
# Largest message the SMTP receiver accepts (SIZE); attachments keep ATTACHMENT_MAX_BYTES.
MAILIN_MAX_MESSAGE_BYTES = env.int("MAILIN_MAX_MESSAGE_BYTES", default=50 * 1024 * 1024)
# Messages per sender per hour before further ones wait in quarantine.
MAILIN_SENDER_RATE_PER_HOUR = env.int("MAILIN_SENDER_RATE_PER_HOUR", default=60)
# At most one polite bounce per sender in this many hours (never to automatic mail).
MAILIN_BOUNCE_EVERY_HOURS = env.int("MAILIN_BOUNCE_EVERY_HOURS", default=24)
# IMAP polling: imap://user:pass@host:143/INBOX or imaps://…:993/INBOX; empty turns it off.
MAILIN_IMAP_URL = env.str("MAILIN_IMAP_URL", default="")
MAILIN_IMAP_INTERVAL = env.float("MAILIN_IMAP_INTERVAL", default=60.0)
# Move handled messages to this folder (flagged \\Seen and left in place when empty).
MAILIN_IMAP_DONE_FOLDER = env.str("MAILIN_IMAP_DONE_FOLDER", default="")
# The drop folder `manage.py receive_mail --drop-dir` watches (make run uses it).
MAILIN_DROP_DIR = Path(env.str("MAILIN_DROP_DIR", default=str(VAR_DIR / "mail-in")))

# --- Celery ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith("redis"):
    # Unacknowledged tasks come back after this many seconds (late acks + worker loss).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The beat schedule lives in one place; each entry says what it is for.
CELERY_BEAT_SCHEDULE: dict = {
    # Flag issues whose SLA checkpoints came due (at risk, breached, escalation) and alert.
    "sla-sweep": {
        "task": "notifications.tasks.sweep_sla",
        "schedule": SLA_SWEEP_INTERVAL,
        "options": {"expires": SLA_SWEEP_INTERVAL},
    },
    # Catch-up for the notification outbox: events whose on_commit trigger was lost.
    "notification-outbox": {
        "task": "notifications.tasks.process_outbox",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Catch-up for emails whose task was lost (broker down, worker killed): re-queue them.
    "email-catch-up": {
        "task": "notifications.tasks.requeue_unsent_emails",
        "schedule": 120.0,
        "options": {"expires": 120.0},
    },
    # One batched email per user for notifications set to "digest".
    "batched-notifications": {
        "task": "notifications.tasks.send_batched_notifications",
        "schedule": NOTIFY_BATCH_MINUTES * 60.0,
    },
    # Catch-up for webhook senders whose task was lost (broker down, worker killed), and
    # endpoints re-enabled or due for a retry whose wake-up was lost.
    "webhook-catch-up": {
        "task": "webhooks.tasks.requeue_due_webhooks",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
    # Catch-up for errors from Sentry SDKs whose processing task was lost (broker down).
    "sdk-events": {
        "task": "intake.tasks.process_sdk_events_task",
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    # Retention of raw SDK events (days and events per group, per project), in batches.
    "sdk-events-retention": {
        "task": "intake.tasks.purge_sdk_events_task",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    # Mail in: read the IMAP mailbox (MAILIN_IMAP_URL) and re-process stored mail left
    # unprocessed by a crash; both are no-ops when there is nothing to do.
    "mail-in-imap": {
        "task": "mailin.tasks.poll_imap",
        "schedule": MAILIN_IMAP_INTERVAL,
        "options": {"expires": MAILIN_IMAP_INTERVAL},
    },
    "mail-in-pending": {
        "task": "mailin.tasks.process_pending_mail",
        "schedule": 120.0,
        "options": {"expires": 120.0},
    },
    # The daily SLA digest: checked every 15 min, sent once at SLA_DIGEST_HOUR local time.
    "daily-sla-digest": {
        "task": "notifications.tasks.send_daily_digests",
        "schedule": 900.0,
        "options": {"expires": 900.0},
    },
}

# --- Outgoing webhooks ----------------------------------------------------
# Allow targets on loopback/private/link-local networks (on-premises installs, the tests).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=5.0)
# Read at most this much of an answer (the log keeps its first kilobyte).
WEBHOOK_RESPONSE_MAX_BYTES = env.int("WEBHOOK_RESPONSE_MAX_BYTES", default=65536)
# Retries: back-off from BASE seconds, doubling, capped at MAX, for RETRY_HOURS.
WEBHOOK_BACKOFF_BASE = env.float("WEBHOOK_BACKOFF_BASE", default=10.0)
WEBHOOK_BACKOFF_MAX = env.float("WEBHOOK_BACKOFF_MAX", default=3600.0)
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=24.0)
# An endpoint failing this long without a success is disabled; its Managers are e-mailed.
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=72.0)
# After a rotation the old secret signs too for this long.
WEBHOOK_ROTATION_HOURS = env.float("WEBHOOK_ROTATION_HOURS", default=24.0)
# A sender owns claimed deliveries this long (a killed worker's are retried after it).
WEBHOOK_CLAIM_SECONDS = env.int("WEBHOOK_CLAIM_SECONDS", default=120)
# One endpoint's sender gives the worker back after this long (fairness between endpoints).
WEBHOOK_TURN_SECONDS = env.float("WEBHOOK_TURN_SECONDS", default=20.0)
# POSTs in flight at once per endpoint (never two of one issue: the order holds).
WEBHOOK_SEND_THREADS = env.int("WEBHOOK_SEND_THREADS", default=4)
if WEBHOOK_CLAIM_SECONDS < WEBHOOK_TURN_SECONDS + WEBHOOK_CONNECT_TIMEOUT + WEBHOOK_READ_TIMEOUT:
    raise ImproperlyConfigured(
        "WEBHOOK_CLAIM_SECONDS must cover WEBHOOK_TURN_SECONDS plus both webhook timeouts."
    )

# --- Security -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
HTTPS = env.bool("HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Tokens never reach a log line: intake webhooks may carry theirs as `?token=` in the URL
# (tracker/logsafety.py; gunicorn's own logs are redacted through gunicorn.conf.py).
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "tracker.logsafety.RedactSecrets"},
        "request_id": {"()": "tracker.requestid.RequestIdFilter"},
    },
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
        # Errors name the request (its id is on the error page and in API error bodies).
        "console": {"format": "{levelname} {name} [request {request_id}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "redact_secrets"],
            "formatter": "console",
        },
        # runserver's request lines (Procfile.dev), as Django's default but redacted.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own console handler (DEBUG only) would print every error a second time:
        # everything goes to the root handler above, once.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # aiosmtpd (the mail-in receiver) logs every SMTP command at INFO.
        "mail.log": {"level": "WARNING"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker has no host: kombu's "No hostname was supplied" says nothing useful.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
