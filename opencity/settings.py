"""OpenCity settings: one module, driven by environment variables (see .env.example).

DJANGO_ENV selects the mode:
- development (default): SQLite file and eager tasks unless DATABASE_URL / REDIS_URL are set;
- test: like development, fast password hashing, tasks eager unless a test says otherwise;
- production: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL are required, DEBUG is
  refused, and `manage.py check --deploy` passes.
"""

import base64
import os
from importlib import import_module
from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from opencity.env import (
    check_redis_url,
    check_site_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    parse_networks,
    redis_url_for_test_worker,
)

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENT = env_choice("DJANGO_ENV", ("development", "test", "production"), "development")
PRODUCTION = ENVIRONMENT == "production"
TESTING = ENVIRONMENT == "test"

DEBUG = env_bool("DEBUG", not PRODUCTION and not TESTING)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters.")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS may not be '*' in production.")
else:
    SECRET_KEY = env_str("SECRET_KEY", "django-insecure-development-key-not-for-production-use")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute address used in e-mails, share links and certificates' QR codes. Production has no
# default: a wrong address there would be mailed to people and printed on certificates.
SITE_URL = env_str("SITE_URL", None if PRODUCTION else "http://127.0.0.1:8000")
if SITE_URL is None:
    raise ImproperlyConfigured(
        "SITE_URL is required in production: the public https:// address of the portal."
    )
SITE_URL = check_site_url(SITE_URL, require_https=PRODUCTION)

INSTALLED_APPS = [
    "opencity.admin_site.OpenCityAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "csp",
    # Serves its API docs (Swagger UI) from its own static files when installed: no CDN.
    "ninja",
    "opencity.core",
    "opencity.ledger",
    "opencity.opendata",
    "opencity.accounts",
    "opencity.cities",
    "opencity.notifications",
    "opencity.identity",
    "members",
    "petitions",
    "initiatives",
    "academy",
    "problems",
    # Paper is a channel into petitions and budgets: its report figures come after the services'.
    "paper",
]

MIDDLEWARE = [
    # Repeats of a cached public page within half a second, answered before the rest.
    "opencity.pagecache.FrontMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "opencity.opendata.middleware.PublicReadCorsMiddleware",
    # After WhiteNoise (static files come precompressed in production), before anything that
    # writes the body. Cached pages arrive already gzipped (opencity/pagecache.py) and are
    # passed through; Django adds random padding against BREACH to what it compresses.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a signed-in person's preferred language counts.
    "opencity.middleware.PortalLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A service's refusal that no view caught becomes a 400/409 page, never a 500.
    "opencity.core.web.RefusedMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff reach admin and reports only after a second factor (opencity/accounts/...).
    "opencity.accounts.second_factor.RequireSecondFactorMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Checkboxes before their label, help text after the field (opencity/forms.py).
FORM_RENDERER = "opencity.forms.FormRenderer"

ROOT_URLCONF = "opencity.urls"
WSGI_APPLICATION = "opencity.wsgi.application"
ASGI_APPLICATION = "opencity.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% url %} remembering its answers (opencity/core/templatetags/urls.py).
            "builtins": ["opencity.core.templatetags.urls"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opencity.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL", None)
if PRODUCTION and not _database_url:
    raise ImproperlyConfigured("DATABASE_URL (PostgreSQL) is required in production.")
if _database_url:
    _db = parse_database_url(_database_url, base_dir=BASE_DIR)
else:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "var" / "db.sqlite3")}
if _db["ENGINE"].endswith("postgresql"):
    _db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0 if TESTING else 60, min_value=0)
    _db["CONN_HEALTH_CHECKS"] = True
    # Django's backend with a health check that asks the socket, not the server
    # (opencity/core/postgresql/base.py): no `SELECT 1` round trip before each request.
    _db["ENGINE"] = "opencity.core.postgresql"
    # The hot-path statements (signing, voting: opencity/core/sql.py) are prepared once per
    # connection from their 2nd run; Django's own queries never are. Set
    # DB_PREPARED_STATEMENTS=0 behind a pooler in transaction mode that cannot keep them
    # (PgBouncer before 1.21).
    _db.setdefault("OPTIONS", {})["prepare_threshold"] = (
        1 if env_bool("DB_PREPARED_STATEMENTS", True) else None
    )
    _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", f"test_{_db['NAME']}")}
