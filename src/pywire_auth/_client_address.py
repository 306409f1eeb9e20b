"""The client address of a request, and the throttle key that groups it.

Read from the raw ASGI scope under the rules of :class:`ClientAddress`, never
from what a server or middleware decided before us: an address taken from a
forwarding header anyone can send would let a guesser pick a fresh throttle
key for every attempt.

One server does decide before us: uvicorn (``--proxy-headers``, on by default)
replaces ``scope["client"]`` with an ``X-Forwarded-For`` entry when the peer is
in ``FORWARDED_ALLOW_IPS`` (default ``127.0.0.1,::1``). The real peer is then
lost, but the rewrite shows: ``client`` equals one entry, host and port (0 when
the entry has none; a real socket peer never has port 0). Such a request is
only believed as far as our own rules go:

* with ``header="x-forwarded-for"``, trusted proxies, and only trusted entries to
  the right of that one, it is as if that entry were the peer (uvicorn walked
  the same list from the right, skipping proxies we trust too);
* otherwise the real peer is unknown and every such request shares one key,
  ``unverified-proxy`` (logged once): as if the peer were the unnamed proxy.

A client faking the rewrite (sending its own address and port) gains nothing:
the entry taken as peer is then its own, untrusted address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pywire_auth.throttles.policy import UNIX_SOCKET, ClientAddress

__all__ = ["UNVERIFIED", "AddressResolver", "group_key"]

logger = logging.getLogger("pywire_auth.client_address")

#: The key of requests whose peer a server rewrote beyond what we trust.
UNVERIFIED = "unverified-proxy"

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressResolver:
    """Turns an ASGI scope into the client address under one :class:`ClientAddress`."""

    def __init__(self, settings: ClientAddress) -> None:
        self.settings = settings
        self._trust_unix = UNIX_SOCKET in settings.trusted_proxies
        self._networks = [
            ipaddress.ip_network(proxy, strict=False)
            for proxy in settings.trusted_proxies
            if proxy != UNIX_SOCKET
        ]
        self._warned = False

    def client(self, scope: Any) -> str:
        """The client address (an IP in canonical form), ``unix``, or :data:`UNVERIFIED`."""
        raw = scope.get("client")
        peer = _host_port(raw[0], raw[1]) if raw else (UNIX_SOCKET, 0)
        headers = _header_values(scope.get("headers") or ())
        forwarded_for = [_parse_entry(e) for e in _split(headers.get("x-forwarded-for", []))]
        chain: Sequence[str]
        rewritten = _rightmost(forwarded_for, peer)
        if rewritten is not None:
            if not self._believe_rewrite(forwarded_for, rewritten):
                self._warn_once()
                return UNVERIFIED
            chain = [host for host, _ in forwarded_for[:rewritten]]
        elif self.settings.header == "forwarded":
            chain = _forwarded_for(headers.get("forwarded", []))
        else:
            chain = [host for host, _ in forwarded_for]
        current = peer[0]
        if not self._trusted(current):
            return current
        for entry in reversed(chain):
            if entry == UNIX_SOCKET or _ip(entry) is None:
                # "unknown", an obfuscated name or garbage: the last trusted hop
                # is as close to the client as we can tell.
                return current
            if not self._trusted(entry):
                return entry
            current = entry
        return current

    def _believe_rewrite(self, entries: list[tuple[str, int]], index: int) -> bool:
        return (
            self.settings.header == "x-forwarded-for"
            and bool(self.settings.trusted_proxies)
            and all(self._trusted(host) for host, _ in entries[index + 1 :])
        )

    def _trusted(self, host: str) -> bool:
        if host == UNIX_SOCKET:
            return self._trust_unix
        ip = _ip(host)
        return ip is not None and any(ip in net for net in self._networks)

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "the server replaced the client address from X-Forwarded-For beyond the "
                "proxies pywire-auth trusts; such requests share one throttle key. Set "
                "ThrottlePolicy(client_address=ClientAddress(trusted_proxies=...)) to your "
                "proxies, and FORWARDED_ALLOW_IPS to the same (see docs/web.md)"
            )


def group_key(address: str, ipv6_prefix: int) -> str:
    """The throttle key of an address: IPv4 as is, IPv6 by its ``/ipv6_prefix`` network.

    One IPv6 customer usually holds a whole /64 (often /56 or /48): counting per
    address would give each guesser 2**64 fresh keys.

    >>> group_key("2001:db8:1:2:aaaa::1", 64)
    '2001:db8:1:2::/64'
    >>> group_key("::ffff:192.0.2.7", 64)
    '192.0.2.7'
    """
    ip = _ip(address)
    if ip is None:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


def _ip(host: str) -> _IP | None:
    try:
        ip = ipaddress.ip_address(host.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id:
            return ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    return ip


def _canonical(host: str) -> str:
    ip = _ip(host)
    return str(ip) if ip is not None else host


def _host_port(host: object, port: object) -> tuple[str, int]:
    return _canonical(str(host)), port if isinstance(port, int) else 0


def _header_values(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    wanted = {b"x-forwarded-for", b"forwarded"}
    found: dict[str, list[str]] = {}
    for name, value in raw:
        if name.lower() in wanted:
            found.setdefault(name.lower().decode(), []).append(value.decode("latin-1"))
    return found


def _split(values: list[str]) -> list[str]:
    # Several header lines form one list, in order (RFC 9110). The whole list is
    # read, as the server read it: its size is bounded by the server's header limit.
    if not values:
        return []
    return [entry.strip() for entry in ",".join(values).split(",")]


def _parse_entry(entry: str) -> tuple[str, int]:
    """``host[:port]``, ``[v6]:port`` or a bare IPv6, read exactly as uvicorn reads an
    ``X-Forwarded-For`` entry (``int()`` and all), so its rewrites are recognized."""
    host, port = _uvicorn_host_port(entry)
    return _canonical(host), port


def _uvicorn_host_port(value: str) -> tuple[str, int]:
    # A copy of uvicorn.middleware.proxy_headers._parse_host_port (0.54).
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value, 0
        host, rest = value[1:end], value[end + 1 :]
        if not rest:
            return host, 0
        if not rest.startswith(":"):
            return value, 0
        try:
            return host, int(rest[1:])
        except ValueError:
            return host, 0
    if value.count(":") == 1:
        host, port = value.rsplit(":", 1)
        try:
            return host, int(port)
        except ValueError:
            return value, 0
    return value, 0


def _rightmost(entries: list[tuple[str, int]], peer: tuple[str, int]) -> int | None:
    for index in range(len(entries) - 1, -1, -1):
        if entries[index] == peer:
            return index
    return None


def _forwarded_for(values: list[str]) -> list[str]:
    """The ``for=`` node of every element of RFC 7239 ``Forwarded`` headers, in order."""
    nodes: list[str] = []
    for element in _split_outside_quotes(",".join(values), ","):
        node = "unknown"
        for pair in _split_outside_quotes(element, ";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "for":
                node = _parse_entry(value.strip().strip('"'))[0]
        nodes.append(node)
    return nodes


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
