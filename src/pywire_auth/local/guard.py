"""Who may try a password now: the sign-in and sign-up counters, before any hashing.

The order of the counters is the defence; each refusal stops the attempt before
the next counter is touched (see :class:`~pywire_auth.ThrottlePolicy`):

1. the client address (grouped by IPv6 prefix): an address over its limit can no
   longer push anyone's account toward lockout, so locking accounts costs
   addresses, not requests;
2. a valid device cookie for the email: the owner's browser counts on its own
   key and is never locked out by strangers' guesses;
3. distinct emails per address: password spraying;
4. the account: guesses at one email from everywhere.

Every counted key is given back if the server could not decide the attempt
(store down, hashing overloaded). A successful sign-in gives back its own
counts and nothing else: in particular it never resets the address counter, or
a guesser could clear their address by signing in to their own account between
guesses.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pywire_auth._client_address import AddressResolver, group_key
from pywire_auth.exceptions import (
    AuthError,
    ConfigurationError,
    InvalidEmailError,
    StoreUnavailableError,
    ThrottledError,
)
from pywire_auth.local.device import DeviceCookies
from pywire_auth.local.normalize import normalize_email
from pywire_auth.protocols import Throttle
from pywire_auth.throttles.policy import RateLimit, ThrottlePolicy

__all__ = ["Admission", "SignInGuard", "account_of"]

logger = logging.getLogger("pywire_auth.guard")


class Admission:
    """The counts one attempt took, to give back if it is undecided or succeeds."""

    def __init__(self, throttle: Throttle | None) -> None:
        self._throttle = throttle
        self._counted: list[str] = []
        self._refund_on_success: list[str] = []

    async def count(self, key: str, rate: RateLimit, *, refund_on_success: bool) -> bool:
        """Hit ``key`` under ``rate``; ``ThrottledError`` if it is over the limit."""
        if self._throttle is None:
            return True
        allowed = await self._throttle.hit(key, limit=rate.limit, window=rate.window)
        self._counted.append(key)
        if refund_on_success:
            self._refund_on_success.append(key)
        if not allowed:
            raise ThrottledError("too many attempts")
        return True

    async def first_sighting(self, key: str, window: int) -> bool:
        """Whether ``key`` is new in its window (counted: given back like the others)."""
        if self._throttle is None:
            return False
        if not await self._throttle.hit(key, limit=1, window=window):
            return False
        self._counted.append(key)
        self._refund_on_success.append(key)
        return True

    async def give_back(self, key: str) -> None:
        """Return one count of ``key`` now (it must not stay counted)."""
        if self._throttle is not None and key in self._counted:
            self._counted.remove(key)
            if key in self._refund_on_success:
                self._refund_on_success.remove(key)
            await self._throttle.undo(key)

    @asynccontextmanager
    async def refund_if_undecided(self) -> AsyncIterator[None]:
        """Give every count back if the attempt ends undecided (an outage, an overload)."""
        try:
            yield
        except (StoreUnavailableError, ThrottledError):
            # An attempt the server could not decide was no guess at all: it must
            # not push the user toward "throttled".
            if self._throttle is not None:
                for key in self._counted:
                    await self._throttle.undo(key)
            raise

    async def succeeded(self) -> None:
        """Give back the counts a successful sign-in does not owe; never reset anything."""
        if self._throttle is None:
            return
        try:
            for key in self._refund_on_success:
                await self._throttle.undo(key)
        except StoreUnavailableError:
            # The user is signed in already; a lost refund only costs them one count.
            logger.warning("throttle refund after a sign-in failed: store unavailable")


class SignInGuard:
    """Applies a :class:`ThrottlePolicy` with one :class:`Throttle` to the local routes."""

    def __init__(
        self, throttle: Throttle | None, policy: ThrottlePolicy, devices: DeviceCookies | None
    ) -> None:
        if throttle is not None:
            _check_hit_signature(throttle)
        self.throttle = throttle
        self.policy = policy
        self.devices = devices
        self._addresses = AddressResolver(policy.client_address)

    def address(self, scope: Any) -> str:
        """The throttle key of the request's client address."""
        return group_key(self._addresses.client(scope), self.policy.ipv6_prefix)

    async def admit_login(self, scope: Any, cookie_header: str, email: str) -> Admission:
        """Count one sign-in attempt at ``email``; ``ThrottledError`` if it must not go ahead."""
        admission = Admission(self.throttle)
        if self.throttle is None:
            return admission
        policy = self.policy
        address = self.address(scope)
        await admission.count(
            f"login:address:{address}", policy.failures_per_address, refund_on_success=True
        )
        account = account_of(email)
        device = self.devices.read(cookie_header) if self.devices is not None else None
        if device is not None and self.devices is not None and self.devices.names(device, account):
            await admission.count(
                f"login:device:{device.nonce}", policy.failures_per_device, refund_on_success=True
            )
            return admission
        account_id = _digest(account)
        tried = f"login:tried:{address}:{account_id}"
        if await admission.first_sighting(tried, policy.emails_per_address.window):
            try:
                await admission.count(
                    f"login:emails:{address}", policy.emails_per_address, refund_on_success=True
                )
            except ThrottledError:
                # Still untried: asking again must count again, not slip past as "seen".
                await admission.give_back(tried)
                raise
        await admission.count(
            f"login:account:{account_id}", policy.failures_per_account, refund_on_success=True
        )
        return admission

    async def admit_registration(self, scope: Any) -> Admission:
        """Count one sign-up from this address; ``ThrottledError`` if over the limit."""
        admission = Admission(self.throttle)
        await admission.count(
            f"register:address:{self.address(scope)}",
            self.policy.registrations_per_address,
            refund_on_success=False,
        )
        return admission

    def device_cookie(self, email: str, *, https: bool) -> str | None:
        """The ``Set-Cookie`` that makes this browser a known device of ``email``."""
        if self.devices is None or self.throttle is None:
            return None
        return self.devices.issue(account_of(email), https=https)


def account_of(email: str) -> str:
    """The account an email names, whatever its spelling (the normalized address)."""
    try:
        return normalize_email(email)
    except InvalidEmailError:
        return email.strip().lower()[:254]
    except AuthError:
        return ""


def _digest(account: str) -> str:
    # Keys never carry an email (Redis and logs see them); 128 bits stay unique.
    return hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _check_hit_signature(throttle: Throttle) -> None:
    # Throttles written for pywire-auth < 0.5 take hit(key) only; calling them with
    # a limit would fail on every sign-in. Refuse them at start-up instead.
    try:
        parameters = inspect.signature(throttle.hit).parameters
    except (TypeError, ValueError):
        return
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not accepts_any and not {"limit", "window"} <= parameters.keys():
        raise ConfigurationError(
            f"{type(throttle).__name__}.hit must accept limit= and window= keywords: "
            "a throttle only counts, and the numbers come from "
            "connect_auth(throttle_policy=ThrottlePolicy(...)) (docs/web.md#throttling); "
            "or pass throttle=MemoryThrottle(), SQLAlchemyThrottle(store) or RedisThrottle(url)"
        )
