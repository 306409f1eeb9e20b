"""Small HTTP safety helpers: where a redirect may go, and whether a POST is cross-site."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["add_query_param", "is_cross_site", "safe_local_path", "same_origin_referer"]

_MAX_TARGET_LENGTH = 2048


def safe_local_path(target: object) -> str | None:
    """Return ``target`` if it is a path on this site, else ``None``.

    Stops open redirects: ``https://evil.example``, ``//evil.example``,
    ``/\\evil.example`` (browsers read a backslash as a slash), ``javascript:``,
    and anything with control characters (CR/LF header injection) are refused.

    >>> safe_local_path("/profile?tab=1")
    '/profile?tab=1'
    >>> safe_local_path("//evil.example/") is None
    True
    """
    if not isinstance(target, str) or not target or len(target) > _MAX_TARGET_LENGTH:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    if not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def same_origin_referer(headers: Mapping[str, str], *, scheme: str) -> str | None:
    """The path (with query) of the ``Referer`` if it is a page of this origin, else ``None``.

    ``scheme`` is the request's own (``request.url.scheme``); scheme, host and port
    must all match, as for :func:`is_cross_site`.
    """
    referer = headers.get("referer")
    if not referer or not headers.get("host"):
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if _origin_of(referer) not in _own_origins(headers, scheme):
        return None
    path = parts.path or "/"
    return safe_local_path(path + (f"?{parts.query}" if parts.query else ""))


def add_query_param(path: str, name: str, value: str) -> str:
    """Return ``path`` with ``name=value`` set in its query (replacing an old value)."""
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return f"{parts.path}?{urlencode(query)}"


# An origin as RFC 6454 compares it: (scheme, host, port), the port made explicit.
Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# WebSocket scopes carry ws/wss; the page that opened the socket is http/https.
_WEB_SCHEME = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def _origin(scheme: str, netloc: str) -> Origin | None:
    # Parsed by urlsplit so "[::1]:8000", "Example.COM" and "site:80" come out as
    # ("::1", 8000), ("example.com", default) and ("site", 80).
    web_scheme = _WEB_SCHEME.get(scheme.strip().lower())
    if web_scheme is None:
        return None
    try:
        parts = urlsplit("//" + netloc.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.password is not None:
        return None
    return web_scheme, host.lower(), _DEFAULT_PORTS[web_scheme] if port is None else port


def _origin_of(url: str) -> Origin | None:
    """The origin of an ``Origin`` header value or a ``Referer`` URL; ``None`` if opaque."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    return _origin(parts.scheme, parts.netloc)


def _own_origins(headers: Mapping[str, str], scheme: str) -> set[Origin]:
    # The origins this request may have come from: Host (and a proxy's
    # X-Forwarded-Host) with the request's scheme (and X-Forwarded-Proto). A page
    # cannot add X-Forwarded-* to a cross-site form post or WebSocket handshake
    # without a CORS preflight, so trusting them here gives an attacker nothing.
    schemes = {scheme}
    forwarded_proto = headers.get("x-forwarded-proto")
    if forwarded_proto:
        schemes.update(p for p in forwarded_proto.split(",") if p.strip())
    hosts = [headers.get("host", "")]
    forwarded_host = headers.get("x-forwarded-host")
    if forwarded_host:
        hosts.extend(forwarded_host.split(","))
    found = {_origin(s, h) for s in schemes for h in hosts if h.strip()}
    return {o for o in found if o is not None}


def is_cross_site(headers: Mapping[str, str], *, scheme: str) -> bool:
    """Whether a state-changing request comes from another origin (a CSRF attempt).

    Same decision as PyWire's own form handler, in order of trust:
    ``Sec-Fetch-Site`` (set by every current browser, cannot be forged by a page),
    then ``Origin``, then ``Referer``. ``Origin`` and ``Referer`` must match this
    request's origin exactly: scheme, host and port (a missing port is the scheme's
    default: 80 for http, 443 for https), so ``http://site:8080`` (another server on
    the same host) and ``http://site`` (a page an attacker on the network can
    rewrite) are refused for ``https://site``. ``scheme`` is the request's own
    (``http``/``https``, or ``ws``/``wss`` for a WebSocket handshake).
    A request with none of the headers is not from a browser page and is allowed.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.lower() not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is not None:
        # "null" (sandboxed frames, redirects across origins) is opaque: refused.
        return _origin_of(origin) not in _own_origins(headers, scheme)
    referer = headers.get("referer")
    if referer:
        return _origin_of(referer) not in _own_origins(headers, scheme)
    return False
