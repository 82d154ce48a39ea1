"""The site settings as the services read them: the stored row over the environment's defaults.

The row is cached (the cache is shared by web and workers), so reading it costs no query on
most requests. Defaults are applied at read time, so a deployment's environment still decides
whatever staff have left empty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from operations.models import SITE_SETTINGS_ID, SiteSettings

logger = logging.getLogger(__name__)

CACHE_KEY = "operations:site-settings:v1"
# Bounds how long a process that missed an invalidation (a per-process cache) keeps old values.
CACHE_SECONDS = 60


@dataclass(frozen=True)
class EffectiveSettings:
    audio_generation_enabled: bool
    generation_disabled_message: str
    max_audios_per_page: int
    upload_max_bytes: int
    audio_retention_days: int
    expiry_warning_days: int
    auto_delete_expired: bool
    admin_email: str


def defaults() -> dict[str, Any]:
    """What an empty site setting means, from the environment."""
    return {
        "max_audios_per_page": settings.AUDIO_MAX_PER_PAGE,
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
        "audio_retention_days": settings.AUDIO_RETENTION_DAYS,
        "expiry_warning_days": settings.AUDIO_EXPIRY_WARNING_DAYS,
        "admin_email": settings.ADMIN_NOTIFICATION_EMAIL,
    }


def limits() -> dict[str, int]:
    """The largest value staff may set for each bounded number, the same as the environment's."""
    return {
        "max_audios_per_page": settings.MAX_SETTING_AUDIOS_PER_PAGE,
        "audio_retention_days": settings.MAX_SETTING_DAYS,
        "expiry_warning_days": settings.MAX_SETTING_DAYS,
    }


def site_settings() -> EffectiveSettings:
    stored = _stored_values()
    fallback = defaults()
    ceiling = limits()

    def value(name: str) -> Any:
        raw = stored.get(name)
        return fallback[name] if raw is None or raw == "" else raw

    def bounded(name: str) -> int:
        # A row saved before the form had bounds must not overflow the dates made from it.
        return min(int(value(name)), ceiling[name])

    return EffectiveSettings(
        audio_generation_enabled=bool(stored.get("audio_generation_enabled", True)),
        generation_disabled_message=stored.get("generation_disabled_message")
        or _("Making new audio is switched off for now. Please try again later."),
        max_audios_per_page=bounded("max_audios_per_page"),
        upload_max_bytes=min(int(value("upload_max_bytes")), settings.UPLOAD_MAX_BYTES),
        audio_retention_days=bounded("audio_retention_days"),
        expiry_warning_days=bounded("expiry_warning_days"),
        auto_delete_expired=bool(stored.get("auto_delete_expired", True)),
        admin_email=str(value("admin_email")),
    )


def _stored_values() -> dict[str, Any]:
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:
        logger.warning("The cache could not be read; site settings come from the database")
        cached = None
    if cached is not None:
        return dict(cached)
    row = SiteSettings.objects.filter(pk=SITE_SETTINGS_ID).values(*SiteSettings.EDITABLE).first()
    values = dict(row or {})
    try:
        cache.set(CACHE_KEY, values, CACHE_SECONDS)
    except Exception:
        logger.warning("The cache could not be written; site settings are read every time")
    return values


def forget_cached() -> None:
    """After a change: every process reads the row again."""
    try:
        cache.delete(CACHE_KEY)
    except Exception:
        logger.warning("The cache could not be cleared; old site settings may last a minute")
