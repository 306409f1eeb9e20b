"""What connect_auth wires together, handed to the middleware, routes and actions."""

from __future__ import annotations

from dataclasses import dataclass, field

from pywire.auth import AuthChannel, PolicyEngine

from pywire_auth.hooks import AuthHooks
from pywire_auth.local.idp import LocalIdP
from pywire_auth.protocols import AuthStore, Throttle
from pywire_auth.sessions import SessionManager

__all__ = ["AuthState"]


@dataclass
class AuthState:
    """Everything the auth routes and middleware share for one app."""

    store: AuthStore
    sessions: SessionManager
    engine: PolicyEngine
    channel: AuthChannel
    local_idp: LocalIdP | None = None
    #: Counts sign-in and sign-up attempts (the numbers come from a ThrottlePolicy).
    throttle: Throttle | None = None
    #: The app's on_login/on_logout code, run by the sign-in and sign-out routes.
    hooks: AuthHooks = field(default_factory=AuthHooks)
