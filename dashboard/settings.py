"""Settings, read from the environment only (see the README's table of variables)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded profile keeps its database, keys and packages; owner-only (0700, files 0600).
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var").resolve()


def ensure_private_dir(path):
    """`path` as a directory only its owner can enter, created with that mode (no window where it is open)."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def private_file(path, make=None):
    """The text of an owner-only file, created (mode 0600 from its first byte) with `make()` when missing.
    O_EXCL: of two processes starting at once, one writes and both read the same value."""
    path = Path(path)
    if make is not None and not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
    if path.exists():
        path.chmod(0o600)
    return path.read_text().strip() if make is not None else ""


def _secret_key():
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    # Embedded profile: one random key, created on first start and kept, so sessions survive restarts.
    return private_file(VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50))


def _field_encryption_keys():
    """FIELD_ENCRYPTION_KEY: comma-separated Fernet keys, the first encrypts and every one decrypts (rotation:
    put a new key first, keep the old ones until `rotate_field_encryption` has re-encrypted). Default: one key
    created once in var/field_encryption_key."""
    from cryptography.fernet import Fernet

    keys = env_list("FIELD_ENCRYPTION_KEY", [])
    if not keys:
        keys = [private_file(VAR_DIR / "field_encryption_key", lambda: Fernet.generate_key().decode())]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)"
            ) from None
    return keys


def _token_digest_keys():
    """TOKEN_DIGEST_KEY: the HMAC key of API token and login-link digests, its own so that rotating SECRET_KEY
    or FIELD_ENCRYPTION_KEY breaks no token; comma-separated, the first digests, the others still verify (and
    a token verified by one is re-digested under the first). Default: created once in var/token_digest_key."""
    keys = env_list("TOKEN_DIGEST_KEY", [])
    if not keys:
        keys = [private_file(VAR_DIR / "token_digest_key", lambda: secrets.token_urlsafe(50))]
    if any(len(key) < 32 for key in keys):
        raise ImproperlyConfigured("TOKEN_DIGEST_KEY: each key must be at least 32 characters")
    return keys