else:
    _db["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # The demo's SQLite cannot keep NULLS NOT DISTINCT constraints or covering index columns
    # (PostgreSQL, which production requires, does): said here once, not at every start.
    SILENCED_SYSTEM_CHECKS = ["models.W040", "models.W047"]
DATABASES = {"default": _db}
USING_POSTGRES = _db["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery broker ----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", None)
CACHE_REDIS_URL = env_str("CACHE_REDIS_URL", REDIS_URL)
if TESTING and REDIS_URL:
    # The suite in parallel (bin/test, tests/parallel.py): worker gwN uses the Redis
    # databases 2N above the ones given, so no worker flushes or consumes another's keys.
    REDIS_URL, CACHE_REDIS_URL = (
        redis_url_for_test_worker(url, os.environ.get("PYTEST_XDIST_WORKER", ""))
        for url in (REDIS_URL, CACHE_REDIS_URL)
    )
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is required in production.")
if REDIS_URL:
    check_redis_url(REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "opencity.cache.ReusingRedisCache",
            # The cache may live in another Redis database than the broker (tests flush it).
            "LOCATION": check_redis_url(CACHE_REDIS_URL),
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "opencity"),
            # Short timeouts: the cache is an accelerator behind a circuit breaker (see
            # opencity/cache.py); a slow or dead Redis costs a request half a second, once.
            "OPTIONS": {
                "socket_connect_timeout": env_int("CACHE_TIMEOUT_MS", 500, min_value=50) / 1000,
                "socket_timeout": env_int("CACHE_TIMEOUT_MS", 500, min_value=50) / 1000,
            },
        }
    }
    # Sessions are read on every signed-in request: served from Redis, kept in the database,
    # and read from the database whenever Redis does not answer.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL or TESTING)
if PRODUCTION and CELERY_TASK_ALWAYS_EAGER:
    raise ImproperlyConfigured("CELERY_TASK_ALWAYS_EAGER must be off in production.")
