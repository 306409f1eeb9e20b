"""The online breached-password check: Have I Been Pwned's range API, k-anonymity.

Only the first 5 hex characters of the password's SHA-1 leave the server; the API
answers with every known hash suffix under that prefix (with ``Add-Padding: true``,
padded with fake zero-count entries so the answer's size tells nothing either), and
the match is made here. The check fails open: a slow, down or odd answer skips it
(logged once per outage), so an HIBP outage never blocks sign-ups.

Needs the ``hibp`` extra (httpx): ``pip install 'pywire-auth[hibp]'``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("PwnedPasswords needs httpx: pip install 'pywire-auth[hibp]'") from exc

__all__ = ["PwnedPasswords"]

logger = logging.getLogger("pywire_auth.pwned")

HIBP_RANGE_URL = "https://api.pwnedpasswords.com/range/"


class PwnedPasswords:
    """Asks Have I Been Pwned whether a password appears in a known breach.

    >>> policy_check = PwnedPasswords(timeout=2.0)  # then PasswordPolicy(breach_check=...)

    ``timeout`` bounds the whole look-up in seconds; ``min_count`` is how many
    sightings make a password breached; ``url`` may point at a self-hosted mirror of
    the range API; ``transport`` is any httpx transport (tests use
    ``httpx.MockTransport``).
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        min_count: int = 1,
        url: str = HIBP_RANGE_URL,
        user_agent: str = "pywire-auth",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if timeout <= 0 or min_count < 1:
            raise ValueError("need timeout > 0 and min_count >= 1")
        self.timeout = timeout
        self.min_count = min_count
        self.url = url
        self.user_agent = user_agent
        self._transport = transport
        self._failing = False

    def __repr__(self) -> str:
        return f"PwnedPasswords(url={self.url!r}, timeout={self.timeout})"

    async def is_breached(self, password: str) -> bool | None:
        """``True`` if breached, ``False`` if not, ``None`` if HIBP could not answer."""
        digest = hashlib.sha1(password.encode("utf-8")).hexdigest().upper()  # noqa: S324 - HIBP's format
        prefix, suffix = digest[:5], digest[5:]
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._fetch(prefix)
            count = _count(body, suffix)
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            self._report(exc)
            return None
        self._failing = False
        return count >= self.min_count

    async def _fetch(self, prefix: str) -> str:
        async with httpx.AsyncClient(
            transport=self._transport,
            timeout=self.timeout,
            follow_redirects=False,
            headers={"Add-Padding": "true", "User-Agent": self.user_agent},
        ) as client:
            response = await client.get(self.url + prefix)
            response.raise_for_status()  # any non-2xx, redirects included
            return response.text

    def _report(self, exc: BaseException) -> None:
        # Once per outage, not once per sign-up: a flood of identical warnings
        # would bury everything else in the log.
        if not self._failing:
            self._failing = True
            logger.warning(
                "Have I Been Pwned check skipped (%s); accepting passwords unchecked "
                "until it answers again",
                type(exc).__name__,
            )


def _count(body: str, suffix: str) -> int:
    # Lines are "SUFFIX:COUNT" (35 hex digits); padding lines have count 0. A body
    # with no such line is not an answer from the range API.
    found = 0
    valid = False
    for line in body.splitlines():
        hash_suffix, sep, count = line.strip().partition(":")
        if not sep or len(hash_suffix) != 35 or not count.isdigit():
            continue
        valid = True
        if hash_suffix.upper() == suffix:
            found = int(count)
    if not valid:
        raise ValueError("not a Pwned Passwords range answer")
    return found
