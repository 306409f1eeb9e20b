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


def same_origin_referer(headers: Mapping[str, str]) -> str | None:
    """The path (with query) of the ``Referer`` if it is a page of this host, else ``None``."""
    referer = headers.get("referer")
    host = headers.get("host", "")
    if not referer or not host:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or _hostname(parts.netloc) != _hostname(host):
        return None
    path = parts.path or "/"
    return safe_local_path(path + (f"?{parts.query}" if parts.query else ""))


def add_query_param(path: str, name: str, value: str) -> str:
    """Return ``path`` with ``name=value`` set in its query (replacing an old value)."""
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return f"{parts.path}?{urlencode(query)}"


def _hostname(netloc: str) -> str:
    # Ports are ignored, as PyWire does: cookies are shared across ports and
    # proxies often drop them.
    try:
        return (urlsplit("//" + netloc.strip()).hostname or "").lower()
    except ValueError:
        return ""


def is_cross_site(headers: Mapping[str, str]) -> bool:
    """Whether a state-changing request comes from another site (a CSRF attempt).

    Same decision as PyWire's own form handler, in order of trust:
    ``Sec-Fetch-Site`` (set by every current browser, cannot be forged by a page),
    then ``Origin`` against ``Host``/``X-Forwarded-Host``, then ``Referer``.
    A request with none of them is not from a browser page and is allowed.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.lower() not in ("same-origin", "none")
    hosts = {_hostname(headers.get("host", ""))}
    forwarded = headers.get("x-forwarded-host")
    if forwarded:
        hosts.update(_hostname(h) for h in forwarded.split(","))
    origin = headers.get("origin")
    if origin is not None:
        if origin == "null":
            return True
        return _hostname(urlsplit(origin).netloc if "//" in origin else origin) not in hosts
    referer = headers.get("referer")
    if referer:
        try:
            return _hostname(urlsplit(referer).netloc) not in hosts
        except ValueError:
            return True
    return False
