"""Typed records passed between the identity provider and its stores.

Records are frozen: a store hands out copies, so changing a record never changes
what is stored. JSON-valued fields (``claims``, ``extras``) hold plain JSON data
(str, int, float, bool, None, lists and dicts of those).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LOCAL_PROVIDER",
    "EventRecord",
    "ExternalIdentity",
    "JSONValue",
    "LoginRecord",
    "ProviderLink",
    "SessionRecord",
    "UserRecord",
]

#: Any value that survives ``json.dumps``/``json.loads`` unchanged.
JSONValue = Any

#: The ``provider`` value of the link that ties a password account to its email.
LOCAL_PROVIDER = "local"


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One row of ``pywire_auth_users``.

    ``email`` is stored normalized (see :func:`pywire_auth.normalize_email`).
    ``claims`` become claims of the user's principal; ``extras`` are free-form
    application data that never become claims. A ``disabled`` user cannot sign
    in (``?error=disabled``), and their sessions and tokens are refused.
    """

    user_id: str
    email: str
    name: str = ""
    claims: Mapping[str, JSONValue] = field(default_factory=dict)
    extras: Mapping[str, JSONValue] = field(default_factory=dict)
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class ProviderLink:
    """One row of ``pywire_auth_provider_links``: identity ``(provider, subject)`` -> user.

    The password account of a user is the link ``("local", <normalized email>)``;
    OpenID Connect sign-ins add links such as ``("google", "<sub>")``. A link,
    once made, always points at the same user.
    """

    provider: str
    subject: str
    user_id: str
    claims: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who an external provider says signed in, after every check passed.

    ``subject`` is the provider's stable id for the account (OpenID Connect's
    ``sub``, GitHub's numeric id as a string): links are found by
    ``(provider, subject)``, never by email. ``email_verified`` is ``True`` only
    when the provider asserted it. ``claims`` are identity claims only (``email``,
    ``email_verified``, ``name``, ``picture``), never authorization claims.
    """

    provider: str
    subject: str
    email: str = ""
    email_verified: bool = False
    name: str = ""
    claims: Mapping[str, JSONValue] | None = None


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """What a password sign-in needs, fetched in one query: the user and their hash.

    ``pw_hash`` is ``None`` for a user without a password (for example one who
    only signs in through an OpenID Connect provider).
    """

    user: UserRecord
    pw_hash: str | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One signed-in browser session.

    ``session_id`` is the SHA-256 of the secret token in the cookie, never the
    token itself: a leaked database does not hand out live sessions. Times are
    whole Unix seconds.
    """

    session_id: str
    user_id: str
    created_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the auth event log that worker processes follow.

    A sign-out or claim change in one process is written here so that every
    other process (and machine) on the same database can tell its live pages.
    ``event_id`` grows with each append; ``payload`` is the event as JSON;
    ``created_at`` is whole Unix seconds, used only to prune old rows.
    """

    event_id: int
    payload: Mapping[str, JSONValue]
    created_at: int
