"""Changing a password account's email: the new address proves itself by a mailed link.

The address changes only when the link sent to the new address is used; the token
carries the new address under its MAC and covers the current address as its state,
so it works once, dies if the address changed otherwise, and cannot be edited to
another address. The change itself is one store transaction that moves the
account's ``local`` link and its look-alike reservation to the new address.
"""

from __future__ import annotations

from pywire_auth.exceptions import InvalidInputError, LinkTokenError, UserExistsError
from pywire_auth.local.confusables import (
    EMAIL_SKELETON_PROVIDER,
    check_new_email,
    email_skeleton_key,
)
from pywire_auth.local.normalize import normalize_email
from pywire_auth.protocols import AuthStore
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink, UserRecord

__all__ = ["PURPOSE", "apply_change", "check_new_address"]

PURPOSE = "change_email"


async def check_new_address(store: AuthStore, user: UserRecord, email: str) -> str:
    """The normalized new address, or an error: ``invalid_email``, ``exists``, ``invalid``.

    Answering ``exists`` tells a signed-in user who just gave their password that
    an address is taken, which the registration form tells anyone already.
    """
    address = normalize_email(email)
    check_new_email(address)
    if address == user.email:
        raise InvalidInputError("that is the account's address already")
    if await store.get_user_by_link(LOCAL_PROVIDER, address) is not None:
        raise UserExistsError("that address belongs to another account")
    return address


async def apply_change(store: AuthStore, user: UserRecord, address: str) -> None:
    """Move the account to ``address``; ``LinkTokenError`` if it changed meanwhile,
    ``UserExistsError`` if the address (or a look-alike) was taken meanwhile."""
    old = user.email
    changed = await store.change_email(
        user.user_id,
        address,
        expected=old,
        remove=[
            (LOCAL_PROVIDER, old),
            (EMAIL_SKELETON_PROVIDER, email_skeleton_key(old)),
        ],
        add=[
            ProviderLink(LOCAL_PROVIDER, address, user.user_id),
            ProviderLink(EMAIL_SKELETON_PROVIDER, email_skeleton_key(address), user.user_id),
        ],
    )
    if not changed:
        raise LinkTokenError("this link is invalid or was already used")
