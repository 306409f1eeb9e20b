"""Turning a stored user into PyWire's ``ClaimsPrincipal``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pywire.auth import Claim, ClaimsPrincipal

from pywire_auth.types import LOCAL_PROVIDER, UserRecord

__all__ = ["plain_user_id", "principal_for", "principal_user_id"]

_PREFIX = LOCAL_PROVIDER + ":"


def principal_user_id(user_id: str) -> str:
    """The principal's ``user_id`` for a stored id: ``local:<id>``."""
    return _PREFIX + user_id


def plain_user_id(user_id: str) -> str:
    """Accept either a stored id or a principal's ``local:<id>`` and return the stored id."""
    return user_id[len(_PREFIX) :] if user_id.startswith(_PREFIX) else user_id


def _claim_values(value: Any) -> Iterator[str]:
    # Claim values are strings in PyWire; lists become one claim per item so that
    # {"role": ["admin", "editor"]} satisfies both has_claim("role", "admin") and
    # has_claim("role", "editor").
    if value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from _claim_values(item)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float):
        yield str(value)
    else:
        yield json.dumps(value, sort_keys=True)


def principal_for(
    user: UserRecord, extra_claims: Mapping[str, Any] | None = None
) -> ClaimsPrincipal:
    """Build the signed-in principal of ``user``: ``sub``, ``email`` and stored claims."""
    claims = [Claim("sub", user.user_id), Claim("email", user.email)]
    if user.name:
        claims.append(Claim("name", user.name))
    merged = {**user.claims, **(extra_claims or {})}
    for claim_type, value in merged.items():
        if claim_type in ("sub", "email", "name"):
            continue
        claims.extend(Claim(claim_type, v) for v in _claim_values(value))
    raw = {**merged, "sub": user.user_id, "email": user.email, "name": user.name}
    return ClaimsPrincipal(
        is_authenticated=True,
        name=user.name or user.email,
        user_id=principal_user_id(user.user_id),
        claims=claims,
        raw=raw,
    )
