"""The app's own code run after a sign-in or a sign-out (``connect_auth(on_login=, on_logout=)``).

Each hook is called as ``await hook(principal, request)``, after the session was
started or ended and before the redirect is sent: ``principal`` is the
:class:`~pywire.auth.ClaimsPrincipal` that signed in (or out; ``ANONYMOUS`` when
the browser had no live session), ``request`` the Starlette request of the route.
A hook may also be a plain function. A hook that raises is logged and otherwise
ignored: the user is signed in (or out) either way, so a broken analytics call
never locks anyone out.

>>> async def welcome(principal, request):
...     print("signed in:", principal.user_id)
>>> hooks = AuthHooks(on_login=welcome)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pywire.auth import ClaimsPrincipal
from starlette.requests import Request

from pywire_auth.local.principal import plain_user_id, principal_for
from pywire_auth.protocols import AuthStore

__all__ = ["AuthHook", "AuthHooks"]

logger = logging.getLogger("pywire_auth.hooks")

#: ``hook(principal, request)``; may return an awaitable.
AuthHook = Callable[[ClaimsPrincipal, Request], Awaitable[None] | None]


@dataclass(frozen=True)
class AuthHooks:
    """The ``on_login``/``on_logout`` hooks of one app (both optional)."""

    on_login: AuthHook | None = None
    on_logout: AuthHook | None = None

    async def signed_in(
        self,
        request: Request,
        user_id: str,
        store: AuthStore,
        principal: ClaimsPrincipal | None = None,
    ) -> None:
        """Run ``on_login`` for ``user_id``; the principal is read from ``store`` if not given."""
        if self.on_login is None:
            return
        try:
            if principal is None:
                user = await store.get_user(plain_user_id(user_id))
                if user is None:  # deleted meanwhile: no one to tell the app about
                    return
                principal = principal_for(user)
            await _call(self.on_login, principal, request)
        except Exception:
            logger.exception("on_login hook failed; the sign-in stands")

    async def signed_out(self, request: Request, principal: ClaimsPrincipal) -> None:
        """Run ``on_logout`` for the principal that signed out."""
        if self.on_logout is None:
            return
        try:
            await _call(self.on_logout, principal, request)
        except Exception:
            logger.exception("on_logout hook failed; the sign-out stands")


async def _call(hook: AuthHook, principal: ClaimsPrincipal, request: Request) -> None:
    result = hook(principal, request)
    if inspect.isawaitable(result):
        await result
