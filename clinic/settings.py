"""Settings for the clinic tracker, all driven by environment variables.

Every variable is listed in README.md. The defaults give the zero-setup `make run`:
SQLite under var/ and a filesystem Celery broker, debug on, emails to the console.
"""

import datetime
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from clinic.env import (
    env_bool,
    env_choice,
    env_email,
    env_int,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CLINIC_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Off unless set: a forgotten variable must not serve a clinic in debug mode with a public
# key. `make run` turns it on for itself.
DEBUG = env_bool("DJANGO_DEBUG", False)

# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (use a long random string). "
            "For a development server on this machine set DJANGO_DEBUG=true, as `make run` does."
        )
    SECRET_KEY = "insecure-development-key-only-for-make-run"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list this server's host names in production.")
# The development key is in the source: whoever knows it can sign patient links. It may
# serve this machine only.
if SECRET_KEY == "insecure-development-key-only-for-make-run" and set(ALLOWED_HOSTS) - {
    "localhost",
    "127.0.0.1",
    "[::1]",
    "testserver",
}:
    raise ImproperlyConfigured(
        "The development secret key is public: set DJANGO_SECRET_KEY before allowing "
        f"host names other than localhost (ALLOWED_HOSTS is {','.join(ALLOWED_HOSTS)})."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Demo accounts from `seed_demo` may only log in while debugging; see clinic.auth_backends.
DEMO_LOGINS_ALLOWED = DEBUG

INSTALLED_APPS = [
    # First: its createsuperuser replaces auth's, so that one validates passwords too.
    "clinic",
    # The admin with the clinic's login and second factor (clinic.admin_site).
    "clinic.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_tables2",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "scheduling",
    "clinic.nursing",
    "followup",
    "clinic.fhir",
]

MIDDLEWARE = [
    # First: /healthz answers probes by IP over plain HTTP (see clinic.health).
    "clinic.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # https://whitenoise.readthedocs.io/en/stable/django.html
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Below the session: pushes an active session's idle timeout forward (clinic.middleware).
    "clinic.middleware.IdleTimeoutMiddleware",
    # Below WhiteNoise, whose static files keep their cache headers.
    "clinic.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # Users who need a second factor get no page before they pass it (clinic.accounts).
    "clinic.accounts.middleware.SecondFactorMiddleware",
    # A superuser's requests under break-glass access go to the audit trail with the reason.
    "clinic.accounts.middleware.BreakGlassAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Staff see their own sites' records; another site's asks for a reason (clinic.sites).
    "clinic.middleware.SiteScopeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Records which user made each change in the models' history tables.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a locked-out login attempt into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

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
                "clinic.context_processors.clinic",
            ],
        },
    },
]

