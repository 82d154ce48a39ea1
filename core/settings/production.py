"""Production: refuses to start without SECRET_KEY and ALLOWED_HOSTS; secure cookies and HTTPS."""

import os

from django.core.exceptions import ImproperlyConfigured

from core.settings.base import *  # noqa: F403
from core.settings.env import env_bool, env_choice, env_int, env_list, env_str

for _required in ("SECRET_KEY", "ALLOWED_HOSTS"):
    if not os.environ.get(_required, "").strip():
        raise ImproperlyConfigured(
            f"Production settings need the environment variable {_required}."
        )

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 varied characters long.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", ["none", "optional", "mandatory"], "mandatory"
)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env_str("SECURE_REFERRER_POLICY", "strict-origin-when-cross-origin")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
SESSION_COOKIE_HTTPONLY = env_bool("SESSION_COOKIE_HTTPONLY", True)
SESSION_COOKIE_SAMESITE = env_str("SESSION_COOKIE_SAMESITE", "Strict")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
CSRF_COOKIE_HTTPONLY = env_bool("CSRF_COOKIE_HTTPONLY", True)
CSRF_COOKIE_SAMESITE = env_str("CSRF_COOKIE_SAMESITE", "Strict")
X_FRAME_OPTIONS = "DENY"

# Importing from loopback addresses is a test convenience that production never allows.
if URL_IMPORT_ALLOW_LOOPBACK:  # noqa: F405
    raise ImproperlyConfigured("URL_IMPORT_ALLOW_LOOPBACK must not be set in production.")

LOG_FORMAT = env_choice("LOG_FORMAT", ["text", "json"], "json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # type: ignore[index]  # noqa: F405

STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
WHITENOISE_USE_FINDERS = False
