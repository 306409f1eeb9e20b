"""The pending external login: started by ``/login``, finished once by ``/callback``.

Nothing is stored server-side until the callback, so the callback may land on
any worker process or machine that shares the session secret:

* The browser gets one signed, HttpOnly cookie holding the provider name, the
  ``state``, a random ``binding`` value, the ``next`` path and an expiry. A
  callback without that cookie (another browser: login CSRF, where an attacker
  makes a victim's browser finish the attacker's login) or with another
  ``state`` signs no one in.
* The PKCE verifier and the ``nonce`` are derived from the binding with a key
  only the server has, so the verifier never leaves the server except to the
  provider's token endpoint, and a cookie cannot be paired with another
  login's nonce.
* Single use: the callback clears the cookie, and burns the state in the
  shared throttle (Redis, the SQL store or memory: ``limit=1`` for the
  pending login's lifetime), so a replayed callback with a copied cookie
  fails on every worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pywire_auth.exceptions import ProviderError
from pywire_auth.protocols import Throttle

__all__ = ["PENDING_TTL", "PendingLogin", "PendingLogins"]

#: How long a user may spend at the provider (seconds); the issue caps it at 10 minutes.
PENDING_TTL = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """One login in flight, as read back from its cookie."""

    provider: str
    state: str
    binding: str
    next: str
    expires_at: int
    #: For ``/link``: the stored id of the signed-in user the identity is for.
    link_user: str = ""


class PendingLogins:
    """Makes and checks pending-login cookies for the provider routes."""

    def __init__(
        self,
        key: bytes,
        *,
        throttle: Throttle,
        cookie_name: str = "pywire_auth_oidc",
        path: str = "/auth",
        secure: bool | None = None,
        ttl: int = PENDING_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._throttle = throttle
        self.cookie_name = cookie_name
        self.path = path
        self.secure = secure
        self.ttl = min(ttl, PENDING_TTL)
        self._clock = clock

    def _mac(self, purpose: str, data: str) -> bytes:
        return hmac.digest(self._key, purpose.encode() + b"\x00" + data.encode(), "sha256")

    def nonce(self, pending: PendingLogin) -> str:
        """The ``nonce`` sent to the provider for this login."""
        return _b64(self._mac("nonce", pending.binding))

    def code_verifier(self, pending: PendingLogin) -> str:
        """The PKCE verifier (43 characters of base64url, RFC 7636 section 4.1)."""
        return _b64(self._mac("pkce", pending.binding))

    def code_challenge(self, pending: PendingLogin) -> str:
        """``S256`` of the verifier."""
        return _b64(hashlib.sha256(self.code_verifier(pending).encode()).digest())

    def start(
        self, provider: str, next_path: str, *, link_user: str = ""
    ) -> tuple[PendingLogin, str]:
        """A new pending login and the cookie value that holds it.

        ``link_user`` makes it a pending *link* of the provider to that user.
        """
        pending = PendingLogin(
            provider=provider,
            state=secrets.token_urlsafe(32),
            binding=secrets.token_urlsafe(32),
            next=next_path,
            expires_at=int(self._clock()) + self.ttl,
            link_user=link_user,
        )
        fields = [
            pending.provider,
            pending.state,
            pending.binding,
            pending.next,
            pending.expires_at,
            pending.link_user,
        ]
        body = _b64(json.dumps(fields).encode())
        return pending, f"{body}.{_b64(self._mac('cookie', body))}"

    def cookie(self, value: str, *, https: bool) -> str:
        """The ``Set-Cookie`` header for ``value`` (empty: delete the cookie)."""
        secure = https if self.secure is None else self.secure
        # SameSite=Lax: sent on the provider's top-level GET redirect back to us,
        # never on a cross-site POST or subresource.
        parts = [
            f"{self.cookie_name}={value}",
            f"Path={self.path}",
            f"Max-Age={self.ttl if value else 0}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    def read(self, value: str | None, provider: str, state: str | None) -> PendingLogin:
        """The pending login in ``value`` if it is ours, fresh, for ``provider`` and ``state``."""
        if not value or "." not in value:
            raise ProviderError("no pending login in this browser")
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac.encode(), _b64(self._mac("cookie", body)).encode()):
            raise ProviderError("pending login cookie has a bad signature")
        try:
            fields = json.loads(_unb64(body))
            pending = PendingLogin(*fields)
        except (ValueError, TypeError) as exc:
            raise ProviderError("pending login cookie is malformed") from exc
        if pending.provider != provider:
            raise ProviderError("pending login is for another provider")
        if pending.expires_at < self._clock():
            raise ProviderError("pending login expired")
        if not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise ProviderError("state does not match this browser's pending login")
        return pending

    async def burn(self, pending: PendingLogin) -> None:
        """Mark the login used, for every worker; raise if it already was (replay)."""
        key = "oidc-state:" + hashlib.sha256(pending.state.encode()).hexdigest()
        if not await self._throttle.hit(key, limit=1, window=self.ttl):
            raise ProviderError("pending login was already used")
