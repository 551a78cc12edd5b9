"""The one settings module. Environments differ only by environment variables.

Development defaults are safe to run locally: DEBUG on, SQLite under the
project, console e-mail. Production is `DJANGO_DEBUG=false` plus a real
`DJANGO_SECRET_KEY` and `DJANGO_ALLOWED_HOSTS`; with DEBUG off a missing key
raises at import, and the secure-transport settings below switch on so that
`manage.py check --deploy` is clean.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # pragma: allowlist nextline secret
    SECRET_KEY = "django-insecure-development-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin, with config/admin.py as its site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "accounts",
    "curriculum",
    "quizzes",
    "credits",
    "lms",
    "lms.xapi",
    "lms.lti",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Above the session and CSRF middleware: it rewrites the cookies they set
    # (SameSite=None; Secure; Partitioned for sessions started by an LTI launch).
    "lms.lti.middleware.LtiCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "config.middleware.CSPMiddleware",  # django-csp's, with the policy built once
    # Below the headers' middleware, so its 400 carries them too.
    "config.middleware.NulCharacterMiddleware",
    # Below X-Frame-Options and CSP: lets the launching platform frame an LTI session.
    "lms.lti.middleware.LtiFrameMiddleware",
    # Last, as django-axes requires: it turns a locked-out log-in into a 429 page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Log-in throttling: after AXES_FAILURE_LIMIT failures for one address and
    # account, that pair is locked out for AXES_COOLOFF_TIME hours.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the signed-in user from the shared cache when there is one.
    "accounts.backends.CachedModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.throttling.axes_username"  # cut to axes's column
AXES_VERBOSE = False
# Proxies between clients and the app (deploy/nginx/ce.conf is one): 0 when gunicorn
# faces clients. Lock-outs and the verification API's throttle count per client
# address, read through them (accounts/throttling.py: client_ip).
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
# Password reset e-mails, per hour: per address (past it, silently none) and per client address (429).
ACCOUNTS_RESET_PER_ADDRESS_HOURLY = env_int("ACCOUNTS_RESET_PER_ADDRESS_HOURLY", 3)
ACCOUNTS_RESET_PER_CLIENT_HOURLY = env_int("ACCOUNTS_RESET_PER_CLIENT_HOURLY", 30)
# Sign-up attempts an hour per client address (accounts/views.py): bounds bulk account creation
# and probing which e-mail addresses have accounts. Generous, as a hospital's clinicians may all
# sign up from one NAT address in a training session; raise it for such sites.
ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY = env_int("ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY", 60)

ROOT_URLCONF = "config.urls"

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
                # `nav`: the header's links, reversed once per process.
                "config.context_processors.nav",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# Unset DATABASE_URL means the embedded SQLite file under the project.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent page loads in development must not fail with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that needs no round trip (config/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
if DATABASES["default"]["ENGINE"] == "config.postgresql" and env_bool("DJANGO_DB_PREPARED_STATEMENTS", True):
    # PostgreSQL: bind parameters on the server, so that psycopg prepares a
    # query the fifth time a connection runs it and PostgreSQL plans it once
    # per connection, not per request (planning the lesson page's join cost
    # three times its execution). Off (false) behind a transaction-pooling
    # PgBouncer older than 1.21, which cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
if DATABASES["default"]["ENGINE"] == "config.postgresql" and not env_bool("DJANGO_DB_JIT", False):
    # PostgreSQL compiles a query to machine code (JIT) when its estimated
    # cost passes `jit_above_cost`. The feeds' pages run in 1-2 ms, but their
    # estimates count the branch each page skips, and at 100,000 learners
    # they passed the threshold: the progress feed spent 28 ms a page
    # compiling and the certificate feed 617 ms (issue #8, docs/performance.md).
    # Compiling pays off only for long analytical queries; item analysis, the
    # longest here, took the same time without it. Sent as a startup option,
    # so it costs no round trip; true leaves the server's setting.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "curriculum:catalogue"
LOGOUT_REDIRECT_URL = "curriculum:catalogue"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The course folder is served as static files too, so lesson figures
# (curriculum/content/<course>/figures/*.svg) need no copy step.
STATICFILES_DIRS = [BASE_DIR / "static", ("content", BASE_DIR / "curriculum" / "content")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "ce@localhost")

# "default" is per process (throttles). "lms" holds LTI state and nonces, which
# every app server must share: the database cache (`manage.py createcachetable`)
# unless LMS_CACHE_URL names a Redis server (redis://127.0.0.1:6379/1).
LMS_CACHE_URL = os.environ.get("LMS_CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "lms": (
        {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": LMS_CACHE_URL}
        if LMS_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "lms_cache"}
    ),
}
# Sessions live in the database, which every app server shares. With a shared
# Redis, "cached_db" reads a session from Redis and writes both, so a signed-in
# request skips the session query; signing out or a password change deletes or
# rotates both copies, so no server accepts a session another one ended. Never
# a per-process cache ("default"): a session ended on one server would stay
# valid on the others until it expired there. Without Redis the database cache
# would cost the query it saves, so sessions stay plain "db". Trade-off: with
# this on, signed-in pages need Redis up, as LTI launches already do. accounts.sessions is
# cached_db that also brings the signed-in user (below) in the same Redis round trip.
if LMS_CACHE_URL:
    SESSION_ENGINE = "accounts.sessions"
    SESSION_CACHE_ALIAS = "lms"
# The signed-in user of each request is read from the shared Redis too (accounts/backends.py):
# one query fewer per signed-in request. Dropped on every save of the user, expires anyway.
ACCOUNTS_USER_CACHE_ALIAS = "lms" if LMS_CACHE_URL else None
ACCOUNTS_USER_CACHE_SECONDS = 300
# Integration tokens are read from the shared Redis too (lms/token_cache.py): an integrator's API
# call costs no query to authenticate. Revocation and organisation changes replace the entry at once.
LMS_TOKEN_CACHE_ALIAS = "lms" if LMS_CACHE_URL else None
LMS_TOKEN_CACHE_SECONDS = 60
# API throttles count in the shared Redis when there is one, so N app servers enforce one limit,
# not N; without Redis they count per process (the database cache would cost a write per request).
LMS_THROTTLE_CACHE_ALIAS = "lms" if LMS_CACHE_URL else "default"

# Security headers. The CSP is strict: no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# No page may be framed, except for a session started by an LTI launch, which
# its platform's registered origins may frame (lms/lti/middleware.py, docs/lti.md).
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
# Lax for every ordinary session. A session started by an LTI launch, which must
# live in the LMS's cross-site iframe, gets SameSite=None; Secure; Partitioned
# from lms/lti/middleware.py, as does its CSRF cookie (kept a cookie, not moved
# into the session, so anonymous forms such as the log-in page write no session
# row). CSRF_TRUSTED_ORIGINS need not name any LMS: forms inside the iframe are
# on our origin, so their Origin header is ours.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_USE_SESSIONS = False

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's own client address (throttles' get_ident) as accounts.throttling.client_ip reads it: without
    # it, DRF takes a client-sent X-Forwarded-For as the address.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # fpdf2 subsets the certificate's fonts with fontTools, which logs about fifty
    # INFO lines a drawing ("Retaining 47 glyphs"...); its warnings still show.
    "loggers": {"fontTools": {"level": "WARNING"}},
}

# --- Application settings -------------------------------------------------
# Lessons are readable without an account unless this is on; progress and
# everything leading to credit always need one.
CURRICULUM_REQUIRE_LOGIN = env_bool("CURRICULUM_REQUIRE_LOGIN", False)
CURRICULUM_CONTENT_DIR = Path(
    os.environ.get("CURRICULUM_CONTENT_DIR", BASE_DIR / "curriculum" / "content")
)
# Time on a lesson page is counted up to this many minutes per visit, so a tab
# left open overnight does not count as study time.
CURRICULUM_MAX_MINUTES_PER_VISIT = env_int("CURRICULUM_MAX_MINUTES_PER_VISIT", 60)

# --- lms ------------------------------------------------------------------------
# The REST API (lms/api/v1/base.py states its policy per view) and the outbox
# worker (lms/outbox.py, `manage.py deliver_outbox`).
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "Kratom for Clinicians CE API",
    # The guide (auth, scopes, errors, feeds, webhooks) and webhook payload schemas.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "lms.api.v1.schema.postprocess",
    ],
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "COMPONENT_SPLIT_REQUEST": True,
    # Interactive docs from drf-spectacular-sidecar's files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Requests per token, and per signed-in learner (DRF rate strings).
LMS_API_TOKEN_RATE = os.environ.get("LMS_API_TOKEN_RATE", "600/min")
LMS_API_LEARNER_RATE = os.environ.get("LMS_API_LEARNER_RATE", "120/min")
# Outbox delivery: tries before a delivery is dead, backoff (base × 2^n, capped), HTTP timeout.
LMS_OUTBOX_MAX_ATTEMPTS = env_int("LMS_OUTBOX_MAX_ATTEMPTS", 8)
LMS_OUTBOX_BACKOFF_SECONDS = env_int("LMS_OUTBOX_BACKOFF_SECONDS", 30)
LMS_OUTBOX_MAX_BACKOFF_SECONDS = env_int("LMS_OUTBOX_MAX_BACKOFF_SECONDS", 3600)
LMS_OUTBOX_TIMEOUT_SECONDS = env_int("LMS_OUTBOX_TIMEOUT_SECONDS", 10)
# The fan-out reads only events above a floor (lms/outbox.py: FanoutFloor); the floor passes
# events older than the late-commit margin, and a sweep over every event finds any slower one.
LMS_OUTBOX_LATE_COMMIT_SECONDS = env_int("LMS_OUTBOX_LATE_COMMIT_SECONDS", 60)
LMS_OUTBOX_SWEEP_SECONDS = env_int("LMS_OUTBOX_SWEEP_SECONDS", 300)
# The base of every xAPI activity id (course, lesson, question). An LRS knows each
# activity only by this address: set it once, before the first statement, and never change it.
LMS_XAPI_ACTIVITY_BASE = os.environ.get("LMS_XAPI_ACTIVITY_BASE", "").rstrip("/")
# Export jobs (lms/exports): where finished files are kept. Not under any served
# URL: a file is downloaded only through the job's download view, which checks
# who may read it. A job running longer than the timeout without a progress
# report is taken to belong to a crashed worker (re-queued once, then failed).
LMS_EXPORTS_ROOT = Path(os.environ.get("LMS_EXPORTS_ROOT", "") or BASE_DIR / "var" / "exports")
LMS_EXPORT_STALE_SECONDS = env_int("LMS_EXPORT_STALE_SECONDS", 900)
# A finished export's file (credit reports hold learners' personal data, packages answer keys)
# is deleted this many hours after it was made; the job's row stays, marked expired.
LMS_EXPORT_RETENTION_HOURS = env_int("LMS_EXPORT_RETENTION_HOURS", 72)
if LMS_EXPORT_RETENTION_HOURS < 1:
    raise ImproperlyConfigured("LMS_EXPORT_RETENTION_HOURS must be at least 1: staff need time to download.")
# How often a worker process deletes expired export files (on its first pass, then this often).
LMS_EXPORT_HOUSEKEEPING_SECONDS = env_int("LMS_EXPORT_HOUSEKEEPING_SECONDS", 300)
# LTI 1.3 (lms/lti): where OIDC state and nonces live, and how long; the platform key-set cache.
LTI_CACHE_ALIAS = "lms"
LTI_LAUNCH_DATA_SECONDS = env_int("LTI_LAUNCH_DATA_SECONDS", 3600)
LTI_JWKS_CACHE_SECONDS = env_int("LTI_JWKS_CACHE_SECONDS", 300)
LTI_HTTP_TIMEOUT_SECONDS = env_int("LTI_HTTP_TIMEOUT_SECONDS", 5)

# --- credits ---
# The public address printed on certificates and in their QR codes
# (e.g. https://ce.example.org); empty means the address of the request.
CREDITS_PUBLIC_URL = os.environ.get("CREDITS_PUBLIC_URL", "").rstrip("/")
# NABP CPE Monitor accepts a pharmacy completion this many days after it.
CREDITS_CPE_MONITOR_WINDOW_DAYS = env_int("CREDITS_CPE_MONITOR_WINDOW_DAYS", 60)

# --- bench ----------------------------------------------------------------------
# Only `make bench` (bench/run.py) sets BENCH_SERVER, in its own gunicorn and
# collectstatic processes: the site's URLs plus the "floor" page it measures
# against (bench/urls.py), and static files collected into a temporary folder.
if env_bool("BENCH_SERVER", False):
    ROOT_URLCONF = "bench.urls"
    STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
