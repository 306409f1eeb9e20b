"""Signed-in sessions: a random token in a cookie, its hash in the store.

* Signing in always makes a new token and deletes the session the browser had
  (session fixation: an id planted before sign-in never becomes authenticated).
* Signing out deletes the session, and "revoke" deletes every session of the user,
  so other browsers are signed out too, also after a server restart.
* The cookie is ``HttpOnly`` (no script can read it), ``SameSite=Lax`` (not sent on
  cross-site POSTs) and ``Secure`` on HTTPS. A Secure cookie is named with the
  ``__Host-`` prefix, so neither a plain-HTTP response nor a sibling subdomain can
  plant or overwrite it (cookie tossing); a request carrying the cookie twice is
  anonymous, never "last one wins".
* Its expiry slides forward while the user is active (``ttl``), but never past
  ``max_age`` after sign-in: a stolen cookie kept busy still dies (ASVS V3.3).
* The token is HMAC-signed with ``PYWIRE_SESSION_SECRET`` so forged or truncated
  cookies are refused before any store lookup; cookies signed with a fallback
  secret (``PYWIRE_SESSION_SECRET_FALLBACKS``) are accepted and re-signed, so the
  secret can be rotated without signing everyone out.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pywire_auth._secrets import check_secret, secret_fingerprint
from pywire_auth.exceptions import ConfigurationError, InvalidInputError
from pywire_auth.local.principal import principal_for
from pywire_auth.protocols import SessionStore
from pywire_auth.session_cache import CachedSession, SessionCache
from pywire_auth.types import SessionRecord, UserRecord

__all__ = [
    "SESSION_SECRET_ENV",
    "SESSION_SECRET_FALLBACKS_ENV",
    "SessionConfig",
    "SessionManager",
]

SESSION_SECRET_ENV = "PYWIRE_SESSION_SECRET"  # noqa: S105 - the variable's name
#: Comma-separated older session secrets, still accepted while cookies migrate.
SESSION_SECRET_FALLBACKS_ENV = "PYWIRE_SESSION_SECRET_FALLBACKS"  # noqa: S105 - a name
_TOKEN_BYTES = 32
# Longer Cookie headers are verified every time rather than remembered.
_MEMO_HEADER_CHARS = 4096


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Cookie and lifetime settings of signed-in sessions.

    ``ttl`` is how long an idle session lives; each request more than
    ``refresh_after`` seconds after the last refresh slides it forward again, but
    never past ``max_age`` seconds after sign-in (the absolute lifetime, default 30
    days): then the user signs in again however active they were.

    ``secure=None`` sets the ``Secure`` flag exactly when the request came over
    HTTPS. Behind a proxy that terminates TLS the app sees plain HTTP, so set
    ``secure=True`` there. A Secure cookie is named ``__Host-<cookie_name>``
    (``__Secure-<cookie_name>`` when ``path`` is not ``/``), and only the name a
    request's settings give is read.

    ``cache_ttl`` is how long (seconds) a process may answer from memory for a
    session it looked up, instead of asking the store again; ``0`` turns that off.
    It bounds how late a revocation made elsewhere (another worker, or straight in
    the database) takes effect here; the process that revokes honours it at once.
    ``cache_size`` caps how many sessions one process remembers (least recently
    used go first).

    ``live_check_interval`` is how often (seconds) an open live page (WebSocket)
    checks that its session still exists; it is also checked at the session's
    exact expiry. A page whose session is gone is disconnected and reconnects
    signed out.
    """

    cookie_name: str = "pywire_auth_session"
    ttl: int = 14 * 24 * 3600
    refresh_after: int = 3600
    secure: bool | None = None
    path: str = "/"
    cache_ttl: float = 1.0
    cache_size: int = 4096
    max_age: int = 30 * 24 * 3600
    live_check_interval: float = 30.0

    def __post_init__(self) -> None:
        if self.ttl <= 0 or not 0 <= self.refresh_after < self.ttl:
            raise ConfigurationError("need ttl > 0 and 0 <= refresh_after < ttl")
        if not 0 <= self.cache_ttl < self.ttl or self.cache_size < 1:
            raise ConfigurationError("need 0 <= cache_ttl < ttl and cache_size >= 1")
        if self.max_age <= 0 or self.live_check_interval <= 0:
            raise ConfigurationError("need max_age > 0 and live_check_interval > 0")
        if not self.cookie_name or self.cookie_name.startswith("__"):
            # The __Host-/__Secure- prefixes follow `secure`; they are never set by hand.
            raise ConfigurationError("cookie_name must not be empty or start with '__'")


