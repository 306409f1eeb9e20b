"""Which local user an external sign-in belongs to. The linking rules, in one place.

1. A known ``(provider, sub)`` link decides: it is that link's user, whatever
   the email says now (emails change hands; ``sub`` never does).
2. Otherwise, if the provider's email is the email of an existing password
   account, the sign-in is linked to it only when all of these hold, and else
   refused with ``link_required`` (the user signs in with the password and
   links the provider from their account):

   * the provider is trusted for emails (``trust_email=True``),
   * the provider asserts ``email_verified: true``,
   * the existing account's email is verified (its ``email_verified`` claim
     is ``True``). Without this an attacker could pre-register the victim's
     address with a password of their own, wait for the victim to sign in with
     Google, and share the account ("pre-hijacking").

3. A disabled account is never signed in to, by its link or by linking
   (``AccountDisabledError``, ``?error=disabled``).
4. Otherwise a new user is created with the link. The provider's email is
   kept only if it is verified; identity claims (email, email_verified, name,
   picture) go on the link, never into the user's authorization claims.

At every sign-in with a known link, what the provider says now is stored
(:func:`refresh_identity`): the link's claims are replaced, the user's ``name``
and ``picture`` follow the provider, and so does the email of an account that
has no password (only to a verified address that no password account uses).
Everything else in the user's claims is ours and is kept: authorization claims
(``role``, ``plan``...) and ``email_verified``, which is our own verification
of the account's address and decides rule 2 above, so no provider can set it.
"""

from __future__ import annotations

import uuid

from pywire_auth.exceptions import (
    AccountDisabledError,
    InvalidInputError,
    LinkRequiredError,
    UserExistsError,
)
from pywire_auth.local.normalize import normalize_email
from pywire_auth.protocols import AuthStore
from pywire_auth.stores._limits import NAME_LENGTH
from pywire_auth.types import LOCAL_PROVIDER, ExternalIdentity, JSONValue, ProviderLink, UserRecord

__all__ = ["link_identity", "refresh_identity", "resolve_user"]


def _normalized(email: str) -> str:
    try:
        return normalize_email(email) if email else ""
    except InvalidInputError:
        return ""  # an address we could not register is matched to no one


async def resolve_user(store: AuthStore, identity: ExternalIdentity, *, trust_email: bool) -> str:
    """The stored user id for ``identity``, linking or creating as the rules above say."""
    user = await store.get_user_by_link(identity.provider, identity.subject)
    if user is not None:
        if user.disabled:
            # The provider vouched for who they are; the operator said no.
            raise AccountDisabledError(f"{identity.provider}: this account is disabled")
        await refresh_identity(store, identity, user)
        return user.user_id
    email = _normalized(identity.email)
    link_claims = dict(identity.claims or {})
    if email:
        existing = await store.get_user_by_link(LOCAL_PROVIDER, email)
        if existing is not None:
            if (
                trust_email
                and identity.email_verified
                and existing.claims.get("email_verified") is True
            ):
                if existing.disabled:
                    raise AccountDisabledError(f"{identity.provider}: this account is disabled")
                await store.add_link(
                    ProviderLink(identity.provider, identity.subject, existing.user_id, link_claims)
                )
                await refresh_identity(store, identity, existing)
                return existing.user_id
            raise LinkRequiredError(f"{identity.provider}: email belongs to an existing account")
    new = UserRecord(
        user_id=str(uuid.uuid4()),
        email=email if identity.email_verified else "",
        name=identity.name[:NAME_LENGTH],
        claims={k: v for k, v in _user_claims(identity).items() if v is not None},
    )
    link = ProviderLink(identity.provider, identity.subject, new.user_id, link_claims)
    try:
        await store.create_user(new, link=link)
    except UserExistsError:
        # Two callbacks for one new identity raced (two tabs, two workers): the
        # database's unique (provider, subject) decided; use the winner's user.
        user = await store.get_user_by_link(identity.provider, identity.subject)
        if user is None:
            raise
        return user.user_id
    return new.user_id


async def link_identity(store: AuthStore, identity: ExternalIdentity, user_id: str) -> None:
    """Tie ``identity`` to the signed-in ``user_id`` (the ``/link`` route).

    Raises :class:`~pywire_auth.UserExistsError` (``exists``) when the identity is
    already linked to another user: a link is never re-pointed, or a provider
    account could be moved from its owner to whoever links it next.
    """
    owner = await store.get_user_by_link(identity.provider, identity.subject)
    if owner is not None:
        if owner.user_id != user_id:
            raise UserExistsError(f"{identity.provider} identity is linked to another account")
        await refresh_identity(store, identity, owner)
        return
    await store.add_link(
        ProviderLink(identity.provider, identity.subject, user_id, dict(identity.claims or {}))
    )
    user = await store.get_user(user_id)
    if user is not None:
        await refresh_identity(store, identity, user)


def _user_claims(identity: ExternalIdentity) -> dict[str, JSONValue]:
    # The identity claims a provider may set on the user; None removes one.
    # Only an https URL: a "javascript:" or "data:" picture from a provider must
    # not reach the <img src> or <a href> of a page that shows it (XSS).
    picture = (identity.claims or {}).get("picture")
    ok = isinstance(picture, str) and picture.startswith("https://") and len(picture) <= 2048
    return {"picture": picture if ok else None}


async def refresh_identity(store: AuthStore, identity: ExternalIdentity, user: UserRecord) -> None:
    """Store what the provider says now about ``user``, linked to ``identity``.

    The link's claims are replaced and the user's ``name`` and ``picture``
    updated in one store call that keeps every other claim of the user
    (``role``, ``email_verified``...). The email of an account without a
    password follows the provider's verified email; a password account's email
    is its sign-in name and changes only through the change-email flow.
    """
    link = ProviderLink(identity.provider, identity.subject, user.user_id, identity.claims or {})
    name = identity.name[:NAME_LENGTH] or None
    await store.refresh_identity(link, name=name, claims=_user_claims(identity))
    email = _normalized(identity.email) if identity.email_verified else ""
    if not email or email == user.email:
        return
    if any(link.provider == LOCAL_PROVIDER for link in await store.get_links(user.user_id)):
        return  # a password account: its address is its sign-in name
    if await store.get_user_by_link(LOCAL_PROVIDER, email) is not None:
        # Another account signs in with that address: two users must not share it.
        return
    await store.change_email(user.user_id, email, expected=user.email)