# https://github.com/jazzband/dj-database-url
DATABASES = {
    "default": dj_database_url.parse(
        env_url(
            "DATABASE_URL",
            f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}",
            schemes={"sqlite", "postgres", "postgresql", "pgsql"},
        ),
        # Persistent connections: a new PostgreSQL connection per request or per task
        # costs more than most pages (328 against 2,223 bare requests/s measured). Web
        # requests and Celery tasks (its Django fixup closes them as requests do) keep
        # a connection this many seconds; off under `make run` (DEBUG, SQLite).
        # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 60),
        # A reused connection is checked before a request uses it, so one PostgreSQL
        # dropped (restart, failover, idle timeout) costs no request an error.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: take the write lock at BEGIN so
    # concurrent writers queue instead of failing with "database is locked".
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-transaction-behavior
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before the password is checked.
    "clinic.auth_backends.ClinicAxesBackend",
    "clinic.auth_backends.ClinicModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Accounts: lockout, second factor, API tokens (clinic.accounts; README "Security and privacy").
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Ten wrong passwords lock an account; an address (many staff may share one behind a NAT or
# proxy) is locked after LOGIN_IP_FAILURE_LIMIT. Both unlock LOGIN_LOCKOUT_MINUTES after the
# last failure.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 50, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "clinic.accounts.lockout.ClinicAxesHandler"
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_CALLABLE = "clinic.accounts.lockout.lockout_response"
# Successful logins are in the audit trail (AuditEvent); axes keeps only the failure counts.
AXES_DISABLE_ACCESS_LOG = True
# A success must not wipe the failures counted against an address or another account.
AXES_RESET_ON_SUCCESS = False
# REMOTE_ADDR only, as clinic.audit: X-Forwarded-For is whatever the client says.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# A superuser's break-glass access (clinical acts as a physician, each recorded with the
# reason given) lasts this long; then it asks again.
BREAK_GLASS_MINUTES = env_int("BREAK_GLASS_MINUTES", 30, minimum=1)
# API tokens (django-rest-knox): stored as a hash, valid API_TOKEN_DAYS unless the owner
# picks a shorter life on the API tokens page, never longer than API_TOKEN_MAX_DAYS.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 30, minimum=1)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365, minimum=1)
if API_TOKEN_DAYS > API_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured("API_TOKEN_DAYS cannot be longer than API_TOKEN_MAX_DAYS.")
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(days=API_TOKEN_DAYS),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}
# A physician's calendar feed address stops working this long after it was made.
CALENDAR_FEED_DAYS = env_int("CALENDAR_FEED_DAYS", 180, minimum=1)
# POSTs to the patient pages (survey, confirm, reschedule) one address may send in 10 minutes.
PATIENT_POST_LIMIT = env_int("PATIENT_POST_LIMIT", 60, minimum=1)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("da", "Dansk")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_time_zone("TIME_ZONE", "Europe/Copenhagen")
USE_I18N = True
# https://docs.djangoproject.com/en/5.2/topics/i18n/formatting/#creating-custom-format-files
FORMAT_MODULE_PATH = ["clinic.formats"]
USE_TZ = True  # stored in UTC, shown in TIME_ZONE or the site's zone

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: EMAIL_URL such as smtp://user:password@host:587?tls=1, smtps://host:465,
# outbox:// (files under var/outbox/, shown on the staff Outbox page; the default in debug
# mode, so `make run` needs no mail server), console:// (the default otherwise) or locmem://;
# or, instead of EMAIL_URL, EMAIL_HOST with EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS and EMAIL_USE_SSL.
if env_str("EMAIL_HOST"):
    if env_str("EMAIL_URL"):
        raise ImproperlyConfigured("Set EMAIL_URL or EMAIL_HOST, not both.")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    if EMAIL_USE_SSL and EMAIL_USE_TLS:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on.")
    EMAIL_PORT = env_int("EMAIL_PORT", 465 if EMAIL_USE_SSL else 25, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_TIMEOUT = 20
else:
    EMAIL_URL = env_url(
        "EMAIL_URL",
        "outbox://" if DEBUG else "console://",
        schemes={"smtp", "smtps", "console", "locmem", "outbox"},
    )
    _email = urlsplit(EMAIL_URL)
    if _email.scheme in {"smtp", "smtps"}:
        try:
            _email_port = _email.port
        except ValueError:
            raise ImproperlyConfigured(f"EMAIL_URL has a bad port (got {EMAIL_URL!r}).") from None
        EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        EMAIL_HOST = _email.hostname or "localhost"
        EMAIL_PORT = _email_port or (465 if _email.scheme == "smtps" else 25)
        EMAIL_HOST_USER = unquote(_email.username or "")
        EMAIL_HOST_PASSWORD = unquote(_email.password or "")
        EMAIL_USE_SSL = _email.scheme == "smtps"
        EMAIL_USE_TLS = "tls=1" in (_email.query or "")
        EMAIL_TIMEOUT = 20
    elif _email.scheme == "outbox":
        if not DEBUG:
            raise ImproperlyConfigured(
                "EMAIL_URL=outbox:// keeps patient emails in files on this machine: debug only."
            )
        EMAIL_BACKEND = "clinic.mail.OutboxBackend"
    else:
        EMAIL_BACKEND = f"django.core.mail.backends.{_email.scheme}.EmailBackend"
EMAIL_OUTBOX_DIR = VAR_DIR / "outbox"
# Patient email leaves over TLS in production. A relay on this host, or a mail catcher that
# says EMAIL_ALLOW_PLAINTEXT=true (compose's mailpit), may take it in plain text.
EMAIL_ALLOW_PLAINTEXT = env_bool("EMAIL_ALLOW_PLAINTEXT", DEBUG)
if (
    EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    and not (EMAIL_USE_TLS or EMAIL_USE_SSL)
    and EMAIL_HOST not in {"localhost", "127.0.0.1", "::1"}
    and not EMAIL_ALLOW_PLAINTEXT
):
    raise ImproperlyConfigured(
        f"Email to {EMAIL_HOST} would travel unencrypted: use smtps:// or ?tls=1 in EMAIL_URL "
        "(EMAIL_USE_TLS / EMAIL_USE_SSL), or set EMAIL_ALLOW_PLAINTEXT=true for a mail catcher."
    )
DEFAULT_FROM_EMAIL = env_email("DEFAULT_FROM_EMAIL", "clinic@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

CLINIC_NAME = env_str("CLINIC_NAME", "Spine & Pain Clinic")
# The name authenticator apps show next to the code.
OTP_TOTP_ISSUER = CLINIC_NAME
CLINIC_PHONE = env_str("CLINIC_PHONE", "+45 70 00 00 00")
CLINIC_ONCALL_EMAIL = env_email("CLINIC_ONCALL_EMAIL", "oncall@localhost")
# Absolute base for links in patient emails (no request is at hand in a Celery task).
# Unless set, it follows the HOST and PORT that `make run` serves on, so a patient's tap on a
# link reaches this server.
_served_at = f"http://{env_str('HOST', '127.0.0.1')}:{env_int('PORT', 8000, minimum=1)}"
SITE_URL = env_url("SITE_URL", _served_at, schemes={"http", "https"}).rstrip("/")

# Celery. REDIS_URL switches from the embedded filesystem broker to Redis.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
REDIS_URL = env_url(
    "REDIS_URL", "filesystem://", schemes={"redis", "rediss", "filesystem", "memory"}
)
CELERY_BROKER_URL = REDIS_URL
if REDIS_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.filesystem.html
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Tasks are short; a message not acknowledged within the hour is re-delivered.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran so a killed worker's task is delivered again; the tasks
# are idempotent so a redelivery never repeats an email.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless
# this is set (a new PostgreSQL backend per batch of emails); with it, it closes it only
# every this many tasks, and clinic.celery closes it sooner as Django does after a request
# (CONN_MAX_AGE, a failed connection).
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}

# Throttles and rate limits count in the cache: Redis when there is one, so that every web
# process counts together; per process otherwise (make run has one).
if REDIS_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "clinic-cache",
        }
    }

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes anonymous calls 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clinic.auth_backends.ClinicTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["clinic.api_permissions.RoleModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's, documenting the refusal (409) once for every write.
    "DEFAULT_SCHEMA_CLASS": "clinic.api_errors.AutoSchema",
    # A service's Refused answers 409 in one shape everywhere.
    "EXCEPTION_HANDLER": "clinic.api_errors.exception_handler",
    # The token endpoint, per address, on top of the lockout of clinic.accounts.lockout.
    "DEFAULT_THROTTLE_RATES": {"api_token": env_str("API_TOKEN_RATE", "20/minute")},
    # JSON only in production: the browsable API is a second UI to secure (forms, scripts).
    # https://www.django-rest-framework.org/api-guide/renderers/#setting-the-renderers
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
# Swagger UI at /api/docs/ (staff only): on under `make run`, off in production unless set.
# The schema itself stays at /api/schema/ for clients.
API_DOCS_UI = env_bool("API_DOCS_UI", DEBUG)
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic tracker API",
    "DESCRIPTION": "Scheduling, nursing record and follow-up of a pain and spine clinic.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

DJANGO_TABLES2_TEMPLATE = "clinic/table.html"

# Content-Security-Policy: scripts only from this server's files (no inline script, no
# eval), nothing loaded from elsewhere, no framing. Style attributes and the few <style>
# blocks stay allowed: Bootstrap utilities use them, and CSS cannot run code.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        # Bootstrap draws checkboxes and select arrows with data: SVGs.
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Production hardening; `manage.py check --deploy` passes with these defaults.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
X_FRAME_OPTIONS = "DENY"
# Password reset emails one address may ask for in 10 minutes (clinic.accounts).
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 5, minimum=1)

