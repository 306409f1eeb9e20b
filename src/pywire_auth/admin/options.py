"""AdminOptions: where the admin pages live and who may open them."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pywire.auth import PolicyContext

from pywire_auth.exceptions import ConfigurationError

__all__ = ["AdminOptions", "AdminPolicy"]

#: The most accounts one page shows (a page reads one more row to know if another follows).
MAX_PAGE_SIZE = 500

#: A policy function: sync or async, given the signed-in principal and the request.
AdminPolicy = Callable[[PolicyContext], bool | Awaitable[bool]]


@dataclass(frozen=True)
class AdminOptions:
    """Turn on the admin pages, for ``connect_auth(..., admin=AdminOptions(...))``.

    * ``path``: where the pages are mounted (the accounts list; each account is at
      ``{path}/users/{user_id}``).
    * ``policy``: who may use them. A name is a policy of the ``PolicyEngine`` that
      ``connect_auth`` returns; if the engine has no policy of that name when
      ``connect_auth`` runs, it gets one that requires the claim ``role`` with that
      name as value (so ``"admin"`` means ``role=admin``); ``engine.add_policy``
      with the same name later replaces it. A callable (sync or async) gets a
      :class:`pywire.auth.PolicyContext` and returns whether to let the user in.
      Signed-in users it refuses get 403; anonymous visitors go to the sign-in page.
    * ``page_size``: accounts per page (1 to 500).

    >>> AdminOptions(path="/auth/admin", policy="admin").path
    '/auth/admin'
    """

    path: str = "/auth/admin"
    policy: str | AdminPolicy = "admin"
    page_size: int = 50

    def __post_init__(self) -> None:
        path = self.path
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or path.startswith("//")
            or any(ch in path for ch in "{}?#\\")
            or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in path)
            or path.rstrip("/") == ""
        ):
            raise ConfigurationError(f"AdminOptions.path must be a plain path: {path!r}")
        object.__setattr__(self, "path", path.rstrip("/"))
        policy = self.policy
        if isinstance(policy, str):
            if not policy.strip():
                raise ConfigurationError("AdminOptions.policy must name a policy")
        elif not callable(policy) or inspect.isclass(policy):
            raise ConfigurationError("AdminOptions.policy must be a policy name or a function")
        size = self.page_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
            raise ConfigurationError(f"AdminOptions.page_size must be from 1 to {MAX_PAGE_SIZE}")
