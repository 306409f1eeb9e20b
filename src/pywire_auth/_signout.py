"""Ending a browser's user's sessions: shared by ``/local/revoke`` and ``/logout``.

One implementation, so signing out means the same whatever the sign-in method
(password or an external provider): every session of the user ends in the
store, and their open live pages are signed out in every worker.
"""

from __future__ import annotations

from starlette.requests import Request

from pywire_auth._state import AuthState
from pywire_auth.audit import audit
from pywire_auth.exceptions import AuthError
from pywire_auth.local.principal import plain_user_id, principal_user_id

__all__ = ["end_browser_user_sessions"]


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
            return False
    if user_id is None:
        # Without a live session there was nothing to revoke: the browser only
        # dropped its cookie, which is a sign-out, not a revocation.
        audit("sign_out", "success", client=client, reason="no_session")
    else:
        audit("revoke", "success", user_id=user_id, client=client)
    return True