# How long a reasoned opening of another site's patient record lasts (clinic.sites).
CROSS_SITE_ACCESS_MINUTES = env_int("CROSS_SITE_ACCESS_MINUTES", 60, minimum=1)

# Idle timeout: a session unused this long ends (shared tablets); an active one is pushed
# forward by clinic.middleware.IdleTimeoutMiddleware. The cookie itself dies with the browser.
# https://docs.djangoproject.com/en/5.2/topics/http/sessions/#browser-length-sessions-vs-persistent-sessions
SESSION_COOKIE_AGE = 60 * env_int("SESSION_IDLE_MINUTES", 30, minimum=1)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Django's database sessions, read with less work per request (clinic/sessions.py).
SESSION_ENGINE = "clinic.sessions"

LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# One line per event: Django's own console handler is dropped (everything reaches the root
# handler once), 4xx answers carry no traceback, and Celery logs a task once (when it ends),
# not "received" and beat's "sending due task" every minute as well.
# https://docs.djangoproject.com/en/5.2/topics/logging/#default-logging-configuration
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_traceback_for_4xx": {"()": "clinic.logs.NoTracebackForClientErrors"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", choices=LOG_LEVELS)},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["no_traceback_for_4xx"]},
        "django.db.backends": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

# Follow-up engine
# Reminders, surveys and alerts (followup.dispatch). Times are minutes/hours/days as named.
FOLLOWUP_REMINDER_HOURS_BEFORE = env_int("FOLLOWUP_REMINDER_HOURS_BEFORE", 48)
# "HH:MM" site-local time for the reminder on its day; empty: exactly the hours before.
FOLLOWUP_REMINDER_LOCAL_TIME = env_str("FOLLOWUP_REMINDER_LOCAL_TIME", "")
_hh, _sep, _mm = FOLLOWUP_REMINDER_LOCAL_TIME.partition(":")
if FOLLOWUP_REMINDER_LOCAL_TIME and not (
    _sep and _hh.isdigit() and _mm.isdigit() and int(_hh) < 24 and int(_mm) < 60
):
    raise ImproperlyConfigured(
        "FOLLOWUP_REMINDER_LOCAL_TIME must be a time such as 17:00 "
        f"(got {FOLLOWUP_REMINDER_LOCAL_TIME!r})."
    )
