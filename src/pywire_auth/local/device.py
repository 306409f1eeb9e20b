"""Device cookies: a browser that signed in to an account keeps its own attempt budget.

OWASP's answer to lockout as a weapon ("Slow Down Online Guessing Attacks with
Device Cookies"): an attacker guessing an account's password drives its
per-account counter over the limit, which would lock the owner out too. A
browser that signed in successfully as that account got a device cookie; its
attempts at that account count against its own key instead, which the
attacker cannot touch without the cookie.

The cookie is ``<account tag>.<nonce>.<signature>``: the tag is an HMAC of the
normalized email (the cookie names the account without showing the address),
the nonce names the device, and the signature (HMAC with a key derived from
``PYWIRE_SESSION_SECRET``) makes it unforgeable. It is ``HttpOnly``,
``SameSite=Strict`` and sent only to the login route.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import cookie_parser

__all__ = ["DEVICE_COOKIE", "Device", "DeviceCookies"]

DEVICE_COOKIE = "pywire_auth_device"
_TAG_HEX = 32
_NONCE_HEX = 32
_SIGNATURE_HEX = 32
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Device:
    """A verified device cookie: which account it names and which browser it is."""

    account_tag: str
    nonce: str


class DeviceCookies:
    """Issues and verifies device cookies with one secret key."""

    def __init__(self, key: bytes, *, path: str, ttl: int, secure: bool | None = None) -> None:
        self._key = key
        self.path = path
        self.ttl = ttl
        self.secure = secure

    def __repr__(self) -> str:
        return f"DeviceCookies(path={self.path!r}, ttl={self.ttl})"

    def account_tag(self, account: str) -> str:
        """The cookie's name for an account (a normalized email)."""
        return self._mac(b"account\x00" + account.encode("utf-8", "surrogatepass"))[:_TAG_HEX]

    def issue(self, account: str, *, https: bool) -> str:
        """A ``Set-Cookie`` value naming ``account`` for a new device nonce."""
        tag, nonce = self.account_tag(account), secrets.token_hex(_NONCE_HEX // 2)
        value = f"{tag}.{nonce}.{self._sign(tag, nonce)}"
        parts = [
            f"{DEVICE_COOKIE}={value}",
            f"Path={self.path}",
            f"Max-Age={self.ttl}",
            "HttpOnly",
            # Only the login form of this site ever needs it.
            "SameSite=Strict",
        ]
        if https if self.secure is None else self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def read(self, cookie_header: str) -> Device | None:
        """The verified device cookie in a ``Cookie`` header, or ``None``."""
        if DEVICE_COOKIE not in cookie_header:
            return None
        value = cookie_parser(cookie_header).get(DEVICE_COOKIE, "")
        parts = value.split(".")
        if len(parts) != 3:
            return None
        tag, nonce, signature = parts
        if (
            len(tag) != _TAG_HEX
            or len(nonce) != _NONCE_HEX
            or len(signature) != _SIGNATURE_HEX
            or not set(tag + nonce + signature) <= _HEX
        ):
            return None
        if not hmac.compare_digest(signature, self._sign(tag, nonce)):
            return None
        return Device(account_tag=tag, nonce=nonce)

    def names(self, device: Device, account: str) -> bool:
        """Whether ``device`` was issued for ``account``."""
        return hmac.compare_digest(device.account_tag, self.account_tag(account))

    def _sign(self, tag: str, nonce: str) -> str:
        return self._mac(f"device\x00{tag}.{nonce}".encode())[:_SIGNATURE_HEX]

    def _mac(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
