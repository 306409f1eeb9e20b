"""Checks every store applies before writing, so all backends refuse the same input.

Without these, a NUL byte is fine in SQLite but a driver error in PostgreSQL, and
a 300-character subject is silently truncated by one database and refused by
another. Here they are one clear :class:`InvalidInputError` everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pywire_auth.exceptions import InvalidInputError
from pywire_auth.stores._limits import (
    EMAIL_LENGTH,
    JSON_BYTES,
    NAME_LENGTH,
    PROVIDER_LENGTH,
    PW_HASH_LENGTH,
    SUBJECT_LENGTH,
    USER_ID_LENGTH,
)
from pywire_auth.types import LOCAL_PROVIDER, JSONValue, ProviderLink, UserRecord

__all__ = [
    "NOT_A_WAY_IN",
    "check_json",
    "check_limit",
    "check_link",
    "check_pw_hash",
    "check_registration",
    "check_text",
    "check_user",
    "merge_claims",
]


#: Links that are no way to sign in by themselves: the local IdP's email link
#: (it needs the password credential) and its look-alike reservation
#: (``EMAIL_SKELETON_PROVIDER``; a literal here, stores import nothing from local/).
NOT_A_WAY_IN = frozenset({LOCAL_PROVIDER, "local-skeleton"})


def check_text(field: str, value: str, max_length: int, *, required: bool = True) -> None:
    """Refuse non-strings, empty required values, NUL bytes and over-long values."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string")
    if required and not value:
        raise InvalidInputError(f"{field} must not be empty")
    if "\x00" in value:
        raise InvalidInputError(f"{field} must not contain NUL characters")
    if len(value) > max_length:
        raise InvalidInputError(f"{field} is longer than {max_length} characters")


def check_json(field: str, value: Mapping[str, JSONValue]) -> None:
    """Refuse mappings that are not plain JSON objects, contain NUL, or are too big."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{field} must be a mapping")
    try:
        text = json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{field} must be JSON-serializable") from exc
    # PostgreSQL refuses \u0000 in text; refusing it everywhere keeps backends alike.
    if "\\u0000" in text:
        raise InvalidInputError(f"{field} must not contain NUL characters")
    if len(text.encode()) > JSON_BYTES:
        raise InvalidInputError(f"{field} is larger than {JSON_BYTES} bytes")


def check_user(user: UserRecord) -> None:
    """Validate every field of a user record before it is written."""
    check_text("user_id", user.user_id, USER_ID_LENGTH)
    check_text("email", user.email, EMAIL_LENGTH, required=False)
    check_text("name", user.name, NAME_LENGTH, required=False)
    check_json("claims", user.claims)
    check_json("extras", user.extras)
    if not isinstance(user.disabled, bool):
        raise InvalidInputError("disabled must be True or False")


def check_link(link: ProviderLink) -> None:
    """Validate every field of a provider link before it is written."""
    check_text("provider", link.provider, PROVIDER_LENGTH)
    check_text("subject", link.subject, SUBJECT_LENGTH)
    check_text("user_id", link.user_id, USER_ID_LENGTH)
    check_json("link claims", link.claims)


def check_pw_hash(pw_hash: str) -> None:
    """Validate a password hash string before it is written."""
    check_text("pw_hash", pw_hash, PW_HASH_LENGTH)


def check_limit(limit: int | None) -> None:
    """Refuse a batch size that is not a whole number of at least 1 (``None``: no limit)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError("limit must be a whole number of at least 1")


def check_registration(
    user: UserRecord,
    link: ProviderLink,
    pw_hash: str | None,
    extra_links: Sequence[ProviderLink] = (),
) -> None:
    """Validate everything ``AuthStore.create_user`` is about to write."""
    check_user(user)
    links = [link, *extra_links]
    for each in links:
        check_link(each)
        if each.user_id != user.user_id:
            raise InvalidInputError("link.user_id must be the new user's id")
    if len({(each.provider, each.subject) for each in links}) != len(links):
        raise InvalidInputError("the same link is given twice")
    if pw_hash is not None:
        check_pw_hash(pw_hash)


def merge_claims(
    stored: Mapping[str, JSONValue], changes: Mapping[str, JSONValue]
) -> dict[str, JSONValue]:
    """``stored`` with ``changes`` applied key by key (``None`` removes a key)."""
    merged = dict(stored)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
