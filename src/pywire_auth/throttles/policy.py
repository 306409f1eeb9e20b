"""The numbers of sign-in throttling and where the client address comes from.

Plain frozen settings, passed as ``connect_auth(..., throttle_policy=...)``; the
counting itself is done by a :class:`~pywire_auth.Throttle`, the decisions by
``local/guard.py``. Every default is listed, with its reason, in SECURITY.md.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Literal

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.throttles._rules import check_rule

__all__ = ["ClientAddress", "RateLimit", "ThrottlePolicy"]

#: The socket peer may be a Unix socket (no address): name it so in ``trusted_proxies``.
UNIX_SOCKET = "unix"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` attempts per key in each fixed window of ``window`` seconds.

    >>> RateLimit(20, 900).most_in_any(3600)  # worst case over any rolling hour
    100
    """

    limit: int
    window: int

    def __post_init__(self) -> None:
        try:
            check_rule(self.limit, self.window)
        except ValueError as err:
            raise ConfigurationError(f"RateLimit: {err}") from err

    def most_in_any(self, seconds: int) -> int:
        """The most attempts fixed windows let through in any span of ``seconds``.

        A span can touch ``ceil(seconds / window) + 1`` windows (it may start just
        before one ends), each allowing ``limit``.
        """
        return self.limit * (math.ceil(seconds / self.window) + 1)


@dataclass(frozen=True, slots=True)
class ClientAddress:
    """Where the client address of a request comes from.

    By default it is the socket peer only: forwarding headers are ignored, since
    anyone can send them. Behind a reverse proxy, list the proxy's addresses or
    networks in ``trusted_proxies`` (``"unix"`` for a proxy on a Unix socket) and
    name the ``header`` it sets. When the peer is trusted, the header's entries
    are read from the right, skipping trusted proxies; the first other address
    is the client. Servers that rewrite the peer themselves (uvicorn's
    ``--proxy-headers``, on by default for loopback peers) are detected and
    cannot widen this trust; see "Client address" in docs/web.md.

    >>> ClientAddress(trusted_proxies=("10.0.0.0/8",), header="forwarded").header
    'forwarded'
    """

    trusted_proxies: tuple[str, ...] = ()
    header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"

    def __post_init__(self) -> None:
        if isinstance(self.trusted_proxies, str):
            raise ConfigurationError("trusted_proxies must be a tuple of addresses or networks")
        for proxy in self.trusted_proxies:
            if proxy == UNIX_SOCKET:
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as err:
                raise ConfigurationError(f"trusted_proxies: {proxy!r} is no address") from err
        if self.header not in ("x-forwarded-for", "forwarded"):
            raise ConfigurationError('header must be "x-forwarded-for" or "forwarded"')


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many sign-in and sign-up attempts ``connect_auth`` lets through.

    Sign-ins are counted in this order, and a refused count stops the attempt
    before any password hashing and before any later counter is touched:

    1. ``failures_per_address``: attempts per client address (IPv6: per
       ``/ipv6_prefix`` network). A successful sign-in gives its attempt back,
       so many users behind one address (an office) can all sign in, but it
       never clears the failures before it.
    2. A browser with a device cookie for the email (set on each successful
       sign-in or sign-up) counts against ``failures_per_device`` instead of
       steps 3 and 4, so guessers cannot lock the owner out.
    3. ``emails_per_address``: distinct emails one address may try (password
       spraying).
    4. ``failures_per_account``: attempts per email, from anywhere. The default
       lets through at most 100 in any rolling hour (OWASP ASVS 2.2.1).

    Sign-ups count ``registrations_per_address``, successful or not. External
    sign-in callbacks count ``callbacks_per_address`` (a successful sign-in gives
    its count back, as with passwords).

    >>> ThrottlePolicy().failures_per_account.most_in_any(3600)
    100
    >>> strict = ThrottlePolicy(failures_per_address=RateLimit(10, 600))
    """

    failures_per_address: RateLimit = RateLimit(30, 300)
    emails_per_address: RateLimit = RateLimit(20, 3600)
    failures_per_account: RateLimit = RateLimit(20, 900)
    failures_per_device: RateLimit = RateLimit(10, 900)
    registrations_per_address: RateLimit = RateLimit(20, 3600)
    callbacks_per_address: RateLimit = RateLimit(30, 300)
    ipv6_prefix: int = 64
    client_address: ClientAddress = ClientAddress()
    #: How long a device cookie is honoured, in seconds; 0 issues none.
    device_cookie_ttl: int = 180 * 24 * 3600

    @classmethod
    def from_rule(cls, rule: RateLimit) -> ThrottlePolicy:
        """The policy of pywire-auth < 0.5's single ``MemoryThrottle(limit=, window=)``.

        That one rule counted sign-in attempts per address and per email, and
        sign-ups per address; so it does here. Counters it did not know
        (distinct emails per address, device cookies) keep their defaults.

        >>> ThrottlePolicy.from_rule(RateLimit(5, 60)).failures_per_account
        RateLimit(limit=5, window=60)
        """
        return cls(
            failures_per_address=rule,
            failures_per_account=rule,
            registrations_per_address=rule,
        )

    def __post_init__(self) -> None:
        if not 0 < self.ipv6_prefix <= 128:
            raise ConfigurationError("ipv6_prefix must be between 1 and 128")
        if self.device_cookie_ttl < 0:
            raise ConfigurationError("device_cookie_ttl must not be negative")