CELERY_TASK_EAGER_PROPAGATES = TESTING
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task running when the broker connection drops cannot be acknowledged any more; it is
# stopped and delivered again (Celery 6's default), which idempotent tasks allow.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Tasks survive worker death: a task is acknowledged only once it has run (late acks, and
# requeued if its process dies); a message a killed worker held is delivered again after the
# visibility timeout (workers look every 5 s). Every task ends before that
# timeout (hard time limit), so no live task is ever delivered twice, and claims older than
# the limit are known to be abandoned (opencity.core.services.stale_claim). Retries with a
# countdown stay below the timeout; longer waits live in the database (the outbox backoff).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 30, min_value=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 40, min_value=1)
CELERY_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 5, min_value=1
)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "Need CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT."
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request must never hang on a dead broker: publish fails fast and the outbox sweep re-sends.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Workers look for such messages every 5 s (kombu's default scans every ~100 s).
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
    # Publishing gives up after one reconnection attempt instead of kombu's long default.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_PUBLISH_RETRY = False
# Three queues, which every worker consumes (Redis serves them in turn), so no kind of work
# waits behind a backlog of another: "celery" for counting and scheduled jobs (a petition's
# recount during a surge), "mail" for mail someone is waiting for (a receipt, a sign-in
# link), "bulk" for mail sent to many alike (a milestone for every follower of a viral
# petition: fan-out in batches of followers, one delivery task per batch; digests).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "mail": {}, "bulk": {}}
CELERY_TASK_ROUTES = {
    "opencity.core.tasks.deliver_email": {"queue": "mail"},  # bulk mail: queue="bulk"
    "opencity.core.tasks.deliver_emails": {"queue": "bulk"},  # a fan-out batch's notices
    "opencity.notifications.tasks.fan_out": {"queue": "bulk"},
    "opencity.notifications.tasks.send_digests": {"queue": "bulk"},
}
CELERY_TIMEZONE = "Europe/Kyiv"
CELERY_BEAT_SCHEDULE = {
    # Mail a broker outage or a dead worker left behind goes out within about half a minute.
    "core-sweep-outbox": {
        "task": "opencity.core.tasks.sweep_outbox",
        "schedule": 20.0,
    },
    "core-purge-rate-limit-counts": {
        "task": "opencity.core.tasks.purge_rate_limit_counts",
        "schedule": 600.0,
    },
    "core-purge-old-sent-email": {
        "task": "opencity.core.tasks.purge_sent_email",
        "schedule": crontab(hour=3, minute=15),
    },
}
for _app in ("opencity.ledger", "members", "petitions", "initiatives", "academy", "problems"):
    CELERY_BEAT_SCHEDULE.update(import_module(f"{_app}.schedule").BEAT_SCHEDULE)
CELERY_BEAT_SCHEDULE.update(import_module("opencity.notifications.schedule").BEAT_SCHEDULE)

# --- Public ledger (opencity/ledger) ---------------------------------------------------------
# Ed25519 seed, base64 of 32 bytes: `python -c "import os,base64;print(base64.b64encode(
# os.urandom(32)).decode())"`. Required in production; elsewhere a development key is made
# once in var/ledger-dev.key (git ignores var/).
LEDGER_SIGNING_KEY = env_str("LEDGER_SIGNING_KEY", None)
if PRODUCTION and not LEDGER_SIGNING_KEY:
    raise ImproperlyConfigured("LEDGER_SIGNING_KEY is required in production.")
if LEDGER_SIGNING_KEY:
    try:
        _ledger_seed = base64.b64decode(LEDGER_SIGNING_KEY, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be base64.") from exc
    if len(_ledger_seed) != 32:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be 32 bytes, base64-encoded.")
LEDGER_DEV_KEY_FILE = env_str("LEDGER_DEV_KEY_FILE", str(BASE_DIR / "var" / "ledger-dev.key"))
# The checkpoint origin and key name: a schema-less URL naming this log.
LEDGER_ORIGIN = env_str(
    "LEDGER_ORIGIN", SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] + "/ledger"
)
if "+" in LEDGER_ORIGIN or any(ch.isspace() for ch in LEDGER_ORIGIN):
    raise ImproperlyConfigured("LEDGER_ORIGIN may not contain '+' or spaces.")

# --- Identity keys (opencity/identity) --------------------------------------------------------
# The secret of the HMAC that turns a tax number (РНОКПП) or document number into the key
# that makes one person count once per petition or budget, online and on paper. Never in the
# database or the repository; required in production (at least 32 bytes, base64). Changing it
# makes every stored key unmatchable: keep it like LEDGER_SIGNING_KEY, secret and backed up.
IDENTITY_HMAC_KEY = env_str("IDENTITY_HMAC_KEY", None)
if PRODUCTION and not IDENTITY_HMAC_KEY:
    raise ImproperlyConfigured("IDENTITY_HMAC_KEY is required in production.")
if IDENTITY_HMAC_KEY:
    try:
        _identity_secret = base64.b64decode(IDENTITY_HMAC_KEY, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("IDENTITY_HMAC_KEY must be base64.") from exc
    if len(_identity_secret) < 32:
        raise ImproperlyConfigured("IDENTITY_HMAC_KEY must be at least 32 bytes, base64-encoded.")

# --- Accounts and allauth --------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's and allauth's backends, with a faster user load (see opencity/accounts/backends.py).
AUTHENTICATION_BACKENDS = [
    "opencity.accounts.backends.ModelBackend",
    "opencity.accounts.backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "opencity.accounts.forms.SignupForm"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_ADAPTER = "opencity.accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[OpenCity] "
# Limits per IP and per e-mail ("key"); allauth answers 429 past them. Kept in the shared cache
# (Redis), so they hold across web processes.
ACCOUNT_RATE_LIMITS = {
    "signup": env_str("RATE_LIMIT_SIGNUP", "10/m/ip"),
    "login": env_str("RATE_LIMIT_LOGIN", "30/m/ip"),
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
}
# Second factor: required for staff on these paths (opencity/accounts/second_factor.py).
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "OpenCity"
# One 30-second step either side (RFC 6238 §5.2): a code typed as the window turns, or read off a
# phone whose clock is a few seconds out, still signs a clerk in; a reused code is still refused.
MFA_TOTP_TOLERANCE = 1
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not PRODUCTION
MFA_REQUIRED_PATHS = ["/admin/", "/reports/"]
MFA_EXEMPT_PATHS = ["/admin/login/", "/admin/logout/"]
SOCIALACCOUNT_ADAPTER = "opencity.accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_AUTO_SIGNUP = True
# A stronger identity provider (BankID / ID.gov.ua through an OpenID Connect broker) is switched
# on by configuration alone: set the four OIDC_* variables. Users who log in through it are
# marked as identified (User.identity_verified_at); a first login whose verified e-mail is an
# existing account's is linked to it after the person confirms (opencity/accounts/oidc.py).
OIDC_PROVIDER_ID = env_str("OIDC_PROVIDER_ID", None)
SOCIALACCOUNT_PROVIDERS = {}
if OIDC_PROVIDER_ID:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": OIDC_PROVIDER_ID,
                "name": env_str("OIDC_PROVIDER_NAME", "ID.gov.ua"),
                "client_id": env_str("OIDC_CLIENT_ID"),
                "secret": env_str("OIDC_CLIENT_SECRET"),
                "settings": {"server_url": env_str("OIDC_SERVER_URL")},
            }
        ],
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Languages and time ----------------------------------------------------------------------
LANGUAGE_CODE = "uk"
LANGUAGES = [("uk", _("Ukrainian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Kyiv"
USE_TZ = True
LANGUAGE_COOKIE_NAME = "opencity_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587 if PRODUCTION else 25, min_value=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", PRODUCTION)
EMAIL_TIMEOUT = 10
# The outbox retries a failed e-mail with backoff (1, 2, 4 ... minutes, at most this) for
# OUTBOX_RETRY_HOURS; then it is marked failed, logged as an alert and shown in admin.
OUTBOX_RETRY_HOURS = env_int("OUTBOX_RETRY_HOURS", 24, min_value=1)
OUTBOX_BACKOFF_MAX_SECONDS = env_int("OUTBOX_BACKOFF_MAX_SECONDS", 3600, min_value=60)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "OpenCity <no-reply@opencity.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, min_value=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The health check is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^health/$"]

# Reverse proxies (nginx, a load balancer) whose X-Forwarded-For is believed: addresses or
# networks. A request from anywhere else is keyed on its own address (opencity/proxies.py).
TRUSTED_PROXIES = parse_networks("TRUSTED_PROXIES", env_list("TRUSTED_PROXIES", []))
# Map tiles for the problem-report map (Leaflet). The tile host is added to the CSP below.
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env_str(
    "MAP_TILE_ATTRIBUTION", "© OpenStreetMap contributors (openstreetmap.org/copyright)"
)
_tile_origin = urlsplit(MAP_TILE_URL.replace("{s}", "a"))
if _tile_origin.scheme not in ("http", "https") or not _tile_origin.netloc:
    raise ImproperlyConfigured("MAP_TILE_URL must be an http(s) URL with {z}/{x}/{y}.")
MAP_TILE_ORIGIN = (
    f"{_tile_origin.scheme}://*.{_tile_origin.netloc.split('.', 1)[1]}"
    if "{s}" in MAP_TILE_URL
    else f"{_tile_origin.scheme}://{_tile_origin.netloc}"
)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # Django admin sets a few inline style attributes; scripts stay strict.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", MAP_TILE_ORIGIN],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# --- Logging: no personal data; request logs carry no e-mails or names. -------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # fontTools (certificate PDFs) logs every glyph at INFO.
        "fontTools": {"level": "WARNING"},
    },
}

