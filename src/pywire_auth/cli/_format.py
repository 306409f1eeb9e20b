"""How records look on screen and in ``--json`` output."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pywire_auth.types import SessionRecord, UserRecord

__all__ = ["session_json", "timestamp", "user_json"]


def user_json(user: UserRecord) -> dict[str, Any]:
    """A user as a JSON object (``user_id``, ``email``, ``name``, ``claims``, ``disabled``)."""
    return {
        "user_id": user.user_id,
        "email": user.email,
        "name": user.name,
        "claims": dict(user.claims),
        "disabled": user.disabled,
    }


def session_json(session: SessionRecord) -> dict[str, Any]:
    """A stored session as a JSON object (its id is a hash, never the cookie)."""
    return {
        "session_id": session.session_id,
        "user_id": session.user_id,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
    }


def timestamp(seconds: int) -> str:
    """Unix seconds as an ISO 8601 UTC time."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
