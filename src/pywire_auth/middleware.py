"""Pure-ASGI middleware: session cookie -> ``ClaimsPrincipal`` in ``scope["user"]``.

Runs for HTTP and WebSocket scopes, so ``self.user``, ``!auth`` and ``{$auth}`` see
the same principal on a page GET and on the live connection. It never raises and
never signs anyone out by itself: when the store cannot be read the request runs
as ``ANONYMOUS`` and the cookie stays, so the next request can succeed. That holds
for any exception a session store raises (a third-party store, a driver error that
escaped its mapping), not only our own :class:`~pywire_auth.AuthError`: such an
error is logged with its traceback once per exception type and process, then at
debug level, so an outage does not write one traceback per request. A signed-in
WebSocket is closed (code 4401) once its session has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pywire.auth import ANONYMOUS, AuthContext, ClaimsPrincipal
from pywire.auth.context import reset_auth_context, set_auth_context
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pywire_auth._http import is_cross_site
from pywire_auth._state import AuthState
from pywire_auth.exceptions import AuthError
from pywire_auth.live_sessions import SESSION_GONE_CLOSE_CODE, watch_session
from pywire_auth.types import SessionRecord

__all__ = ["SESSION_SCOPE_KEY", "AuthMiddleware"]

logger = logging.getLogger("pywire_auth.middleware")

#: Where the middleware leaves the request's session token (or ``None``).
SESSION_SCOPE_KEY = "pywire_auth.session_token"


class AuthMiddleware:
    """Resolve the signed-in principal for every HTTP request and WebSocket.

    A signed-in WebSocket is watched for as long as it is open
    (:mod:`pywire_auth.live_sessions`) and closed with code 4401 once its session
    ends, so a live page never outlives its session.

    >>> app.add_middleware(AuthMiddleware, state=auth_state)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, *, state: AuthState) -> None:
        self.app = app
        self.state = state
        # Foreign exception types already logged with a traceback (see _foreign_error).
        self._logged: set[type[BaseException]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        principal, token, set_cookie, record = await self._resolve(scope, headers)
        scope["user"] = principal
        scope[SESSION_SCOPE_KEY] = token if principal.is_authenticated else None
        state = self.state
        ctx = set_auth_context(
            AuthContext(principal=principal, engine=state.engine, channel=state.channel)
        )
        try:
            if scope["type"] == "websocket" and token is not None and record is not None:
                await self._run_watched(scope, receive, send, token, record, principal)
                return
            if set_cookie is None:
                await self.app(scope, receive, send)
                return

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    response_headers = MutableHeaders(scope=message)
                    # A route that already set the session cookie (sign-in/out) wins.
                    name = set_cookie.split("=", 1)[0] + "="
                    if name not in " ".join(response_headers.getlist("set-cookie")):
                        response_headers.append("set-cookie", set_cookie)
                await send(message)

            await self.app(scope, receive, send_with_cookie)
        finally:
            reset_auth_context(ctx)

    async def _run_watched(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        token: str,
        record: SessionRecord,
        principal: ClaimsPrincipal,
    ) -> None:
        closed = False

        async def watched_send(message: Message) -> None:
            # Once we closed the socket, the app's late messages have nowhere to go.
            if not closed:
                await send(message)

        async def watched_receive() -> Message:
            if closed:
                return {"type": "websocket.disconnect", "code": SESSION_GONE_CLOSE_CODE}
            return await receive()

        async def close_when_gone() -> None:
            nonlocal closed
            if not await watch_session(
                self.state.sessions, self.state.channel, token, record, principal.user_id
            ):
                return  # revoked: PyWire's live-auth loop signs the page out
            closed = True
            with contextlib.suppress(Exception):
                # The client may be gone already; there is nothing left to close then.
                await send({"type": "websocket.close", "code": SESSION_GONE_CLOSE_CODE})

        watcher = asyncio.create_task(close_when_gone(), name="pywire-auth-live-session")
        try:
            await self.app(scope, watched_receive, watched_send)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if not watcher.cancelled() and watcher.exception() is not None:
                logger.warning("live session watch failed: %r", watcher.exception())

    async def _resolve(
        self, scope: Scope, headers: Headers
    ) -> tuple[ClaimsPrincipal, str | None, str | None, SessionRecord | None]:
        sessions = self.state.sessions
        https = scope.get("scheme") in ("https", "wss")
        cookie = sessions.read_cookie(headers.get("cookie", ""), https=https)
        if cookie is None:
            return ANONYMOUS, None, None, None
        token, stale_key = cookie
        websocket = scope["type"] == "websocket"
        if websocket and is_cross_site(headers, scheme=scope.get("scheme", "ws")):
            # Cross-site WebSocket hijacking: another site's page opening our socket
            # with the user's cookie gets an anonymous connection.
            return ANONYMOUS, None, None, None
        try:
            found = await sessions.lookup(token)
            if found is None:
                return ANONYMOUS, None, None, None
            record, principal = found.record, found.principal
            set_cookie = None
            if principal.is_authenticated and scope["type"] == "http":
                resend, expires_at = stale_key, record.expires_at
                # Read the clock before the slide's database round trip: read after,
                # a second boundary in between would send a cookie a second short.
                now = sessions.now()
                if sessions.needs_refresh(record):
                    slid = await sessions.slide(record)
                    resend, expires_at = slid is not None, slid or expires_at
                if resend:
                    # A refresh, or a cookie signed with a fallback secret: send the
                    # cookie again, signed with the current one, for the time it has left.
                    end = min(expires_at, sessions.absolute_expiry(record))
                    left = min(end - now, sessions.config.ttl)
                    set_cookie = sessions.cookie_header(token, https=https, max_age=left)
        except AuthError as exc:
            # The error's code only: a chained driver message may quote parameters.
            logger.warning("session lookup failed (%s); request runs as anonymous", exc.code)
            return ANONYMOUS, None, None, None
        except Exception as exc:
            # Not ours: a store outside this package, or a bug. Serving the page
            # anonymously beats answering every request with a 500.
            self._foreign_error(exc)
            return ANONYMOUS, None, None, None
        return principal, token, set_cookie, record

    def _foreign_error(self, exc: Exception) -> None:
        # Once per type: a store that is down fails on every request, and a
        # traceback per request would bury the logs (and fill the disk).
        kind = type(exc)
        if kind in self._logged:
            logger.debug("session lookup failed again (%s); anonymous", kind.__qualname__)
            return
        self._logged.add(kind)
        # With the traceback: a foreign store's bug cannot be found without it. A
        # quoted query parameter is at worst a session id, the SHA-256 of a cookie
        # token, which signs no one in.
        logger.error(
            "session lookup raised %s (not an AuthError); requests run as anonymous "
            "while it fails (logged once per exception type)",
            kind.__qualname__,
            exc_info=exc,
        )
