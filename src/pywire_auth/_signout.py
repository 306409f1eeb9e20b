"""Ending a browser's user's sessions: ``/local/revoke`` and ``{prefix}/logout``.

One implementation, so signing out means the same whatever the sign-in method
(password or an external provider): every session of the user ends in the
store, and their open live pages are signed out in every worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pywire.auth import ANONYMOUS
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pywire_auth._client_address import AddressResolver, group_key
from pywire_auth._form_route import ALL_METHODS, NO_STORE, form_fail, form_next, same_site_form
from pywire_auth._state import AuthState
from pywire_auth.audit import audit
from pywire_auth.exceptions import AuthError
from pywire_auth.local.principal import plain_user_id, principal_user_id
from pywire_auth.throttles.policy import ThrottlePolicy

__all__ = ["LogoutRoute", "end_browser_user_sessions"]


async def end_browser_user_sessions(state: AuthState, request: Request, *, client: str) -> bool:
    """End every session of the user this request's session cookie belongs to.

    Returns ``False`` when the store could not be reached (sessions may live on:
    the caller says so with ``?error=unavailable``); the caller clears the
    cookie either way. The session is looked up here, not taken from the
    middleware: during a store outage the middleware sees an anonymous request,
    and answering "signed out" then would leave every session alive.
    """
    sessions = state.sessions
    https = request.url.scheme in ("https", "wss")
    token = sessions.token_from_cookie_header(request.headers.get("cookie", ""), https=https)
    user_id: str | None = None
    if token:
        try:
            record = await sessions.load(token)
            if record is not None:
                user_id = plain_user_id(record.user_id)
                await sessions.end_all(record.user_id)
                await state.channel.revoke(principal_user_id(record.user_id))
        except AuthError:
            audit("revoke", "failure", user_id=user_id, client=client, reason="unavailable")
            # The browser is signed out all the same (the caller clears its cookie).
            await state.hooks.signed_out(request, request.scope.get("user", ANONYMOUS))
            return False
    if user_id is None:
        # Without a live session there was nothing to revoke: the browser only
        # dropped its cookie, which is a sign-out, not a revocation.
        audit("sign_out", "success", client=client, reason="no_session")
    else:
        audit("revoke", "success", user_id=user_id, client=client)
    await state.hooks.signed_out(request, request.scope.get("user", ANONYMOUS))
    return True


@dataclass
class LogoutRoute:
    """``POST {prefix}/logout``: sign out, whatever the sign-in method.

    The same as ``/local/revoke``: every session of the user ends and their
    live pages are signed out in every worker; ``?error=unavailable`` (at
    ``error_next``) when the store could not be reached. The cookie is cleared
    either way. Mounted by ``connect_auth`` for every app.
    """

    state: AuthState
    prefix: str = "/auth"
    default_next: str = "/"
    throttle_policy: ThrottlePolicy | None = None
    _policy: ThrottlePolicy = field(init=False, repr=False)
    _addresses: AddressResolver = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._policy = self.throttle_policy or ThrottlePolicy()
        self._addresses = AddressResolver(self._policy.client_address)

    def route(self) -> Route:
        """The route, answering every method (405 but for POST)."""
        endpoint = same_site_form(self.logout, self.default_next, frozenset({"unavailable"}))
        return Route(f"{self.prefix.rstrip('/')}/logout", endpoint, methods=ALL_METHODS)

    async def logout(self, request: Request, fields: dict[str, str]) -> Response:
        """End the sessions, clear the cookie, go to ``next``."""
        client = group_key(self._addresses.client(request.scope), self._policy.ipv6_prefix)
        response: Response
        if await end_browser_user_sessions(self.state, request, client=client):
            response = RedirectResponse(
                form_next(request, fields, self.default_next), 303, headers=NO_STORE
            )
        else:
            response = form_fail(request, fields, "unavailable", self.default_next)
        https = request.url.scheme in ("https", "wss")
        response.headers.append("set-cookie", self.state.sessions.clear_cookie_header(https=https))
        return response