FOLLOWUP_SURVEY_REMINDER_DAYS = env_int("FOLLOWUP_SURVEY_REMINDER_DAYS", 3, minimum=1)
FOLLOWUP_SURVEY_MAX_REMINDERS = env_int("FOLLOWUP_SURVEY_MAX_REMINDERS", 2)
FOLLOWUP_SURVEY_EXPIRY_DAYS = env_int("FOLLOWUP_SURVEY_EXPIRY_DAYS", 14, minimum=1)
# Signed links in emails stop working after this; longer than a survey stays open.
FOLLOWUP_LINK_MAX_AGE_DAYS = env_int("FOLLOWUP_LINK_MAX_AGE_DAYS", 90, minimum=1)
# Sections left out before the ODI / NDI gives no score (implementations differ).
FOLLOWUP_ODI_MAX_MISSING = env_int("FOLLOWUP_ODI_MAX_MISSING", 1)
FOLLOWUP_NDI_MAX_MISSING = env_int("FOLLOWUP_NDI_MAX_MISSING", 1)
# Minutes after a diagnostic block at which the pain diary asks for an NRS score.
_diary = env_list("FOLLOWUP_DIARY_OFFSETS_MINUTES", "30,60,120,240,360,480")
if not _diary or not all(m.isdigit() and int(m) > 0 for m in _diary):
    raise ImproperlyConfigured(
        f"FOLLOWUP_DIARY_OFFSETS_MINUTES must list minutes such as 30,60,120 (got {_diary})."
    )