ensure_private_dir(VAR_DIR)
SECRET_KEY = _secret_key()
# Old keys still accepted for what Django signs (sessions, password-reset and signed values) after a rotation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
FIELD_ENCRYPTION_KEYS = _field_encryption_keys()
TOKEN_DIGEST_KEYS = _token_digest_keys()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# X-Forwarded-Proto is believed only behind a proxy that sets it (and strips a client's own): otherwise any
# client could claim https.
TRUST_X_FORWARDED_PROTO = env_bool("TRUST_X_FORWARDED_PROTO", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUST_X_FORWARDED_PROTO else None
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SESSION_COOKIE_SAMESITE = "Lax"  # a link from elsewhere still opens the page signed in
CSRF_COOKIE_SAMESITE = "Strict"  # no other site ever needs to post a form here
SESSION_COOKIE_HTTPONLY = True
# HSTS only when the site is served over HTTPS (SECURE_SSL_REDIRECT=1): browsers then refuse plain http.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0) if SECURE_SSL_REDIRECT else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "axes",
    "upgrades",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "upgrades.api.middleware.ApiEnvelopeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dashboard.security.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses a login for a locked-out username+address before the password is checked (django-axes).
    "dashboard.security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): LOGIN_FAILURE_LIMIT failed logins for one username from one address lock
# that pair out for LOGIN_LOCKOUT_MINUTES; a successful login resets the count.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.security.lockout_response"
AXES_VERBOSE = False
# The address axes counts: REMOTE_ADDR (what the audit records too), never a client-set header.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Content-Security-Policy (django-csp): the pages load only their own scripts and styles (no inline code);
# dashboard.security adds ws:// and wss:// of the request's own host to connect-src for the live sockets.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]


def _test_db_suffix():
    # One test database per test run, so concurrent runs on one machine never share (or destroy) each
    # other's. Set in the environment so the server processes a test run spawns inherit the same name.
    return os.environ.setdefault("TEST_DB_SUFFIX", str(os.getpid()))


def _database():
    url = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except Exception as exc:  # dj_database_url raises several kinds for a malformed URL
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} cannot be parsed: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        # Owner-only from the first byte: SQLite creates its -wal and -shm files with the database's mode.
        if config["NAME"] and config["NAME"] != ":memory:" and not Path(config["NAME"]).exists():
            private_file(config["NAME"], lambda: "")
        # A file-based test database lets a daphne child process (browser tests) see the test data.
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_suffix(f".test{_test_db_suffix()}.sqlite3"))}
        config["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    elif engine.endswith("postgresql"):
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{_test_db_suffix()}"}
    else:
        raise ImproperlyConfigured(f"DATABASE_URL={url!r}: only sqlite:// and postgres:// are supported")
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://")
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group message is published once and each web process fans it out to its own
            # sockets, over one subscriber connection per process (no per-socket Redis calls, no pool to
            # exhaust: 1,000 sockets on one DAG in one process). Delivery is at most once, as with every layer;
            # consumers heal gaps from the database by seq. See upgrades/live/publish.py.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "upgrades.live.layers.LiveInMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# Translations: the API's error messages follow Accept-Language (upgrades/api/i18n.py); the pages stay in
# LANGUAGE_CODE (no LocaleMiddleware yet). Catalogs in locale/, compiled .mo committed (no gettext needed).
USE_I18N = True
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root; only collectstatic fills it
# No collectstatic step: WhiteNoise serves straight from the finders, with DEBUG on or off.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "packages")
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The largest package file accepted (API, pages, add_package); the wire allowance of an upload (multipart,
# AES-encrypted and base64'd under v2) is derived from it in upgrades/packages/limits.py.
PACKAGE_MAX_BYTES = env_int("PACKAGE_MAX_BYTES", 2 * 1024**3, minimum=1)
# A file of ASCII-armored public keys (e.g. OceanBase's): when set, only RPMs signed by one of them are
# accepted (upgrades/packages/signatures.py).
PACKAGE_KEYRING = env_str("PACKAGE_KEYRING") or ""

SIMULATION_SPEED = env_float("SIMULATION_SPEED", 1.0, minimum=0)
# The simulated backend records every execution of a step (ExecutionRecord) for `manage.py soak`'s checks.
SIMULATION_RECORD_EXECUTIONS = env_bool("SIMULATION_RECORD_EXECUTIONS", True)
# How often a live socket re-reads its DAG's latest seq and fills a gap from the database (and rejoins its group).
LIVE_HEARTBEAT_SECONDS = env_float("LIVE_HEARTBEAT_SECONDS", 20.0, minimum=0.5)
# Messages one live socket may send per minute (resume, log pages); past it the socket is closed with 4429.
LIVE_MAX_MESSAGES_PER_MINUTE = env_int("LIVE_MAX_MESSAGES_PER_MINUTE", 120, minimum=1)
EMBEDDED_WORKER = env_bool("EMBEDDED_WORKER", True)
EMBEDDED_WORKER_THREADS = env_int("EMBEDDED_WORKER_THREADS", 2, minimum=1)
WORKER_LEASE_SECONDS = env_float("WORKER_LEASE_SECONDS", 30.0, minimum=1)
# Real clusters (the obshell backend): how often the workers re-read each one's topology and health.
TOPOLOGY_REFRESH_SECONDS = env_int("TOPOLOGY_REFRESH_SECONDS", 60, minimum=5)
# A mirrored run polls its agent at most this far apart, and shows "lost contact" after this long unreachable.
MIRROR_POLL_SECONDS = env_float("MIRROR_POLL_SECONDS", 1.0, minimum=0.05)
MIRROR_UNREACHABLE_SECONDS = env_int("MIRROR_UNREACHABLE_SECONDS", 1800, minimum=1)
# A running stage is reported stalled past twice its usual duration, and never before this (README).
STALL_MIN_SECONDS = env_float("STALL_MIN_SECONDS", 30.0, minimum=0)
# Labels (key=value, comma-separated) that make a cluster production: an upgrade of it from the pages, and a
# campaign over it, waits for a second person's approval (README: Labels, maintenance windows and approvals).
# Empty: no cluster needs one. The API (POST /api/v1/ob/upgrade) is never gated.
APPROVAL_LABELS = [
    item.strip() for item in env_str("APPROVAL_LABELS", "env=prod,env=production").split(",") if item.strip()
]
# Hours a pending upgrade request waits for its approval before it expires.
UPGRADE_REQUEST_HOURS = env_float("UPGRADE_REQUEST_HOURS", 24.0, minimum=0.01)
# Days after which the workers prune a succeeded run's events and task logs into its archive; unset: never.
RETENTION_DAYS = env_float("RETENTION_DAYS", None, minimum=0)
# obshell's v1 X-OCS-Auth header carries no uri (a header captured on a GET could authorise a POST): off
# unless a 4.2.2.0-era client needs it.
OCS_AUTH_V1 = env_bool("OCS_AUTH_V1", False)
# An auth header whose ts (its expiry) is further ahead than this is refused; replay-cache entries live as
# long as a header is valid, so this also bounds them.
OCS_MAX_HEADER_LIFETIME_SECONDS = env_int("OCS_MAX_HEADER_LIFETIME_SECONDS", 900, minimum=1)
# The embedded profile (`make run`): SQLite, the in-memory channel layer and worker threads in the web process.
EMBEDDED_PROFILE = DATABASES["default"]["ENGINE"].endswith("sqlite3") and not REDIS_URL and EMBEDDED_WORKER
# One-time admin sign-in links (printed by `make run`): only ever in the embedded profile; LOGIN_LINK=0 turns them off.
LOGIN_LINK = EMBEDDED_PROFILE and env_bool("LOGIN_LINK", True)
LOGIN_LINK_MINUTES = 15

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OB Upgrade Dashboard: obshell-compatible API",
    "VERSION": "4.5.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # 3.1: the components are plain JSON Schema (type arrays for null), which jsonschema and schemathesis read.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "upgrades.api.schemas.add_components",
    ],
}

