"""What connect_auth wires together, handed to the middleware, routes and actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pywire.auth import ANONYMOUS, AuthChannel, ClaimsPrincipal, PolicyEngine

from pywire_auth.exceptions import AuthError
from pywire_auth.local.idp import LocalIdP
from pywire_auth.local.principal import principal_for
from pywire_auth.protocols import AuthStore, Throttle
from pywire_auth.sessions import SessionManager
from pywire_auth.types import SessionRecord

__all__ = ["AuthState"]

logger = logging.getLogger("pywire_auth")


@dataclass
class AuthState:
    """Everything the auth routes and middleware share for one app."""

    store: AuthStore
    sessions: SessionManager
    engine: PolicyEngine
    channel: AuthChannel
    local_idp: LocalIdP | None = None
    #: Counts sign-in attempts per address and per email, sign-ups per address.
    throttle: Throttle | None = None

    async def principal_for_session(self, record: SessionRecord) -> ClaimsPrincipal:
        """The current principal of a session's user (fresh claims), or ``ANONYMOUS``."""
        try:
            user = await self.store.get_user(record.user_id)
        except AuthError:
            logger.warning("could not load the user of a session", exc_info=True)
            return ANONYMOUS
        return principal_for(user) if user else ANONYMOUS
