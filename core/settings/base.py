"""Every Pagecast setting, read from the environment through typed helpers.

`dev`, `test` and `production` import this module and change only what their setting needs.
`.env.example` documents each variable.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from kombu import Queue

from core import embedded_broker
from core.settings.env import (
    env_bool,
    env_choice,
    env_db_url,
    env_email_url,
    env_float,
    env_int,
    env_list,
    env_oauth_client,
    env_path,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = env_path("DATA_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)


def _secret_key_from_data_dir() -> str:
    """A per-installation key kept in the data directory, so sessions survive restarts.

    Only for the embedded default; production settings refuse to start without SECRET_KEY.
    """
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = env_str("SECRET_KEY", "") or _secret_key_from_data_dir()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:{}".format(env_int("PORT", 8000)))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.openid_connect",
    "core",
    "users",
    "document_processing",
    "speech_processing",
    "sharing",
    "operations",
    "exports",
    "web",
]

CSRF_FAILURE_VIEW = "core.api_errors.csrf_failure"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "users.middleware.SocialSignInErrorsMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.ApiExceptionMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

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

# --- Database ---------------------------------------------------------------------------------
# SQLite by default. WAL, IMMEDIATE transactions and a busy timeout let the web process and the
# workers write at once without "database is locked" errors (measured: 751 errors in 14 s without
# them, none with them).
DATABASES = {
    "default": env_db_url("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_TIMEOUT_SECONDS", 20, min_value=1),
    }
# Each web thread keeps its connection between requests, on SQLite too: opening one registers
# Django's SQL functions and runs the PRAGMAs, which cost more than a status request's queries.
# Celery closes a task's connection before and after each task whatever this says.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, min_value=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users and authentication -------------------------------------------------------------------
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10, min_value=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
# Sessions live in the database; while it cannot take a write (a full disk), a session is carried
# in a signed cookie for at most this long instead (core/sessions.py), so log-in keeps working.
SESSION_ENGINE = "core.sessions"
SESSION_FALLBACK_SECONDS = env_int("SESSION_FALLBACK_SECONDS", 3600, min_value=60)
LOGIN_REDIRECT_URL = "/"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", ["none", "optional", "mandatory"], "optional"
)
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Sign-up answers the same whether or not the address has an account (users/forms.py), and the
# owner of a taken address is emailed a log-in and a password-reset link (users/adapter.py).
ACCOUNT_ADAPTER = "users.adapter.AccountAdapter"
# Every allauth form in the site's words (users.forms.SiteWording); sign-up also hides taken
# addresses.
ACCOUNT_FORMS = {
    name: f"users.forms.{form}"
    for name, form in {
        "signup": "SignupForm",
        "login": "LoginForm",
        "change_password": "ChangePasswordForm",
        "set_password": "SetPasswordForm",
        "reset_password": "ResetPasswordForm",
        "reset_password_from_key": "ResetPasswordKeyForm",
        "add_email": "AddEmailForm",
        "reauthenticate": "ReauthenticateForm",
    }.items()
}
# Browser log-in lockout (django-allauth's rate limits): after this many failed attempts for one
# account the log-in form refuses it for the timeout; one address may also fail 10 times a minute.
LOGIN_ATTEMPTS_LIMIT = env_int("LOGIN_ATTEMPTS_LIMIT", 5, min_value=1)
LOGIN_ATTEMPTS_TIMEOUT_SECONDS = env_int("LOGIN_ATTEMPTS_TIMEOUT_SECONDS", 300, min_value=1)
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"10/m/ip,{LOGIN_ATTEMPTS_LIMIT}/{LOGIN_ATTEMPTS_TIMEOUT_SECONDS}s/key"
}
# API tokens stop working this many days after they were issued (0: only log-out ends them).
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30, min_value=0)
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False

# --- Social sign-in (django-allauth) ---------------------------------------------------------
# Each provider is on only when its client id and secret are set, and is then offered on the
# log-in and sign-up pages. allauth's safe defaults stay: a social account whose email matches
# an existing account never logs into it (SOCIALACCOUNT_EMAIL_AUTHENTICATION off); the person
# must log in to that account first and connect the provider there. Provider tokens are not kept.
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {}
if (_google := env_oauth_client("GOOGLE")) is not None:
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": _google[0], "secret": _google[1]}],
        "SCOPE": ["profile", "email"],
    }
if (_github := env_oauth_client("GITHUB")) is not None:
    SOCIALACCOUNT_PROVIDERS["github"] = {
        "APPS": [{"client_id": _github[0], "secret": _github[1]}],
        "SCOPE": ["user:email"],
    }
if (_oidc := env_oauth_client("OIDC")) is not None:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "oidc",
                "name": env_str("OIDC_NAME", "Single sign-on"),
                "client_id": _oidc[0],
                "secret": _oidc[1],
                "settings": {"server_url": env_str("OIDC_SERVER_URL")},
            }
        ]
    }
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
# A provider that is not switched on is a 404; one that cannot be reached, allauth's error page
# with the cause logged (users/middleware.py).
SOCIALACCOUNT_ADAPTER = "users.adapter.SocialAccountAdapter"

# --- Email ------------------------------------------------------------------------------------
_email = env_email_url("EMAIL_URL")
if _email is None:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    globals().update(_email)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Pagecast <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Files ------------------------------------------------------------------------------------
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", ["local", "s3"], "local")
MEDIA_ROOT = DATA_DIR / "media"
# Media is never served directly: every file goes through an authorised API download.
MEDIA_URL = "/protected-media/"
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "core.storage.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY", "") or None,
            "signature_version": "s3v4",
            "addressing_style": env_choice(
                "AWS_S3_ADDRESSING_STYLE", ["auto", "path", "virtual"], "auto"
            ),
            "querystring_auth": True,
            "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 300, min_value=10),
            "default_acl": None,
            "file_overwrite": False,
            # Bounded waits: a store that drops packets fails the request instead of holding it.
            "connect_timeout": env_int("AWS_S3_CONNECT_TIMEOUT", 5, min_value=1),
            "read_timeout": env_int("AWS_S3_READ_TIMEOUT", 60, min_value=1),
            "max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3, min_value=1),
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files straight from the apps in development; production runs collectstatic.
WHITENOISE_USE_FINDERS = True
# Uploads always stream to a temporary file in chunks: a large upload never sits whole in memory,
# and type detection can open it as a file (zip containers need that). Django's handler, except
# that a file whose write failed (a full disk) is removed at once.
FILE_UPLOAD_HANDLERS = ["core.uploads.TemporaryFileUploadHandler"]
# ... in a folder only Pagecast uses (made at start-up), so the orphan sweep can remove what a
# killed web process left there without touching other programs' temporary files.
FILE_UPLOAD_TEMP_DIR = DATA_DIR / "tmp" / "uploads"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100

# --- Content Security Policy --------------------------------------------------------------------
# Everything is served from this site (vendored static files, no CDN) and no page needs inline
# scripts. Audio may come from the S3 endpoint that signed download URLs redirect to.
_media_sources = ["'self'", "blob:"]
if STORAGE_BACKEND == "s3":
    _media_sources.append(
        env_str("AWS_S3_ENDPOINT_URL", "")
        or "https://{}.s3.amazonaws.com".format(env_str("AWS_STORAGE_BUCKET_NAME"))
    )
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": _media_sources,
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- API --------------------------------------------------------------------------------------
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 20, min_value=1)
# Listening to a document, a client asks for the audio of the next LISTEN_AHEAD_PAGES pages in
# one request (POST /api/v1/documents/{id}/audios/), once per that many pages played.
LISTEN_AHEAD_PAGES = env_int("LISTEN_AHEAD_PAGES", 2, min_value=1, max_value=50)
# The generate rate such a listener never reaches at 3x speed. Speech runs at about 150 words a
# minute, 450 at 3x: 7.5 words a second. Pages of 11 words on average over an hour (a line each,
# 1.5 s at 3x) make a listener ask 3600 / (1.5 x LISTEN_AHEAD_PAGES) times an hour: 1200 with
# 2 pages a request. Real pages are far longer, and a bulk request counts once however many
# pages it names, so an hour of listening stays well inside the default.
_LISTENER_GENERATE_PER_HOUR = -(-3600 * 2 // (3 * LISTEN_AHEAD_PAGES))
REST_FRAMEWORK = {
    # Token first: DRF answers 401 (not 403) to anonymous callers only when the first
    # authentication class names a WWW-Authenticate scheme.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.JSONFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "register": env_str("THROTTLE_REGISTER", "10/hour"),
        "login_ip": env_str("THROTTLE_LOGIN_IP", "30/minute"),
        "login_account": env_str("THROTTLE_LOGIN_ACCOUNT", "10/minute"),
        "upload": env_str("THROTTLE_UPLOAD", "10/hour"),
        "generate": env_str("THROTTLE_GENERATE", f"{_LISTENER_GENERATE_PER_HOUR}/hour"),
        "retry": env_str("THROTTLE_RETRY", "30/hour"),
        "share": env_str("THROTTLE_SHARE", "60/hour"),
    },
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, min_value=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pagecast API",
    "DESCRIPTION": "Turn documents into listenable audio, page by page, and share them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # API.md: everything but register, token and health needs a logged-in caller.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "document_processing.models.Document.Status",
        "AudioStatusEnum": "speech_processing.models.Audio.Status",
        "HealthStatusEnum": ["ok", "error"],
        "SharePermissionEnum": "sharing.models.DocumentShare.Permission",
        "CallerPermissionEnum": ["owner", "view_only", "collaborator", "can_share"],
    },
}

# --- Documents ----------------------------------------------------------------------------------
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024, min_value=1024)
DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 2_000, min_value=1)
DOCUMENT_MAX_CHARS = env_int("DOCUMENT_MAX_CHARS", 5_000_000, min_value=1_000)
PAGE_MAX_CHARS = env_int("PAGE_MAX_CHARS", 20_000, min_value=500)
PASTED_TEXT_MAX_CHARS = env_int("PASTED_TEXT_MAX_CHARS", 1_000_000, min_value=1_000)
ARCHIVE_MAX_UNCOMPRESSED_BYTES = env_int(
    "ARCHIVE_MAX_UNCOMPRESSED_BYTES", 256 * 1024 * 1024, min_value=1024 * 1024
)
ARCHIVE_MAX_COMPRESSION_RATIO = env_int("ARCHIVE_MAX_COMPRESSION_RATIO", 200, min_value=2)
# Parsing runs in a child process with these limits.
EXTRACTION_MEMORY_LIMIT_MB = env_int("EXTRACTION_MEMORY_LIMIT_MB", 1024, min_value=64)
EXTRACTION_TIMEOUT_SECONDS = env_int("EXTRACTION_TIMEOUT_SECONDS", 600, min_value=1)
# Child processes that share one large PDF (0: up to two, as many cores as are free to use).
# Lower it to 1 where every core already runs its own worker.
EXTRACTION_WORKERS = env_int("EXTRACTION_WORKERS", 0, min_value=0)
OCR_ENABLED = env_bool("OCR_ENABLED", True)
OCR_LANGUAGE = env_str("OCR_LANGUAGE", "eng")
# URL import: size and time caps. Loopback is allowed only for tests; production refuses it.
URL_IMPORT_MAX_BYTES = env_int("URL_IMPORT_MAX_BYTES", 10 * 1024 * 1024, min_value=1024)
URL_IMPORT_TIMEOUT_SECONDS = env_float("URL_IMPORT_TIMEOUT_SECONDS", 20.0, min_value=1.0)
URL_IMPORT_ALLOW_LOOPBACK = env_bool("URL_IMPORT_ALLOW_LOOPBACK", False)
# Extractors by detected type, over the built-in ones (name → dotted path of a class).
DOCUMENT_EXTRACTORS: dict[str, str] = {}

# Stored files that belong to a document besides its original (for deletion and export).
STORED_FILE_COLLECTORS = [
    "speech_processing.services.stored_files_of_document",
    "speech_processing.audiobooks.stored_files_of_document",
]
# Asked just before stored files are deleted, and by the orphan sweep: which of them a row
# still names. Every app that stores files answers for its own rows.
STORED_FILE_IN_USE = [
    "document_processing.selectors.stored_files_in_use",
    "speech_processing.reuse.stored_files_in_use",
    "speech_processing.audiobooks.stored_files_in_use",
    "speech_processing.live.stream_parts_in_use",
    "exports.selectors.stored_files_in_use",
]
# The folders of stored files that rows name; the orphan sweep looks only here (audit log
# exports and voice samples are kept by name, and a shared bucket keeps other programs' files).
STORED_FILE_FOLDERS = [
    "originals", "covers", "audio", "audio-stream", "audiobooks", "exports", "health",
]  # fmt: skip
# Temporary uploads and stored files that nothing names are removed once this old (hourly).
ORPHAN_MIN_AGE_SECONDS = env_int("ORPHAN_MIN_AGE_SECONDS", 3600, min_value=300)

# --- Speech ---------------------------------------------------------------------------------------
# Engines switched on (name → constructor options). Piper is always on; the others only when the
# environment configures them, so an unconfigured engine offers no voices.
SPEECH_DEFAULT_VOICE = env_str("SPEECH_DEFAULT_VOICE", "piper:en_US-joe-medium")
SPEECH_ENGINES: dict[str, dict[str, object]] = {
    "piper": {
        "voices_dir": env_str("PIPER_VOICES_DIR", "") or None,
        "threads": env_int("PIPER_THREADS", 2, min_value=1),
    },
}
if env_bool("ESPEAK_ENABLED", True) and shutil.which("espeak-ng"):
    SPEECH_ENGINES["espeak"] = {}
POLLY_REGION = env_str("POLLY_REGION", "")
if POLLY_REGION:
    SPEECH_ENGINES["polly"] = {
        "region_name": POLLY_REGION,
        "aws_access_key_id": env_str("POLLY_ACCESS_KEY_ID", "") or None,
        "aws_secret_access_key": env_str("POLLY_SECRET_ACCESS_KEY", "") or None,
        # A VPC endpoint or a stand-in server; empty: the region's public endpoint.
        "endpoint_url": env_str("POLLY_ENDPOINT_URL", "") or None,
    }
OPENAI_TTS_URL = env_str("OPENAI_TTS_URL", "")
if OPENAI_TTS_URL:
    SPEECH_ENGINES["openai"] = {
        "base_url": OPENAI_TTS_URL,
        "api_key": env_str("OPENAI_TTS_API_KEY", ""),
        "model": env_str("OPENAI_TTS_MODEL", "gpt-4o-mini-tts"),
        "voices": env_list("OPENAI_TTS_VOICES", ["alloy", "nova", "onyx"]),
    }
# Engine classes over the built-in ones (name → dotted path), e.g. a different Piper build.
SPEECH_ENGINE_CLASSES: dict[str, str] = {}
AUDIO_MP3_BITRATE_KBPS = env_int("AUDIO_MP3_BITRATE_KBPS", 64, min_value=8)
# A voice's preview is made by a worker on first request; the request waits this long for it
# before answering 503 with Retry-After.
VOICE_SAMPLE_WAIT_SECONDS = env_float("VOICE_SAMPLE_WAIT_SECONDS", 5.0, min_value=0.0)
# Upper bounds of these settings, from the environment or from the dashboard's site settings: a
# date this many days ahead still fits the calendars of Python and the database (year 9999).
MAX_SETTING_DAYS = 3_650
MAX_SETTING_AUDIOS_PER_PAGE = 1_000
AUDIO_MAX_PER_PAGE = env_int(
    "AUDIO_MAX_PER_PAGE", 4, min_value=1, max_value=MAX_SETTING_AUDIOS_PER_PAGE
)
AUDIO_RETENTION_DAYS = env_int("AUDIO_RETENTION_DAYS", 180, min_value=1, max_value=MAX_SETTING_DAYS)
SPEECH_MAX_RETRIES = env_int("SPEECH_MAX_RETRIES", 5, min_value=0)
SPEECH_RETRY_BASE_SECONDS = env_float("SPEECH_RETRY_BASE_SECONDS", 10.0, min_value=0.0)
SPEECH_RETRY_CAP_SECONDS = env_float("SPEECH_RETRY_CAP_SECONDS", 600.0, min_value=1.0)
# Listening while audio is made holds a web thread per listener until the audio is complete;
# each web process keeps the rest of its threads (WEB_THREADS) for everything else.
STREAM_MAX_PER_PROCESS = env_int(
    "STREAM_MAX_PER_PROCESS", max(1, env_int("WEB_THREADS", 4, min_value=1) // 2), min_value=1
)

# --- Cache ------------------------------------------------------------------------------------
# The embedded default's Valkey server (see core/embedded_broker.py) holds the cache too, in its
# own database: rate limits and stream slots are shared by every process, as with CACHE_URL.
# core.cache.RedisCache is Django's, except that writes the server refuses for a full disk are
# kept in the process meanwhile, so log-in lockouts and throttles keep counting.
REDIS_CACHE_URL = env_str("CACHE_URL", "") or embedded_broker.cache_url(DATA_DIR)
CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
    },
    # Template fragments that are the same for everyone (per language), kept in each process.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pagecast-fragments",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

# --- Celery -----------------------------------------------------------------------------------
# Without CELERY_BROKER_URL, the embedded Valkey server under DATA_DIR (core/embedded_broker.py),
# on the same Redis transport and settings as a scaled-out deployment.
EMBEDDED_BROKER = not env_str("CELERY_BROKER_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or embedded_broker.broker_url(DATA_DIR)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60, min_value=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60, min_value=2)
if CELERY_BROKER_URL.startswith(embedded_broker.REDIS_SCHEMES):
    # Redis has no acknowledgements of its own: a message a worker took and did not acknowledge
    # (the worker died) is delivered again after this long. It must outlast the longest task, or
    # a task still running would be delivered a second time.
    BROKER_VISIBILITY_TIMEOUT = env_int(
        "BROKER_VISIBILITY_TIMEOUT",
        CELERY_TASK_TIME_LIMIT + 300,
        min_value=CELERY_TASK_TIME_LIMIT + 1,
    )
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
        # Workers look for such messages every twentieth of the timeout (kombu's default: every
        # 100 s), so a short timeout also brings them back soon.
        "unacked_restore_interval": max(1, min(100, BROKER_VISIBILITY_TIMEOUT // 20)),
        "unacked_restore_throttle": 1,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default"), Queue("documents"), Queue("speech")]
CELERY_TASK_ROUTES = {
    "document_processing.*": {"queue": "documents"},
    "speech_processing.*": {"queue": "speech"},
}
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_KB", 1_500_000, min_value=1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Workers report in this often (0: never, as in most tests); one silent for WORKER_LOST_SECONDS
# is taken for dead (`/health/` fails, naming `worker`). A message taken by a worker that died is
# given back to its queue at once when the dead worker had reported holding it, else after the
# grace (operations/workers.py).
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10, min_value=0)
WORKER_LOST_SECONDS = env_int("WORKER_LOST_SECONDS", 60, min_value=2)
WORKER_RECOVERY_GRACE_SECONDS = env_int("WORKER_RECOVERY_GRACE_SECONDS", 30, min_value=1)
# Each worker tries its default voice when it starts, in a process of its own, and records how
# that went with its reports (`/health/` names `tts` from them: web processes load no engine);
# again this often (0: only at start), and every minute while it fails.
WORKER_ENGINE_CHECK_SECONDS = env_int("WORKER_ENGINE_CHECK_SECONDS", 3600, min_value=0)
# Work left behind by a lost message or a killed worker is found and queued again.
STUCK_SWEEP_INTERVAL_SECONDS = env_int("STUCK_SWEEP_INTERVAL_SECONDS", 300, min_value=10)
STUCK_PENDING_SECONDS = env_int("STUCK_PENDING_SECONDS", 900, min_value=10)
MAX_EXTRACTION_ATTEMPTS = env_int("MAX_EXTRACTION_ATTEMPTS", 3, min_value=1)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "sweep-stuck-documents": {
        "task": "document_processing.sweep_stuck_documents",
        "schedule": float(STUCK_SWEEP_INTERVAL_SECONDS),
    },
    "sweep-stuck-audio": {
        "task": "speech_processing.sweep_stuck_audio",
        "schedule": float(STUCK_SWEEP_INTERVAL_SECONDS),
    },
    # Daily: warn owners of audio about to expire, then expire what is past its retention.
    "expire-audio": {"task": "operations.expire_audio", "schedule": 24 * 60 * 60.0},
    # Account exports: expired ZIPs deleted, lost ones requeued. Account deletions run again
    # until nothing is left. Daily: last month's audit log to storage, unless already there.
    "sweep-exports": {
        "task": "exports.sweep_exports",
        "schedule": float(STUCK_SWEEP_INTERVAL_SECONDS),
    },
    "sweep-account-deletions": {
        "task": "users.sweep_account_deletions",
        "schedule": float(STUCK_SWEEP_INTERVAL_SECONDS),
    },
    "export-audit-log": {"task": "exports.export_audit_log", "schedule": 24 * 60 * 60.0},
    "sweep-orphans": {"task": "operations.sweep_orphans", "schedule": 60 * 60.0},
    # Invitations to share past their expiry are deleted (they are not honoured meanwhile).
    "expire-share-invitations": {"task": "sharing.expire_invitations", "schedule": 60 * 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- Sharing -----------------------------------------------------------------------------------
# Sharing with an email address invites it; the invitation lapses after this many days.
SHARE_INVITATION_DAYS = env_int(
    "SHARE_INVITATION_DAYS", 14, min_value=1, max_value=MAX_SETTING_DAYS
)

# --- Audit ------------------------------------------------------------------------------------
# The request header (as a META key, e.g. HTTP_X_FORWARDED_FOR) a trusted proxy puts the client
# address in. Empty: the connection's own address is recorded.
TRUSTED_CLIENT_IP_HEADER = env_str("TRUSTED_CLIENT_IP_HEADER", "")

# --- Exports ------------------------------------------------------------------------------------
# A person's export ZIP is deleted from storage this many days after it was made.
EXPORT_RETENTION_DAYS = env_int("EXPORT_RETENTION_DAYS", 7, min_value=1, max_value=MAX_SETTING_DAYS)

# --- Operations ---------------------------------------------------------------------------------
# Defaults of the site settings staff change in the dashboard: an empty site setting uses these
# (and AUDIO_MAX_PER_PAGE, UPLOAD_MAX_BYTES, AUDIO_RETENTION_DAYS above).
AUDIO_EXPIRY_WARNING_DAYS = env_int(
    "AUDIO_EXPIRY_WARNING_DAYS", 30, min_value=0, max_value=MAX_SETTING_DAYS
)
ADMIN_NOTIFICATION_EMAIL = env_str("ADMIN_NOTIFICATION_EMAIL", "")
# Estimated cost of the paid speech engines, in US dollars per million characters.
SPEECH_PRICES_PER_MILLION_CHARS = {
    "polly": env_float("POLLY_PRICE_PER_MILLION_CHARS", 16.0, min_value=0.0),
    "openai": env_float("OPENAI_TTS_PRICE_PER_MILLION_CHARS", 15.0, min_value=0.0),
}

# --- Health -------------------------------------------------------------------------------------
# Each app adds its own probe here (name → dotted path of a callable raising on failure).
HEALTH_CHECKS = {
    "database": "core.health.check_database",
    "broker": "core.health.check_broker",
    "storage": "core.health.check_storage",
    "tts": "operations.health.check_tts",
    "worker": "operations.health.check_worker",
    "queue": "core.health.check_queue",
}
# `queue` fails when the job next in line has waited longer than this for a worker.
QUEUE_MAX_WAIT_SECONDS = env_int("QUEUE_MAX_WAIT_SECONDS", 300, min_value=1)
HEALTH_CHECK_TIMEOUT_SECONDS = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 3.0, min_value=0.1)

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", ["DEBUG", "INFO", "WARNING", "ERROR"], "INFO")
LOG_FORMAT = env_choice("LOG_FORMAT", ["text", "json"], "text")
# Under `pagecast serve` each line names its process (web, worker, beat), as one terminal shows
# them all.
_PROCESS_NAME = re.sub(r"[^A-Za-z0-9_-]", "", env_str("PAGECAST_PROCESS", ""))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s "
            + (f"{_PROCESS_NAME} " if _PROCESS_NAME else "")
            + "%(levelname)s %(name)s %(message)s"
        },
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}
if _PROCESS_NAME:
    CELERY_WORKER_LOG_FORMAT = (
        f"[%(asctime)s: {_PROCESS_NAME} %(levelname)s/%(processName)s] %(message)s"
    )
    CELERY_WORKER_TASK_LOG_FORMAT = (
        f"[%(asctime)s: {_PROCESS_NAME} %(levelname)s/%(processName)s] "
        "%(task_name)s[%(task_id)s]: %(message)s"
    )
