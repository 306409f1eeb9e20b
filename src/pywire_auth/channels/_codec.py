"""PyWire's AuthEvent <-> the JSON that crosses process boundaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pywire.auth import AuthEvent, Claim, ClaimsPrincipal

from pywire_auth.types import JSONValue

__all__ = ["event_from_json", "event_to_json"]

# The kinds PyWire's live loop understands. Anything else coming off the wire is
# dropped: its loop would treat an unknown kind as "replace the claims with none".
LIVE_KINDS = frozenset({"update", "revoke"})


def event_to_json(event: AuthEvent, event_key: str) -> dict[str, JSONValue]:
    """The event as plain JSON, tagged with ``event_key`` for de-duplication."""
    data: dict[str, JSONValue] = {"key": event_key, "user_id": event.user_id, "kind": event.kind}
    if event.claims is not None:
        data["claims"] = [[c.type, c.value] for c in event.claims]
    if event.principal is not None:
        p = event.principal
        data["principal"] = {
            "is_authenticated": p.is_authenticated,
            "name": p.name,
            "user_id": p.user_id,
            "claims": [[c.type, c.value] for c in p.claims],
            "raw": dict(p.raw),
        }
    return data


def event_from_json(data: Mapping[str, Any]) -> tuple[str, AuthEvent] | None:
    """``(key, event)`` from :func:`event_to_json`'s output; ``None`` if malformed."""
    try:
        key, user_id, kind = data["key"], data["user_id"], data["kind"]
        if not (isinstance(key, str) and isinstance(user_id, str) and kind in LIVE_KINDS):
            return None
        claims = _claims(data["claims"]) if "claims" in data else None
        principal = None
        if "principal" in data:
            p = data["principal"]
            principal = ClaimsPrincipal(
                is_authenticated=bool(p["is_authenticated"]),
                name=str(p["name"]),
                user_id=str(p["user_id"]),
                claims=_claims(p["claims"]),
                raw=dict(p["raw"]),
            )
    except (KeyError, TypeError, ValueError):
        return None
    return key, AuthEvent(user_id=user_id, kind=kind, claims=claims, principal=principal)


def _claims(items: Any) -> list[Claim]:
    return [Claim(str(t), str(v)) for t, v in items]