# LOG_FORMAT=json: one JSON object per line with the request's trace id and the worker's DAG / sub-task
# (upgrades/operations/logs.py); plain (the default): one line of text. Both scrub secrets from every line.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "upgrades.operations.logs.JsonFormatter"},
    },
    "filters": {"scrub": {"()": "upgrades.operations.logs.ScrubFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["scrub"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # a line per failed login at INFO; lockouts are WARNING
        # uvicorn sets up its own handlers before Django starts: route its lines through ours instead.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
    },
}

# Operations (README: Health and metrics). /metrics needs `Authorization: Bearer <METRICS_TOKEN>` when set.
# PROMETHEUS_MULTIPROC_DIR is read by prometheus_client itself from the environment.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Outermost, so every request is counted by route pattern and timed, whatever answers it.
MIDDLEWARE = ["dashboard.health.RequestMetricsMiddleware", *MIDDLEWARE]

# Notifications (README: Notifications). DASHBOARD_URL makes the links in messages absolute.
DASHBOARD_URL = env_str("DASHBOARD_URL", "").rstrip("/")
if DASHBOARD_URL and not DASHBOARD_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"DASHBOARD_URL={DASHBOARD_URL!r} must start with http:// or https://")
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
NOTIFY_TIMEOUT_SECONDS = env_float("NOTIFY_TIMEOUT_SECONDS", 10.0, minimum=1)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
NOTIFY_RETRY_SECONDS = env_float("NOTIFY_RETRY_SECONDS", 10.0, minimum=0)
# Email goes through Django's backend; SMTP from the environment, with a bounded timeout.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them")
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ob-upgrade-dashboard@localhost")