FOLLOWUP_DIARY_OFFSETS_MINUTES = sorted({int(m) for m in _diary})
FOLLOWUP_WORSE_PAIN_POINTS = env_int("FOLLOWUP_WORSE_PAIN_POINTS", 2, minimum=1)
# An alert nobody acknowledged is emailed to on-call again after this long.
FOLLOWUP_ALERT_ESCALATE_MINUTES = env_int("FOLLOWUP_ALERT_ESCALATE_MINUTES", 60, minimum=1)
# A clinical alert (NEWS2 in an escalation band in recovery) goes to the procedure's
# physician; on-call is emailed when nobody acknowledged it after this long. RCP 2017 asks
# for an urgent review at NEWS2 5 or a single 3, hence far shorter than the above.
CLINICAL_ALERT_ESCALATE_MINUTES = env_int("CLINICAL_ALERT_ESCALATE_MINUTES", 15, minimum=1)
FOLLOWUP_EMERGENCY_PHONE = env_str("FOLLOWUP_EMERGENCY_PHONE", "112")
FOLLOWUP_DISPATCH_BATCH_SIZE = env_int("FOLLOWUP_DISPATCH_BATCH_SIZE", 200, minimum=1)
# A send task is killed after FOLLOWUP_SEND_TIME_LIMIT seconds, so a row still queued or
# sending after FOLLOWUP_STUCK_AFTER_MINUTES has no live worker and is recovered.
FOLLOWUP_SEND_TIME_LIMIT = env_int("FOLLOWUP_SEND_TIME_LIMIT", 120, minimum=10)
FOLLOWUP_STUCK_AFTER_MINUTES = env_int("FOLLOWUP_STUCK_AFTER_MINUTES", 10, minimum=1)
if FOLLOWUP_STUCK_AFTER_MINUTES * 60 <= FOLLOWUP_SEND_TIME_LIMIT:
    raise ImproperlyConfigured(
        "FOLLOWUP_STUCK_AFTER_MINUTES must be longer than FOLLOWUP_SEND_TIME_LIMIT, "
        "or a send still in progress could be repeated."
    )
FOLLOWUP_SEND_MAX_ATTEMPTS = env_int("FOLLOWUP_SEND_MAX_ATTEMPTS", 5, minimum=1)
FOLLOWUP_SEND_RETRY_MINUTES = env_int("FOLLOWUP_SEND_RETRY_MINUTES", 5, minimum=1)
FOLLOWUP_MESSAGE_ID_DOMAIN = urlsplit(SITE_URL).hostname or "localhost"
CELERY_BEAT_SCHEDULE["followup-dispatch"] = {
    "task": "followup.dispatch",
    "schedule": 60.0,
    # A tick missed while no worker ran is replaced by the next one, not piled up.
    "options": {"expires": 55},
}
# The recall rows are refreshed as appointments and answers change; each night every row is
# recomputed, to take in renamed procedures and edited block protocols and to repair a
# refresh that failed. In TIME_ZONE (CELERY_TIMEZONE), when the clinic is closed.
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#crontab-schedules
CELERY_BEAT_SCHEDULE["followup-recall-rebuild"] = {
    "task": "followup.recall_rebuild",
    "schedule": crontab(hour=2, minute=30),
    "options": {"expires": 3600},
}
# FHIR R4 interface (clinic.fhir): read-only, at /fhir/R4/.
# Namespace of the clinic's own identifiers and codes (MRN, procedure catalogue, local
# observation codes); stable once other systems have stored them.
FHIR_SYSTEM_BASE = env_url(
    "FHIR_SYSTEM_BASE", f"{SITE_URL}/fhir", schemes={"http", "https"}
).rstrip("/")
FHIR_PAGE_SIZE = env_int("FHIR_PAGE_SIZE", 50, minimum=1)
FHIR_MAX_PAGE_SIZE = env_int("FHIR_MAX_PAGE_SIZE", 500, minimum=1)
# Bulk export files ($export) are NDJSON under this folder, served to the requester only.
FHIR_EXPORT_DIR = VAR_DIR / "fhir-export"
FHIR_EXPORT_EXPIRY_HOURS = env_int("FHIR_EXPORT_EXPIRY_HOURS", 24, minimum=1)
CELERY_BEAT_SCHEDULE["fhir-export-purge"] = {
    "task": "fhir.export_purge",
    "schedule": 3600.0,
    "options": {"expires": 3500},
}
# The follow-up API names two different "kind" choice sets; give each enum its own name.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "AlertKindEnum": "followup.models.Alert.Kind",
        "InvitationKindEnum": "followup.models.Invitation.Kind",
    }
)

# --- Patient rights (GDPR) ------------------------------------------------------------------
# How long the clinical record of an anonymised patient is kept after their last appointment:
# the Danish rule for patient records (journalføringsbekendtgørelsen) is at least 10 years.
PATIENT_RECORD_RETENTION_YEARS = env_int("PATIENT_RECORD_RETENTION_YEARS", 10, minimum=1)
