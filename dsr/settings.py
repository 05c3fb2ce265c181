"""Settings, read from the environment (DESIGN §9).

Every variable is optional on a developer machine. A value that cannot be parsed
stops start-up with ``ImproperlyConfigured`` naming the variable, so an operator
never runs with a silently ignored setting.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from dsr.core import env

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = os.environ.get("DSR_TESTING", "").lower() in {"1", "true", "yes", "on"}
# Files of a developer machine (SQLite database, local broker, dev keys); tests keep their own.
VAR_DIR = Path(os.environ.get("DSR_VAR_DIR") or BASE_DIR / "var" / ("test" if TESTING else ""))

DEBUG = env.read("DEBUG", env.boolean, False)

SECRET_KEY_FROM_ENV = bool(os.environ.get("SECRET_KEY"))
SECRET_KEY = os.environ.get("SECRET_KEY") or env.local_secret(
    VAR_DIR, "secret_key", lambda: secrets.token_urlsafe(50)
)
if SECRET_KEY_FROM_ENV and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY has an unusable value: use at least 32 characters")

DSR_ENCRYPTION_KEY_FROM_ENV = bool(os.environ.get("DSR_ENCRYPTION_KEY"))
DSR_ENCRYPTION_KEY: bytes = env.read(
    "DSR_ENCRYPTION_KEY",
    env.encryption_key,
    None,
) or env.encryption_key(
    env.local_secret(
        VAR_DIR, "encryption_key", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    )
)

ALLOWED_HOSTS = env.read("ALLOWED_HOSTS", env.hosts, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.read("CSRF_TRUSTED_ORIGINS", env.hosts, [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",  # the second factor; the TOTP device is dsr's own (its secret encrypted)
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "dsr.apps.DsrConfig",
    "dsr.demo_shop.apps.DemoShopConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The header middleware sit outermost, so that every response carries their headers,
    # early refusals (a bad Host, an oversized body) too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dsr.web.private.NoStore",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "dsr.web.middleware.BodySizeLimit",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The person's language: their choice (the switcher's cookie), else Accept-Language;
    # English on the desk and the officer API (Django's LocaleMiddleware, see dsr.web.middleware).
    "dsr.web.middleware.Language",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "dsr.urls"
WSGI_APPLICATION = "dsr.wsgi.application"

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
                "dsr.web.context_processors.organisation",
            ],
            "libraries": {"desk_labels": "dsr.desk.templatetags.desk_labels"},
        },
    },
]

# Database: PostgreSQL in production; a SQLite file (WAL, busy timeout, immediate
# transactions) by default so the web server and the worker can share it for a demo.
_default_db = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": str(VAR_DIR / "dsr.sqlite3"),
    # A file, not memory, so a real worker process can share the test database.
    "TEST": {"NAME": str(VAR_DIR / "test-dsr.sqlite3")},
}
DATABASES = {"default": env.read("DATABASE_URL", env.db_url, _default_db)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Values sent apart from the SQL (server-side binding), and a statement run five times on
    # a connection prepared once: PostgreSQL then plans it once rather than on every run,
    # which was a fifth of the time of an intake (docs/benchmarks.md). A pool in front of
    # PostgreSQL must keep prepared statements apart per client (PgBouncer 1.21+ with
    # max_prepared_statements); behind one that cannot, set DSR_DB_PREPARED_STATEMENTS=false.
    if env.read("DSR_DB_PREPARED_STATEMENTS", env.boolean, True):
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: cache (rate limits) and Celery broker when set.
REDIS_URL = env.read("REDIS_URL", env.redis_url, None)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dsr-test" if TESTING else "dsr",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: a broker that needs no server by default (kombu's filesystem transport),
# so `make run` still runs a real, separate worker process.
# The filesystem broker's URL names a host it never uses: without one kombu warns on every connection.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://localhost/"
if not CELERY_BROKER_URL.startswith(("redis://", "rediss://", "amqp://", "filesystem://")):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL has an unusable value: expected redis://, amqp:// or filesystem://"
    )
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
# Queues: Celery's default one for emails, sweeps and bundles, and one per class of
# system for jobs (see dsr.core.queue), so a slow vendor never holds up the databases.
DSR_JOB_QUEUES = {
    "fast": os.environ.get("DSR_JOB_QUEUE_FAST", "jobs"),
    "http": os.environ.get("DSR_JOB_QUEUE_HTTP", "jobs-http"),
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [  # each bound by its own name: on RabbitMQ a shared key would copy every message
    Queue(name, routing_key=name) for name in dict.fromkeys(["celery", *DSR_JOB_QUEUES.values()])
]
CELERY_TASK_ROUTES = {"dsr.tasks.run_job": {"queue": DSR_JOB_QUEUES["fast"]}}  # unless routed by class
CELERY_TASK_ACKS_LATE = True
# What tasks print (the development console's emails) goes to the worker's output as it is,
# not through a WARNING log record per write.
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.read("CELERY_TASK_ALWAYS_EAGER", env.boolean, False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# Email: console by default; filemail:///dir writes each message to a file.
_email = env.read("EMAIL_URL", env.email_url, {"EMAIL_BACKEND": "dsr.core.console_mail.EmailBackend"})
if _email.get("EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend":  # consolemail://
    _email["EMAIL_BACKEND"] = "dsr.core.console_mail.EmailBackend"
for _key, _value in _email.items():
    globals()[_key] = _value
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "privacy@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages a requester can choose; every public page, email and bundle ships in each.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("pt", "Português (Portugal)"),
    ("pt-br", "Português (Brasil)"),
    ("pl", "Polski"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates on the public side use the language's DATE_FORMAT; dsr/formats/ overrides a language's.
FORMAT_MODULE_PATH = ["dsr.formats"]
LANGUAGE_COOKIE_NAME = "dsr_language"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Request bodies: small for the public (a few fields), larger for systems reporting records.
DSR_MAX_BODY_BYTES = env.read("DSR_MAX_BODY_BYTES", env.positive_int, 256 * 1024)
DSR_MAX_SYSTEM_BODY_BYTES = env.read("DSR_MAX_SYSTEM_BODY_BYTES", env.positive_int, 32 * 1024 * 1024)
# A file an officer uploads when ticking off a manual task (e.g. a scanned letter found).
DSR_MAX_UPLOAD_BYTES = env.read("DSR_MAX_UPLOAD_BYTES", env.positive_int, 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(DSR_MAX_BODY_BYTES, DSR_MAX_SYSTEM_BODY_BYTES)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["dsr.web.parsers.JSONBodyParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "dsr.web.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Data-subject rights request handler API",
    "DESCRIPTION": "File and follow data-subject requests (access, portability, "
    "rectification, erasure).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from the drf-spectacular-sidecar package, served as our own
    # static files: no CDN, so the docs work offline and under the Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # <request:…> in a path: a request's id or its reference (dsr/web/converters.py).
    "PATH_CONVERTER_OVERRIDES": {"request": {
        "type": "string", "description": "The request's id (a UUID) or its reference (DSR-XXXX-XXXX)",
        "pattern": r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                   r"|[Dd][Ss][Rr]-[0-9A-Za-z]{4}-[0-9A-Za-z]{4})$",
    }},
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "dsr.core.models.Status",
        "JobStatusEnum": "dsr.core.models.JobStatus",
        "JobResultStatusEnum": ["completed", "failed"],
        "RequestKindEnum": "dsr.core.models.Kind",
        "IdentifierKindEnum": ["email", "phone", "customer_id"],
    },
}

# Security headers (check with `manage.py check --deploy`).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# HSTS is only ever sent over HTTPS. Off by default under DEBUG, so that a developer's
# localhost is not pinned to HTTPS for a year; SECURE_HSTS_SECONDS=0 turns it off.
SECURE_HSTS_SECONDS = env.read("SECURE_HSTS_SECONDS", env.whole_number, 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.read("SECURE_HSTS_INCLUDE_SUBDOMAINS", env.boolean, True)
SECURE_HSTS_PRELOAD = env.read("SECURE_HSTS_PRELOAD", env.boolean, True)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the
# connection's own address is the client's). Only behind them is X-Forwarded-Proto believed:
# without a proxy that sets it, any client could write it.
DSR_TRUSTED_PROXIES = env.read("DSR_TRUSTED_PROXIES", env.whole_number, 0)
if not DEBUG and not TESTING:
    # SECURE_SSL_REDIRECT=false means plain HTTP (e.g. local compose): then cookies can't be
    # Secure, unless SECURE_COOKIES says otherwise (TLS ended by a proxy that redirects itself).
    SECURE_SSL_REDIRECT = env.read("SECURE_SSL_REDIRECT", env.boolean, True)
    if DSR_TRUSTED_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.read("SECURE_COOKIES", env.boolean, SECURE_SSL_REDIRECT)

# Content-Security-Policy (django-csp): only our own files, no inline script or style,
# never framed. The pages keep their CSS and JS in static files (dsr/static/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Permissions-Policy: the pages need none of these browser features.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        # Only features Chromium knows: it warns on the console about any other name.
        "accelerometer", "autoplay", "browsing-topics",
        "camera", "display-capture", "encrypted-media", "geolocation", "gyroscope", "hid",
        "idle-detection", "magnetometer", "microphone", "midi", "payment", "serial", "usb",
        "xr-spatial-tracking",
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "withhold_sql_values": {"()": "dsr.core.logs.WithholdSQLValues"},
        "withhold_path_tokens": {"()": "dsr.core.logs.WithholdPathTokens"},
    },
    # A token in a logged path (an emailed link answered with a 404) is withheld.
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["withhold_path_tokens"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # SQL in the debug log keeps its shape, never its values (a query may hold an email).
    "loggers": {"django.db.backends": {"filters": ["withhold_sql_values"]}},
}

# Product settings (DSR_*), each with a default a small team can live with.
DSR_HOLIDAY_COUNTRY = os.environ.get("DSR_HOLIDAY_COUNTRY") or None
DSR_HOLIDAY_SUBDIVISION = os.environ.get("DSR_HOLIDAY_SUBDIVISION") or None
DSR_DEFAULT_REGIME = os.environ.get("DSR_DEFAULT_REGIME", "gdpr")
DSR_CODE_TTL_MINUTES = env.read("DSR_CODE_TTL_MINUTES", env.positive_int, 30)
DSR_CODE_MAX_ATTEMPTS = env.read("DSR_CODE_MAX_ATTEMPTS", env.positive_int, 5)
DSR_UNVERIFIED_EXPIRY_DAYS = env.read("DSR_UNVERIFIED_EXPIRY_DAYS", env.positive_int, 14)
# A status link (and the cookie it sets) lives this long; each visit to the page renews the cookie.
DSR_STATUS_LINK_DAYS = env.read("DSR_STATUS_LINK_DAYS", env.positive_int, 30)
# What each limit protects: the README's "Security" section.
DSR_RATE_SUBMIT_PER_IP = os.environ.get("DSR_RATE_SUBMIT_PER_IP", "20/h")
DSR_RATE_SUBMIT_PER_EMAIL = os.environ.get("DSR_RATE_SUBMIT_PER_EMAIL", "5/h")  # per address and client
# Requests filed for one address in the last hour and never confirmed: each emailed the address a code.
DSR_UNCONFIRMED_PER_EMAIL = env.read("DSR_UNCONFIRMED_PER_EMAIL", env.positive_int, 10)
DSR_RATE_VERIFY_PER_IP = os.environ.get("DSR_RATE_VERIFY_PER_IP", "30/h")
DSR_RATE_VERIFY_PER_REQUEST = os.environ.get("DSR_RATE_VERIFY_PER_REQUEST", "10/h")  # per request and client
DSR_RATE_RESEND_PER_REQUEST = os.environ.get("DSR_RATE_RESEND_PER_REQUEST", "3/h")
# Calls per token of a trusted integration, a connected system or a service account.
DSR_RATE_PER_TOKEN = os.environ.get("DSR_RATE_PER_TOKEN", "600/m")
# Failed desk and admin logins (a wrong password or second-factor code).
DSR_RATE_LOGIN_PER_IP = os.environ.get("DSR_RATE_LOGIN_PER_IP", "30/h")
DSR_RATE_LOGIN_PER_USER = os.environ.get("DSR_RATE_LOGIN_PER_USER", "10/h")  # refuses per client; slows past it
DSR_LOGIN_SLOWDOWN_SECONDS = env.read("DSR_LOGIN_SLOWDOWN_SECONDS", env.whole_number, 3)
DSR_PUBLIC_URL = os.environ.get("DSR_PUBLIC_URL", "http://localhost:8000").rstrip("/")
DSR_ORGANISATION = os.environ.get("DSR_ORGANISATION", "Example Ltd")
# Where the person writes to us about their data (an appeal under the US state laws goes here),
# the controller's postal address and the data protection officer's contact, if there is one:
# the access bundle says who we are with these. Empty: the line is left out, never made up.
DSR_CONTACT_EMAIL = os.environ.get("DSR_CONTACT_EMAIL") or DEFAULT_FROM_EMAIL
DSR_CONTROLLER_ADDRESS = os.environ.get("DSR_CONTROLLER_ADDRESS", "")
DSR_DPO_CONTACT = os.environ.get("DSR_DPO_CONTACT", "")
# Where this handler's own database and mail server are (ISO 3166 alpha-2), if both are in one
# country: the access bundle then says its records of the person's requests stay there.
DSR_DATA_COUNTRY = env.read("DSR_DATA_COUNTRY", env.country, "")

# Branding of the public pages, the emails and the access bundle. The demo (DSR_DEMO) has its own
# defaults below; a brand colour on which neither dark nor white text is readable (WCAG AA,
# 4.5:1) stops start-up.
DSR_LOGO_URL = os.environ.get("DSR_LOGO_URL", "")
DSR_PRIVACY_NOTICE_URL = os.environ.get("DSR_PRIVACY_NOTICE_URL", "")
DSR_BRAND_COLOUR: str = env.read("DSR_BRAND_COLOUR", env.brand_colour, "#0b5cad")

if DSR_DEFAULT_REGIME not in {
    "gdpr", "uk_gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "ucpa", "lgpd", "pipeda",
}:
    raise ImproperlyConfigured(f"DSR_DEFAULT_REGIME has an unusable value: {DSR_DEFAULT_REGIME!r}")

LOGIN_URL = "/desk/login/"
LOGIN_REDIRECT_URL = "/desk/"
OTP_TOTP_ISSUER = DSR_ORGANISATION + " privacy desk"
DSR_REMINDER_DAYS = env.read(
    "DSR_REMINDER_DAYS", lambda raw: sorted({int(x) for x in raw.split(",") if x.strip()}, reverse=True), [7, 2]
)

RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "dsr.web.ratelimit.client_ip"
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] if not REDIS_URL else []

DSR_EXPORT_DIR = os.environ.get("DSR_EXPORT_DIR") or str(VAR_DIR / "exports")
DSR_JOB_LEASE_SECONDS = env.read("DSR_JOB_LEASE_SECONDS", env.positive_int, 300)
DSR_JOB_REQUEUE_AFTER_SECONDS = env.read("DSR_JOB_REQUEUE_AFTER_SECONDS", env.positive_int, 60)
DSR_EMAIL_RESEND_AFTER_SECONDS = env.read("DSR_EMAIL_RESEND_AFTER_SECONDS", env.positive_int, 600)
# How old an unsent claim on a once-only email must be before another task may send it:
# longer than any send takes (a worker that died mid-send leaves such a claim).
DSR_EMAIL_CLAIM_SECONDS = env.read("DSR_EMAIL_CLAIM_SECONDS", env.positive_int, 900)
DSR_RETRY_BASE_SECONDS = env.read("DSR_RETRY_BASE_SECONDS", float, 10.0)
DSR_RETRY_MAX_SECONDS = env.read("DSR_RETRY_MAX_SECONDS", float, 3600.0)
DSR_BUNDLE_DAYS = env.read("DSR_BUNDLE_DAYS", env.positive_int, 7)
DSR_RECORD_RETENTION_MONTHS = env.read("DSR_RECORD_RETENTION_MONTHS", env.positive_int, 24)
DSR_ERASE_BATCH_SIZE = env.read("DSR_ERASE_BATCH_SIZE", env.positive_int, 200)
DSR_ESCALATE_WAITING_DAYS = env.read("DSR_ESCALATE_WAITING_DAYS", env.positive_int, 7)
# How long a job keeps asking a vendor whose deletion finishes later (e.g. Segment: up to 30 days).
DSR_POLL_MAX_DAYS = env.read("DSR_POLL_MAX_DAYS", env.positive_int, 35)
DSR_AUTO_APPROVE_KINDS = env.read(
    "DSR_AUTO_APPROVE_KINDS", env.kinds, frozenset()
)


# Off by default: access results are reviewed by an officer before the person gets them.
DSR_AUTO_RELEASE_KINDS = env.read("DSR_AUTO_RELEASE_KINDS", env.release_kinds, frozenset())

# The demo shop's webhook receiver (make run); off in production unless asked for.
DSR_DEMO = env.read("DSR_DEMO", env.boolean, DEBUG or TESTING)
DSR_DEMO_WEBHOOK_SECRET = os.environ.get("DSR_DEMO_WEBHOOK_SECRET", "demo-marketing-signing-secret")
DSR_DEMO_MAILCHIMP_KEY = os.environ.get("DSR_DEMO_MAILCHIMP_KEY", "demo-newsletter-api-key-us1")
if DSR_DEMO:  # the demo shop's branding, where the environment sets none
    DSR_LOGO_URL = DSR_LOGO_URL or "/static/dsr/demo-logo.svg"
    DSR_PRIVACY_NOTICE_URL = DSR_PRIVACY_NOTICE_URL or "/demo/privacy-notice/"
    DSR_DPO_CONTACT = DSR_DPO_CONTACT or "Data protection officer, dpo@example.org"
    if not os.environ.get("DSR_BRAND_COLOUR"):
        DSR_BRAND_COLOUR = "#0f5c55"

CELERY_BEAT_SCHEDULE = {
    "reconcile-jobs": {"task": "dsr.tasks.reconcile", "schedule": 60.0},
    "escalate-waiting-jobs": {"task": "dsr.tasks.escalate_waiting", "schedule": 3600.0},
    "expire-bundles": {"task": "dsr.tasks.expire_bundles", "schedule": 3600.0},
    "purge-retained": {"task": "dsr.tasks.purge_retained", "schedule": 86400.0},
    "expire-unverified": {"task": "dsr.tasks.expire_unverified", "schedule": 3600.0},
    "resend-unacknowledged": {"task": "dsr.tasks.resend_unacknowledged", "schedule": 600.0},
    "watch-deadlines": {"task": "dsr.tasks.watch_deadlines", "schedule": 3600.0},
}
