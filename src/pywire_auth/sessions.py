"""Signed-in sessions: a random token in a cookie, its hash in the store.

* Signing in always makes a new token and deletes the session the browser had
  (session fixation: an id planted before sign-in never becomes authenticated).
* Signing out deletes the session, and "revoke" deletes every session of the user,
  so other browsers are signed out too, also after a server restart.
* The cookie is ``HttpOnly`` (no script can read it), ``SameSite=Lax`` (not sent on
  cross-site POSTs) and ``Secure`` on HTTPS; its expiry slides forward while the
  user is active.
* The token is HMAC-signed with ``PYWIRE_SESSION_SECRET`` so forged or truncated
  cookies are refused before any store lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import cookie_parser

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.protocols import SessionStore
from pywire_auth.types import SessionRecord, UserRecord

__all__ = ["SESSION_SECRET_ENV", "SessionConfig", "SessionManager"]

SESSION_SECRET_ENV = "PYWIRE_SESSION_SECRET"  # noqa: S105 - the variable's name
_MIN_SECRET_BYTES = 32
_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Cookie and lifetime settings of signed-in sessions.

    ``ttl`` is how long an idle session lives; each request more than
    ``refresh_after`` seconds after the last refresh slides it forward again.
    ``secure=None`` sets the ``Secure`` flag exactly when the request came over HTTPS.
    """

    cookie_name: str = "pywire_auth_session"
    ttl: int = 14 * 24 * 3600
    refresh_after: int = 3600
    secure: bool | None = None
    path: str = "/"

    def __post_init__(self) -> None:
        if self.ttl <= 0 or not 0 <= self.refresh_after < self.ttl:
            raise ConfigurationError("need ttl > 0 and 0 <= refresh_after < ttl")


class SessionManager:
    """Creates, reads, refreshes and ends sessions in a :class:`SessionStore`."""

    def __init__(
        self,
        store: SessionStore,
        secret: str = "",
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = secret or os.environ.get(SESSION_SECRET_ENV, "")
        if len(key.encode()) < _MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"sessions need a secret of at least {_MIN_SECRET_BYTES} bytes: set "
                f"{SESSION_SECRET_ENV} (openssl rand -hex 32) or pass session_secret=..."
            )
        self.store = store
        self.config = config or SessionConfig()
        self._key = hashlib.sha256(b"pywire-auth session\x00" + key.encode()).digest()
        self._clock = clock

    def __repr__(self) -> str:
        return f"SessionManager(store={self.store!r}, cookie={self.config.cookie_name!r})"

    def now(self) -> int:
        """The current time in whole seconds, from the manager's clock."""
        return int(self._clock())

    # Cookies ---------------------------------------------------------------

    def token_from_cookie_header(self, cookie_header: str) -> str | None:
        """The verified session token in a ``Cookie`` header, or ``None``."""
        if self.config.cookie_name not in cookie_header:
            return None
        # Starlette's parser is lenient like browsers: an odd cookie of another
        # script or subdomain (JSON values, spaces) must not hide ours, which
        # http.cookies.SimpleCookie would do by stopping at it.
        value = cookie_parser(cookie_header).get(self.config.cookie_name)
        if not value:
            return None
        token, _, signature = value.partition(".")
        if not token or not hmac.compare_digest(signature.encode(), self._sign(token).encode()):
            return None
        return token

    def cookie_header(self, token: str, *, https: bool) -> str:
        """The ``Set-Cookie`` value that stores ``token`` in the browser."""
        return self._cookie(f"{token}.{self._sign(token)}", self.config.ttl, https)

    def clear_cookie_header(self, *, https: bool) -> str:
        """The ``Set-Cookie`` value that deletes the session cookie."""
        return self._cookie("", 0, https)

    def _cookie(self, value: str, max_age: int, https: bool) -> str:
        secure = https if self.config.secure is None else self.config.secure
        parts = [
            f"{self.config.cookie_name}={value}",
            f"Path={self.config.path}",
            f"Max-Age={max_age}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    def _sign(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()[:32]

    def derive_key(self, purpose: str) -> bytes:
        """A key for another cookie's signatures, derived from the session secret.

        A NUL byte can never occur in a session token, so no derived key is the
        signature of one, and each ``purpose`` gets an unrelated key.
        """
        return hmac.new(self._key, b"derive\x00" + purpose.encode(), hashlib.sha256).digest()

    # Sessions --------------------------------------------------------------

    @staticmethod
    def session_id(token: str) -> str:
        """The stored id of a token: its SHA-256, so the database never holds tokens."""
        return hashlib.sha256(token.encode()).hexdigest()

    async def load(self, token: str) -> SessionRecord | None:
        """The live session of ``token``; expired sessions are deleted and give ``None``."""
        found = await self.load_with_user(token)
        return found[0] if found else None

    async def load_with_user(self, token: str) -> tuple[SessionRecord, UserRecord] | None:
        """The live session of ``token`` and its user, in one lookup, or ``None``."""
        found = await self.store.get_session_user(self.session_id(token))
        if found is None:
            return None
        if found[0].expires_at <= self.now():
            await self.store.delete_session(found[0].session_id)
            return None
        return found

    def needs_refresh(self, record: SessionRecord) -> bool:
        """Whether the session's expiry should slide forward on this request."""
        last_refresh = record.expires_at - self.config.ttl
        return self.now() - last_refresh >= self.config.refresh_after

    async def refresh(self, record: SessionRecord) -> bool:
        """Slide the session's expiry to ``now + ttl``; ``False`` if it was ended meanwhile."""
        return await self.store.touch_session(record.session_id, self.now() + self.config.ttl)

    async def start(self, user_id: str, *, replacing: str | None = None) -> str:
        """Begin a session for ``user_id`` and return its new token.

        ``replacing`` is the token the browser had before; that session is deleted
        so the pre-sign-in id can never be used again.
        """
        if replacing:
            await self.store.delete_session(self.session_id(replacing))
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = self.now()
        await self.store.create_session(
            SessionRecord(self.session_id(token), user_id, now, now + self.config.ttl)
        )
        return token

    async def end(self, token: str) -> None:
        """End the session of ``token``."""
        await self.store.delete_session(self.session_id(token))

    async def end_all(self, user_id: str) -> int:
        """End every session of ``user_id``, in every browser."""
        return await self.store.delete_user_sessions(user_id)
