"""Sessions in the database, and in a signed cookie while the database cannot take them.

A log-in must store its new session. On a full disk the database refuses the row; rather than
refuse the log-in, the session is then carried by the browser in a cookie signed with the
site's key (as Django's signed-cookie store does), honoured for `SESSION_FALLBACK_SECONDS` from
when it was first signed. Such a session ends with a password change like any other (Django
checks the password hash it holds on every request), but a log-out cannot revoke a copy of it
server-side before it lapses: that is why it is short. On every request it makes, the session is
offered to the database again, and once the database takes it the cookie holds a row's key as
before (and the row it replaced, if any, is deleted).

Set as ``SESSION_ENGINE = "core.sessions"``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sessions.backends import db
from django.core import signing
from django.db.models import QuerySet
from django.db.models.functions import Now

from core.compiled import CompiledQuery
from core.storage_errors import OccasionalWarning, out_of_space, unless_out_of_space

if TYPE_CHECKING:
    from django.contrib.sessions.models import Session

logger = logging.getLogger(__name__)
_warn = OccasionalWarning(logger)

# Database keys are lower-case letters and digits, so a signed session can never be taken for one.
SIGNED_PREFIX = "signed:"
_SALT = "core.sessions.fallback"


def _unexpired(key: str) -> QuerySet[Session]:
    from django.contrib.sessions.models import Session

    return Session.objects.filter(session_key=key, expire_date__gt=Now())


_SESSION = CompiledQuery(_unexpired, key=str)


class SessionStore(db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._signed_at: int | None = None
        self._replaced_key: str | None = None

    @property
    def is_signed(self) -> bool:
        """Whether this session is carried by the browser (the database could not take it)."""
        return bool(self.session_key and self.session_key.startswith(SIGNED_PREFIX))

    def load(self) -> dict[str, Any]:
        if not self.is_signed:
            return super().load()
        assert self.session_key is not None
        try:
            payload = signing.loads(
                self.session_key.removeprefix(SIGNED_PREFIX),
                salt=_SALT,
                serializer=self.serializer,
                max_age=settings.SESSION_FALLBACK_SECONDS,
            )
            signed_at = int(payload["t"])
            data = dict(payload["d"])
            replaced = payload.get("r")
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            self._session_key = None
            return {}
        if time.time() - signed_at > settings.SESSION_FALLBACK_SECONDS:
            self._session_key = None
            return {}
        self._signed_at = signed_at
        self._replaced_key = replaced if isinstance(replaced, str) else None
        self.modified = True  # offer it to the database again when this request ends
        return data

    def _get_session_from_db(self) -> Session | None:
        # Every signed-in page asks for its session: compiled once (core.compiled). The database's
        # clock says what has expired, as the row's expiry was written by this app's.
        found = _SESSION.first(key=self.session_key or "")
        if found is None:
            self._session_key = None
        return found

    def save(self, must_create: bool = False) -> None:
        if self.is_signed:
            return self._move_into_database()
        try:
            super().save(must_create=must_create)
        except Exception as exc:
            full = out_of_space(exc)
            if full is None:
                raise
            _warn(
                "Sessions are kept in signed cookies for up to %d s: %s is full",
                settings.SESSION_FALLBACK_SECONDS,
                full.location,
            )
            if not must_create:  # this row stays as it was: delete it once the database can
                self._replaced_key = self.session_key
            self._sign()

    def delete(self, session_key: str | None = None) -> None:
        key = self.session_key if session_key is None else session_key
        if session_key is None and self._replaced_key:
            super().delete(self._replaced_key)
            self._replaced_key = None
        if key and not key.startswith(SIGNED_PREFIX):
            super().delete(key)

    def cycle_key(self) -> None:
        """A new key for the same data (at log-in). The old row is deleted when the database
        lets it be: an anonymous session's row left on a full disk expires as any other."""
        data = dict(self.items())
        key = self.session_key
        self.create()
        self._session_cache = data
        if key:
            with unless_out_of_space("the session replaced at log-in"):
                self.delete(key)

    def _move_into_database(self) -> None:
        data = dict(self.items())
        signed_at, replaced = self._signed_at, self._replaced_key
        self._session_key = None
        self._session_cache = data
        self.create()
        if self.is_signed:  # still full: the session keeps its first signing time
            self._signed_at, self._replaced_key = signed_at, replaced
            self._sign()
        elif replaced:
            with unless_out_of_space("the session row replaced during a full disk"):
                super().delete(replaced)

    def _sign(self) -> None:
        signed_at = self._signed_at or int(time.time())
        self._signed_at = signed_at
        # What the session holds now; a session never read has nothing to load.
        data = getattr(self, "_session_cache", {})
        payload = {"d": data, "t": signed_at, "r": self._replaced_key}
        self._session_key = SIGNED_PREFIX + signing.dumps(
            payload, salt=_SALT, serializer=self.serializer, compress=True
        )
