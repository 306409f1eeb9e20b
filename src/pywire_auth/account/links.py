"""The tokens in mailed links: stateless, single-use, expiring, bound to one account.

A token is ``<user id>.<expiry>.<mac>``, or ``<user id>.<data>.<expiry>.<mac>`` when
it carries a value (the new address of an email change), base64url where needed.
The MAC is an HMAC-SHA256, under a key derived from the session secret, over the
purpose, the user id, the data, the expiry and a *fingerprint of the account's
current state*:

* reset links: the current password hash. Using the link changes the hash, so
  the link works once; any other password change kills every outstanding link.
* verification links: the current email and whether it is verified. Verifying
  kills the link; an email change kills every link for the old address.

Nothing is stored, so a leaked database yields no usable link (the key is not
in it), and the MAC binds the user id, so a link for one user cannot act on
another. Expiry is checked only after the MAC, so ``token_expired`` is never
said about a forged token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from pywire_auth.exceptions import LinkExpiredError, LinkTokenError

__all__ = ["LinkToken", "LinkTokens"]

# Longer input is refused before any decoding (a link is about 130 characters).
_MAX_TOKEN_CHARS = 512


@dataclass(frozen=True, slots=True)
class LinkToken:
    """What a token claims before it is checked against the account: user and expiry."""

    user_id: str
    expires_at: int
    mac: bytes
    #: The value the token carries (``""`` for none), covered by the MAC.
    data: str = ""


class LinkTokens:
    """Issues and checks link tokens with one key.

    >>> tokens = LinkTokens(b"k" * 32, clock=lambda: 1000.0)
    >>> t = tokens.issue("reset", "user-1", state="hash-1", ttl=60)
    >>> tokens.check("reset", t, state_of=lambda uid: "hash-1")
    'user-1'
    >>> tokens.check("reset", t, state_of=lambda uid: "hash-2")
    Traceback (most recent call last):
    ...
    pywire_auth.exceptions.LinkTokenError: this link is invalid or was already used
    """

    def __init__(self, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock

    def issue(self, purpose: str, user_id: str, *, state: str, ttl: int, data: str = "") -> str:
        """A token for ``purpose`` that is good for ``ttl`` seconds while ``state`` holds."""
        expires_at = int(self._clock()) + ttl
        mac = self._mac(purpose, user_id, data, expires_at, state)
        carried = f"{_b64(data.encode())}." if data else ""
        return f"{_b64(user_id.encode())}.{carried}{expires_at}.{_b64(mac)}"

    @staticmethod
    def parse(token: str) -> LinkToken:
        """Split a token; ``LinkTokenError`` if it is malformed (nothing is verified yet)."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            raise LinkTokenError("this link is invalid or was already used")
        parts = token.split(".")
        if len(parts) not in (3, 4) or not parts[-2].isdigit():
            raise LinkTokenError("this link is invalid or was already used")
        try:
            user_id = _unb64(parts[0]).decode("utf-8")
            data = _unb64(parts[1]).decode("utf-8") if len(parts) == 4 else ""
            mac = _unb64(parts[-1])
        except (binascii.Error, ValueError) as exc:
            raise LinkTokenError("this link is invalid or was already used") from exc
        if "\x00" in user_id or "\x00" in data:  # the MAC's field separator
            raise LinkTokenError("this link is invalid or was already used")
        return LinkToken(user_id, int(parts[-2]), mac, data)

    def verify(self, purpose: str, token: LinkToken, state: str | None) -> None:
        """Check a parsed token against the account's current ``state``.

        ``state=None`` (the user is gone, or has no password to reset) always fails.
        Raises :class:`LinkTokenError`, or :class:`LinkExpiredError` for a genuine
        token past its expiry.
        """
        expected = self._mac(purpose, token.user_id, token.data, token.expires_at, state or "")
        # compare_digest: a byte-by-byte compare would leak the MAC through timing.
        if state is None or not hmac.compare_digest(expected, token.mac):
            raise LinkTokenError("this link is invalid or was already used")
        if self._clock() >= token.expires_at:
            raise LinkExpiredError("this link has expired")

    def check(self, purpose: str, token: str, *, state_of: Callable[[str], str | None]) -> str:
        """Parse and verify in one step with a synchronous state lookup; the user id."""
        parsed = self.parse(token)
        self.verify(purpose, parsed, state_of(parsed.user_id))
        return parsed.user_id

    def _mac(self, purpose: str, user_id: str, data: str, expires_at: int, state: str) -> bytes:
        # NUL separators: no field may contain one, so no two inputs collide.
        # The state goes in as its digest, so a long hash costs nothing extra.
        fingerprint = hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()
        message = "\x00".join([purpose, user_id, data, str(expires_at), fingerprint])
        return hmac.digest(self._key, message.encode("utf-8", "surrogatepass"), "sha256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