class SessionManager:
    """Creates, reads, refreshes and ends sessions in a :class:`SessionStore`.

    ``secret`` falls back to ``PYWIRE_SESSION_SECRET`` and ``secret_fallbacks`` to
    the comma-separated ``PYWIRE_SESSION_SECRET_FALLBACKS``; each must pass
    :func:`~pywire_auth._secrets.check_secret`. New cookies are signed with
    ``secret``; a cookie signed with a fallback is still accepted, and re-signed
    with ``secret`` on its next HTTP request.

    ``clock`` (seconds, like :func:`time.time`) decides expiry and the age of cached
    lookups; tests pass a fake one.
    """

    def __init__(
        self,
        store: SessionStore,
        secret: str = "",
        config: SessionConfig | None = None,
        *,
        secret_fallbacks: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = secret or os.environ.get(SESSION_SECRET_ENV, "")
        if not key:
            raise ConfigurationError(
                f"sessions need a secret: set {SESSION_SECRET_ENV} (openssl rand -hex 32) "
                "or pass session_secret=..."
            )
        check_secret(key, "session_secret" if secret else SESSION_SECRET_ENV)
        fallbacks = list(secret_fallbacks)
        if not fallbacks:
            env = os.environ.get(SESSION_SECRET_FALLBACKS_ENV, "")
            fallbacks = [part.strip() for part in env.split(",") if part.strip()]
        for old in fallbacks:
            check_secret(old, SESSION_SECRET_FALLBACKS_ENV)
        self.store = store
        self.config = config or SessionConfig()
        self._keys = [_session_key(k) for k in (key, *fallbacks)]
        self._key = self._keys[0]
        #: One-way tags of every session secret, so ``connect_auth`` can refuse a
        #: secret shared with the token issuer without keeping the secrets around.
        self.secret_fingerprints = frozenset(secret_fingerprint(k) for k in (key, *fallbacks))
        self._clock = clock
        self._cache = SessionCache(self.config.cache_ttl, self.config.cache_size, clock)
        # (cookie name, Cookie header) -> (token, signed with a fallback key).
        self._verified: dict[tuple[str, str], tuple[str, bool]] = {}

    def __repr__(self) -> str:
        return f"SessionManager(store={self.store!r}, cookie={self.config.cookie_name!r})"

    def now(self) -> int:
        """The current time in whole seconds, from the manager's clock."""
        return int(self._clock())

    # Cookies ---------------------------------------------------------------

    def cookie_name_for(self, *, https: bool) -> str:
        """The session cookie's name on a request that came over HTTPS or not.

        A Secure cookie gets the ``__Host-`` prefix (``__Secure-`` for a path other
        than ``/``): browsers accept such a cookie only from a secure origin, with
        ``Secure`` (and for ``__Host-``, ``Path=/`` and no ``Domain``), so a man in
        the middle on plain HTTP or a sibling subdomain cannot plant one.
        """
        name = self.config.cookie_name
        if not self._secure(https):
            return name
        return ("__Host-" if self.config.path == "/" else "__Secure-") + name

    def token_from_cookie_header(self, cookie_header: str, *, https: bool = False) -> str | None:
        """The verified session token in a ``Cookie`` header, or ``None``."""
        found = self.read_cookie(cookie_header, https=https)
        return found[0] if found else None

    def read_cookie(self, cookie_header: str, *, https: bool = False) -> tuple[str, bool] | None:
        """``(token, signed_with_fallback)`` of the session cookie, or ``None``.

        Only the name :meth:`cookie_name_for` gives for this request is read. A
        header carrying that name more than once gives ``None``: which of two
        cookies a browser sends first depends on their paths and ages, and an
        attacker who can set one (from a subdomain, over plain HTTP) must not get
        to choose the session.
        """
        name = self.cookie_name_for(https=https)
        if name not in cookie_header:
            return None
        # A browser sends the same header on request after request: remember the
        # answer for headers that verified. The answer depends on nothing but the
        # header, the name and our keys, so this changes no outcome. Only verified
        # headers are kept, so forged cookies cannot crowd out real ones.
        memo_key = (name, cookie_header)
        found = self._verified.get(memo_key)
        if found is None:
            found = self._verify(cookie_header, name)
            if found is not None and len(cookie_header) <= _MEMO_HEADER_CHARS:
                if len(self._verified) >= self.config.cache_size:
                    del self._verified[next(iter(self._verified))]  # the oldest
                self._verified[memo_key] = found
        return found

    def _verify(self, cookie_header: str, name: str) -> tuple[str, bool] | None:
        # Split as browsers and Starlette do (";"-separated, lenient about odd
        # cookies of other scripts), but count our name instead of keeping the last.
        values = [
            value.strip()
            for key, sep, value in (chunk.partition("=") for chunk in cookie_header.split(";"))
            if sep and key.strip() == name
        ]
        if len(values) != 1:
            return None
        token, _, signature = values[0].partition(".")
        if not token:
            return None
        for index, key in enumerate(self._keys):
            if hmac.compare_digest(signature.encode(), _sign(key, token).encode()):
                return token, index > 0
        return None

    def cookie_header(self, token: str, *, https: bool, max_age: int | None = None) -> str:
        """The ``Set-Cookie`` value that stores ``token`` in the browser.

        ``max_age`` defaults to a new session's lifetime, ``min(ttl, max_age)``;
        pass the seconds an existing session has left when sending it again.
        """
        if max_age is None:
            max_age = min(self.config.ttl, self.config.max_age)
        return self._cookie(f"{token}.{_sign(self._key, token)}", max(max_age, 0), https)

    def clear_cookie_header(self, *, https: bool) -> str:
        """The ``Set-Cookie`` value that deletes the session cookie."""
        return self._cookie("", 0, https)

    def _secure(self, https: bool) -> bool:
        return https if self.config.secure is None else self.config.secure

    def _cookie(self, value: str, max_age: int, https: bool) -> str:
        parts = [
            f"{self.cookie_name_for(https=https)}={value}",
            f"Path={self.config.path}",
            f"Max-Age={max_age}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if self._secure(https):
            parts.append("Secure")
        return "; ".join(parts)

    def derive_key(self, purpose: str) -> bytes:
        """A key for another cookie's signatures, derived from the session secret.

        A NUL byte can never occur in a session token, so no derived key is the
        signature of one, and each ``purpose`` gets an unrelated key.
        """
        return hmac.new(self._key, b"derive\x00" + purpose.encode(), hashlib.sha256).digest()

    # Lifetimes -------------------------------------------------------------

    def absolute_expiry(self, record: SessionRecord) -> int:
        """When the session ends however active it is: ``created_at + max_age``."""
        return record.created_at + self.config.max_age

    def ends_at(self, record: SessionRecord) -> int:
        """When the session ends unless refreshed: its idle or absolute expiry, the earlier."""
        return min(record.expires_at, self.absolute_expiry(record))

    def is_live(self, record: SessionRecord) -> bool:
        """Whether the session is past neither its idle expiry nor its absolute lifetime."""
        return self.ends_at(record) > self.now()

    def seconds_until(self, moment: float) -> float:
        """Seconds from now (on the manager's clock) until ``moment``; negative if past."""
        return moment - self._clock()

    def next_expiry(self, record: SessionRecord) -> int:
        """The expiry a refresh now gives: ``now + ttl``, capped by the absolute lifetime."""
        return min(self.now() + self.config.ttl, self.absolute_expiry(record))

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
        ``expires_at`` or its absolute lifetime (``created_at + max_age``) is
        refused either way, and deleted from the store.
        """
        session_id = self.session_id(token)
        cache = self._cache
        cached = cache.get(session_id)
        if cached is not None:
            if self.is_live(cached.record):
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
        if not self.is_live(record):
            await self.store.delete_session(session_id)
            return None
        if user.disabled:
            # Disabling ends the user's sessions; one created in a race with it
            # (a sign-in that read the user just before) must not outlive it.
            return None
        entry = CachedSession(record, user, principal_for(user))
        cache.put(entry, read_at=read_at, generation=generation)
        return entry

    def needs_refresh(self, record: SessionRecord) -> bool:
        """Whether the session's expiry should slide forward on this request.

        Never once it has reached the absolute lifetime: there is nowhere to slide.
        """
        if record.expires_at >= self.absolute_expiry(record):
            return False
        last_refresh = record.expires_at - self.config.ttl
        return self.now() - last_refresh >= self.config.refresh_after

    async def refresh(self, record: SessionRecord) -> bool:
        """Slide the expiry to :meth:`next_expiry`; ``False`` if the session ended meanwhile."""
        return await self.slide(record) is not None

    async def slide(self, record: SessionRecord) -> int | None:
        """Like :meth:`refresh`, returning the new expiry (``None``: the session is gone)."""
        expires_at = self.next_expiry(record)
        try:
            touched = await self.store.touch_session(record.session_id, expires_at)
        finally:
            self._cache.forget_session(record.session_id)
        return expires_at if touched else None

    async def start(self, user_id: str, *, replacing: str | None = None) -> str:
        """Begin a session for ``user_id`` and return its new token.

        ``replacing`` is the token the browser had before; that session is deleted
        so the pre-sign-in id can never be used again.
        """
        if replacing:
            await self.end(replacing)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = self.now()
        expires_at = now + min(self.config.ttl, self.config.max_age)
        await self.store.create_session(
            SessionRecord(self.session_id(token), user_id, now, expires_at)
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

    async def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of ``user_id`` in every browser, except ``keep`` (a token)."""
        keep_id = self.session_id(keep) if keep else None
        try:
            return await self.store.delete_user_sessions(user_id, keep=keep_id)
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


def _session_key(secret: str) -> bytes:
    return hashlib.sha256(b"pywire-auth session\x00" + secret.encode()).digest()


def _sign(key: bytes, token: str) -> str:
    # hmac.digest is the one-shot C path: the same MAC as hmac.new(...).hexdigest()
    # at a fraction of the cost, which every signed-in request pays.
    return hmac.digest(key, token.encode(), "sha256").hex()[:32]
