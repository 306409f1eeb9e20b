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
* Looked-up sessions are remembered in this process for ``cache_ttl`` seconds
  (:mod:`pywire_auth.session_cache`), so most signed-in requests skip the store; a
  revocation anywhere is honoured by every process within that time, and at once
  by the process that made it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import cookie_parser

from pywire_auth.exceptions import ConfigurationError, InvalidInputError
from pywire_auth.local.principal import principal_for
from pywire_auth.protocols import SessionStore
from pywire_auth.session_cache import CachedSession, SessionCache
from pywire_auth.types import SessionRecord, UserRecord

__all__ = ["SESSION_SECRET_ENV", "SessionConfig", "SessionManager"]

SESSION_SECRET_ENV = "PYWIRE_SESSION_SECRET"  # noqa: S105 - the variable's name
_MIN_SECRET_BYTES = 32
_TOKEN_BYTES = 32
# Longer Cookie headers are verified every time rather than remembered.
_MEMO_HEADER_CHARS = 4096


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Cookie and lifetime settings of signed-in sessions.

    ``ttl`` is how long an idle session lives; each request more than
    ``refresh_after`` seconds after the last refresh slides it forward again.
    ``secure=None`` sets the ``Secure`` flag exactly when the request came over HTTPS.

    ``cache_ttl`` is how long (seconds) a process may answer from memory for a
    session it looked up, instead of asking the store again; ``0`` turns that off.
    It bounds how late a revocation made elsewhere (another worker, or straight in
    the database) takes effect here; the process that revokes honours it at once.
    ``cache_size`` caps how many sessions one process remembers (least recently
    used go first).
    """

    cookie_name: str = "pywire_auth_session"
    ttl: int = 14 * 24 * 3600
    refresh_after: int = 3600
    secure: bool | None = None
    path: str = "/"
    cache_ttl: float = 1.0
    cache_size: int = 4096

    def __post_init__(self) -> None:
        if self.ttl <= 0 or not 0 <= self.refresh_after < self.ttl:
            raise ConfigurationError("need ttl > 0 and 0 <= refresh_after < ttl")
        if not 0 <= self.cache_ttl < self.ttl or self.cache_size < 1:
            raise ConfigurationError("need 0 <= cache_ttl < ttl and cache_size >= 1")


class SessionManager:
    """Creates, reads, refreshes and ends sessions in a :class:`SessionStore`.

    ``clock`` (seconds, like :func:`time.time`) decides expiry and the age of cached
    lookups; tests pass a fake one.
    """

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
        self._cache = SessionCache(self.config.cache_ttl, self.config.cache_size, clock)
        self._verified: dict[str, str] = {}  # Cookie header -> the token it verified to

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
        # A browser sends the same header on request after request: remember the
        # answer for headers that verified. The answer depends on nothing but the
        # header (and our key), so this changes no outcome. Only verified headers
        # are kept, so forged cookies cannot crowd out real ones.
        token = self._verified.get(cookie_header)
        if token is None:
            token = self._verify(cookie_header)
            if token is not None and len(cookie_header) <= _MEMO_HEADER_CHARS:
                if len(self._verified) >= self.config.cache_size:
                    del self._verified[next(iter(self._verified))]  # the oldest
                self._verified[cookie_header] = token
        return token

    def _verify(self, cookie_header: str) -> str | None:
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
        # hmac.digest is the one-shot C path: the same MAC as hmac.new(...).hexdigest()
        # at a fraction of the cost, which every signed-in request pays.
        return hmac.digest(self._key, token.encode(), "sha256").hex()[:32]

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
        found = await self.lookup(token)
        return found.record if found else None

    async def load_with_user(self, token: str) -> tuple[SessionRecord, UserRecord] | None:
        """The live session of ``token`` and its user, in one lookup, or ``None``."""
        found = await self.lookup(token)
        return (found.record, found.user) if found else None

    async def lookup(self, token: str) -> CachedSession | None:
        """The live session of ``token`` with its user and principal, or ``None``.

        Answered from this process's cache when it looked the session up less than
        ``cache_ttl`` seconds ago (and nothing here ended or changed it since);
        otherwise read from the store in one query. A session past its
        ``expires_at`` is refused either way, and deleted from the store.
        """
        session_id = self.session_id(token)
        cache = self._cache
        cached = cache.get(session_id)
        if cached is not None:
            if cached.record.expires_at > self.now():
                return cached
            # Expired while cached; the store may hold a refresh another process
            # made meanwhile, so ask it rather than refusing outright.
            cache.forget_session(session_id)
        generation = cache.generation
        read_at = self._clock()
        found = await self.store.get_session_user(session_id)
        if found is None:
            return None
        record, user = found
        if record.expires_at <= self.now():
            await self.store.delete_session(session_id)
            return None
        entry = CachedSession(record, user, principal_for(user))
        cache.put(entry, read_at=read_at, generation=generation)
        return entry

    def needs_refresh(self, record: SessionRecord) -> bool:
        """Whether the session's expiry should slide forward on this request."""
        last_refresh = record.expires_at - self.config.ttl
        return self.now() - last_refresh >= self.config.refresh_after

    async def refresh(self, record: SessionRecord) -> bool:
        """Slide the session's expiry to ``now + ttl``; ``False`` if it was ended meanwhile."""
        try:
            return await self.store.touch_session(record.session_id, self.now() + self.config.ttl)
        finally:
            self._cache.forget_session(record.session_id)

    async def start(self, user_id: str, *, replacing: str | None = None) -> str:
        """Begin a session for ``user_id`` and return its new token.

        ``replacing`` is the token the browser had before; that session is deleted
        so the pre-sign-in id can never be used again.
        """
        if replacing:
            await self.end(replacing)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = self.now()
        await self.store.create_session(
            SessionRecord(self.session_id(token), user_id, now, now + self.config.ttl)
        )
        return token

    async def end(self, token: str) -> None:
        """End the session of ``token``."""
        session_id = self.session_id(token)
        try:
            await self.store.delete_session(session_id)
        finally:
            # After the delete: a lookup that starts later reads the store's answer.
            self._cache.forget_session(session_id)

    async def end_all(self, user_id: str) -> int:
        """End every session of ``user_id``, in every browser."""
        try:
            return await self.store.delete_user_sessions(user_id)
        finally:
            self._cache.forget_user(user_id)

    # Hooks for changes made elsewhere ---------------------------------------

    def forget_session(self, session_id: str) -> None:
        """Drop this process's cached lookup of one session (by its stored id).

        The auth channel calls this when another process ended or refreshed the
        session, so this process asks the store on the session's next request.
        """
        self._cache.forget_session(session_id)

    def forget_user(self, user_id: str) -> None:
        """Drop this process's cached lookups of every session of a user.

        ``user_id`` is the stored id (not the principal's ``local:<id>``). Called
        after the user's sessions were revoked or their claims or name changed, here
        or (through the auth channel) in another process.
        """
        self._cache.forget_user(user_id)

    # Housekeeping -----------------------------------------------------------

    async def prune_expired(self, *, batch: int = 500, pause: float = 0.0) -> int:
        """Delete every session that has expired, ``batch`` rows per statement.

        Between batches it sleeps ``pause`` seconds (at least one turn of the event
        loop), so requests and other writers get the database in between: no
        single statement holds a large delete's locks. Returns how many it deleted.
        """
        if batch < 1:
            raise InvalidInputError("batch must be at least 1")
        total = 0
        while True:
            deleted = await self.store.delete_expired_sessions(self.now(), limit=batch)
            total += deleted
            if deleted < batch:
                return total
            await asyncio.sleep(pause)
