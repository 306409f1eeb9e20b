"""``Referrer-Policy: no-referrer`` on the pages that receive link tokens.

A page opened from a mailed link has the token in its URL. Without this header
the browser would send that URL, token included, in the ``Referer`` of every
request the page makes to another site (images, fonts, analytics, a link the
user follows): a third party would receive a live reset token.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NoReferrerMiddleware"]


class NoReferrerMiddleware:
    """Adds ``Referrer-Policy: no-referrer`` to HTTP responses for the given paths.

    ``prefixes`` match a whole path or a path below them (``/auth/local`` covers
    ``/auth/local/verify-email``).
    """

    def __init__(self, app: ASGIApp, *, paths: Iterable[str], prefixes: Iterable[str]) -> None:
        self.app = app
        self._paths = frozenset(paths)
        self._prefixes = tuple(p.rstrip("/") + "/" for p in prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._matches(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_policy)

    def _matches(self, path: str) -> bool:
        return path in self._paths or path.startswith(self._prefixes)