# --- Portal rules ----------------------------------------------------------------------------
# Per-user limits for citizen actions (count per window in seconds), kept in the shared cache.
RATE_LIMITS = {
    "sign": (env_int("RATE_LIMIT_SIGN_PER_MINUTE", 20, min_value=1), 60),
    "vote": (env_int("RATE_LIMIT_VOTE_PER_MINUTE", 20, min_value=1), 60),
    "register": (env_int("RATE_LIMIT_REGISTER_PER_MINUTE", 10, min_value=1), 60),
    "file": (env_int("RATE_LIMIT_FILE_PER_HOUR", 5, min_value=1), 3600),
    # Problem reports: per person and per network address, and photos per person.
    "problem_file": (env_int("RATE_LIMIT_PROBLEM_PER_HOUR", 10, min_value=1), 3600),
    "problem_file_ip": (env_int("RATE_LIMIT_PROBLEM_PER_IP_HOUR", 30, min_value=1), 3600),
    "problem_photo": (env_int("RATE_LIMIT_PROBLEM_PHOTOS_PER_HOUR", 30, min_value=1), 3600),
    "problem_support": (env_int("RATE_LIMIT_SIGN_PER_MINUTE", 20, min_value=1), 60),
    "open311_post": (env_int("RATE_LIMIT_OPEN311_PER_MINUTE", 60, min_value=1), 60),
    # Open data, the read API and the ledger's proofs, per client address.
    "api": (env_int("RATE_LIMIT_API_PER_MINUTE", 600, min_value=1), 60),
    # Council surveys: saves of one council's form.
    "survey": (env_int("RATE_LIMIT_SURVEY_SAVE_PER_MINUTE", 30, min_value=1), 60),
    # Following and unfollowing; asking for a copy of one's data.
    "follow": (env_int("RATE_LIMIT_FOLLOW_PER_MINUTE", 30, min_value=1), 60),
    "data_export": (env_int("RATE_LIMIT_DATA_EXPORT_PER_DAY", 5, min_value=1), 86400),
    # Password attempts when linking an identity-provider login to an existing account.
    "identity_link": (env_int("RATE_LIMIT_IDENTITY_LINK_PER_HOUR", 10, min_value=1), 3600),
}
# The same actions from one client address (people behind one NAT): this many times the above.
RATE_LIMIT_ADDRESS_FACTOR = env_int("RATE_LIMIT_ADDRESS_FACTOR", 10, min_value=1)
