"""Pure-ASGI middleware: session cookie -> ``ClaimsPrincipal`` in ``scope["user"]``.

Runs for HTTP and WebSocket scopes, so ``self.user``, ``!auth`` and ``{$auth}`` see
the same principal on a page GET and on the live connection. It never raises and
never signs anyone out by itself: when the store cannot be read the request runs
as ``ANONYMOUS`` and the cookie stays, so the next request can succeed.
"""

from __future__ import annotations

import logging

from pywire.auth import ANONYMOUS, AuthContext, ClaimsPrincipal
from pywire.auth.context import reset_auth_context, set_auth_context
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pywire_auth._http import is_cross_site
from pywire_auth._state import AuthState
from pywire_auth.exceptions import AuthError

__all__ = ["SESSION_SCOPE_KEY", "AuthMiddleware"]

logger = logging.getLogger("pywire_auth.middleware")

#: Where the middleware leaves the request's session token (or ``None``).
SESSION_SCOPE_KEY = "pywire_auth.session_token"


class AuthMiddleware:
    """Resolve the signed-in principal for every HTTP request and WebSocket.

    >>> app.add_middleware(AuthMiddleware, state=auth_state)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, *, state: AuthState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        principal, token, set_cookie = await self._resolve(scope, headers)
        scope["user"] = principal
        scope[SESSION_SCOPE_KEY] = token if principal.is_authenticated else None
        state = self.state
        ctx = set_auth_context(
            AuthContext(principal=principal, engine=state.engine, channel=state.channel)
        )
        try:
            if set_cookie is None:
                await self.app(scope, receive, send)
                return

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    response_headers = MutableHeaders(scope=message)
                    # A route that already set the session cookie (sign-in/out) wins.
                    if self.state.sessions.config.cookie_name + "=" not in " ".join(
                        response_headers.getlist("set-cookie")
                    ):
                        response_headers.append("set-cookie", set_cookie)
                await send(message)

            await self.app(scope, receive, send_with_cookie)
        finally:
            reset_auth_context(ctx)

    async def _resolve(
        self, scope: Scope, headers: Headers
    ) -> tuple[ClaimsPrincipal, str | None, str | None]:
        sessions = self.state.sessions
        token = sessions.token_from_cookie_header(headers.get("cookie", ""))
        if token is None:
            return ANONYMOUS, None, None
        websocket = scope["type"] == "websocket"
        if websocket and is_cross_site(headers, scheme=scope.get("scheme", "ws")):
            # Cross-site WebSocket hijacking: another site's page opening our socket
            # with the user's cookie gets an anonymous connection.
            return ANONYMOUS, None, None
        try:
            found = await sessions.lookup(token)
            if found is None:
                return ANONYMOUS, None, None
            record, principal = found.record, found.principal
            set_cookie = None
            sliding = principal.is_authenticated and scope["type"] == "http"
            if sliding and sessions.needs_refresh(record) and await sessions.refresh(record):
                https = scope.get("scheme") == "https"
                set_cookie = sessions.cookie_header(token, https=https)
        except AuthError as exc:
            # The error's code only: a chained driver message may quote parameters.
            logger.warning("session lookup failed (%s); request runs as anonymous", exc.code)
            return ANONYMOUS, None, None
        return principal, token, set_cookie
