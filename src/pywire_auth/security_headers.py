"""Headers for pages that take passwords (clickjacking, referrer leaks, caching).

A page with a password form that another site can frame invites clickjacking: the
attacker's page lays the real form under a decoy and the user types or clicks into
it. Responses for those paths carry::

    X-Frame-Options: DENY                        (browsers without CSP level 2)
    Content-Security-Policy: frame-ancestors 'self'
    Referrer-Policy: same-origin                 (no ?next=/?error= to other sites)
    X-Content-Type-Options: nosniff              (no MIME sniffing into script)
    Cache-Control: no-store                      (no copy on disk or in a shared cache)

The middleware is pure ASGI: it adds the headers to ``http.response.start`` of
matching paths and never replaces a header the app already set, so a page with its
own ``Content-Security-Policy`` keeps it (and is then responsible for
``frame-ancestors``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pywire_auth.exceptions import ConfigurationError

__all__ = ["DEFAULT_SECURITY_HEADERS", "SecurityHeaders", "SecurityHeadersMiddleware"]

#: What a password page gets (OWASP ASVS 4.0 14.4.4, 14.4.6, 14.4.7; OWASP
#: clickjacking cheat sheet).
DEFAULT_SECURITY_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "frame-ancestors 'self'",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        # ASVS 4.0 8.2.1: a reset page holds its link's token and a form page may
        # echo what was typed; neither belongs in a shared computer's disk cache
        # (reached with the back button) or a proxy's.
        "Cache-Control": "no-store",
    }
)


@dataclass(frozen=True)
class SecurityHeaders:
    """Which responses get anti-framing headers, for ``connect_auth(security_headers=...)``.

    The login and register pages and the auth routes always do. ``paths`` adds more
    pages (exact paths; an entry ending in ``*`` matches every path starting with the
    rest, e.g. ``"/account/*"``); ``all_pages=True`` puts them on every HTTP response.
    ``headers`` replaces the header set (an empty mapping turns the middleware off).

    >>> SecurityHeaders(paths=("/account/password",)).matches("/account/password/")
    True
    """

    paths: Collection[str] = ()
    all_pages: bool = False
    headers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SECURITY_HEADERS))

    def __post_init__(self) -> None:
        if isinstance(self.paths, str):
            # ("/login") is a string, not a tuple: every character would be a path.
            raise ConfigurationError("SecurityHeaders.paths must be a collection of paths")
        for path in self.paths:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ConfigurationError(f"SecurityHeaders.paths must be paths: {path!r}")
        for name, value in self.headers.items():
            # CR/LF in a header would split the response (header injection).
            if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in f"{name}{value}") or not name:
                raise ConfigurationError(f"bad security header {name!r}")

    def with_paths(self, extra: Iterable[str]) -> SecurityHeaders:
        """A copy that also covers ``extra`` paths."""
        return SecurityHeaders(
            paths=(*self.paths, *extra), all_pages=self.all_pages, headers=self.headers
        )

    def matches(self, path: str) -> bool:
        """Whether responses for ``path`` get the headers."""
        if self.all_pages:
            return True
        wanted = _normal(path)
        for entry in self.paths:
            if entry.endswith("*"):
                if path.startswith(entry[:-1]):
                    return True
            elif _normal(entry) == wanted:
                return True
        return False


def _normal(path: str) -> str:
    # "/login_local/" serves the same page as "/login_local".
    return path.rstrip("/") or "/"


class SecurityHeadersMiddleware:
    """Add :class:`SecurityHeaders` to HTTP responses of matching paths.

    >>> app.add_middleware(SecurityHeadersMiddleware, config=SecurityHeaders())  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, *, config: SecurityHeaders) -> None:
        self.app = app
        self.config = config
        self._headers = [(k, v) for k, v in config.headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self._headers
            or not self.config.matches(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # ASGI allows any iterable (or none); MutableHeaders needs a list.
                message["headers"] = list(message.get("headers", []))
                response_headers = MutableHeaders(scope=message)
                for name, value in self._headers:
                    # The app's own choice wins (it may allow framing on purpose).
                    if name not in response_headers:
                        response_headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
