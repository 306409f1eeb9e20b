"""AuthActions: change a user's claims or sessions, and tell their live pages, in one call."""

from __future__ import annotations

from collections.abc import Mapping

from pywire.auth import ClaimsPrincipal

from pywire_auth._state import AuthState
from pywire_auth.audit import audit, email_hash
from pywire_auth.exceptions import ConfigurationError, UserNotFoundError
from pywire_auth.local.idp import LocalIdP
from pywire_auth.local.principal import plain_user_id, principal_for, principal_user_id
from pywire_auth.types import JSONValue, UserRecord

__all__ = ["AuthActions"]


class AuthActions:
    """Server-side auth changes, available as ``app.state.auth``.

    Every method writes the store first and then pushes the new principal (or a
    revocation) over the auth channel, so open pages re-render or leave at once.
    ``user_id`` may be the stored id or the principal's ``local:<id>``.

    >>> await app.state.auth.grant(user_id, "role", "editor")  # doctest: +SKIP
    """

    def __init__(self, state: AuthState) -> None:
        self._state = state

    async def update_claims(
        self, user_id: str, claims: Mapping[str, JSONValue | None]
    ) -> ClaimsPrincipal:
        """Set the given claims (a ``None`` value removes one) and push the result."""
        user = await self._user(user_id)
        merged = dict(user.claims)
        for key, value in claims.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return await self._save(user.user_id, merged)

    async def grant(self, user_id: str, claim_type: str, value: str) -> ClaimsPrincipal:
        """Add ``value`` to the user's ``claim_type`` claim (keeping other values)."""
        user = await self._user(user_id)
        current = _as_list(user.claims.get(claim_type))
        if value not in current:
            current.append(value)
        merged = {**user.claims, claim_type: current[0] if len(current) == 1 else current}
        return await self._save(user.user_id, merged)

    async def revoke_claim(
        self, user_id: str, claim_type: str, value: str | None = None
    ) -> ClaimsPrincipal:
        """Remove one value of ``claim_type``, or the whole claim when ``value`` is None."""
        user = await self._user(user_id)
        merged = dict(user.claims)
        remaining = (
            [] if value is None else [v for v in _as_list(merged.get(claim_type)) if v != value]
        )
        if remaining:
            merged[claim_type] = remaining[0] if len(remaining) == 1 else remaining
        else:
            merged.pop(claim_type, None)
        return await self._save(user.user_id, merged)

    async def revoke_session(self, session_token: str) -> None:
        """End one session (for example the one in ``request.scope``): a sign-out."""
        sessions = self._state.sessions
        record = await sessions.load(session_token)
        await sessions.end(session_token)
        user_id = plain_user_id(record.user_id) if record is not None else None
        audit("sign_out", "success", user_id=user_id, reason=None if record else "no_session")

    async def revoke_sessions(self, user_id: str) -> int:
        """End every session of the user and drop their live pages; return how many."""
        uid = plain_user_id(user_id)
        ended = await self._state.sessions.end_all(uid)
        await self._state.channel.revoke(principal_user_id(uid))
        audit("revoke", "success", user_id=uid)
        return ended

    def audit_email_hash(self, email: str) -> str:
        """The ``email_hash`` the audit log gives ``email``: to find one account's records.

        The hash is keyed with the session secret, so it is the same in every
        process of the app and changes when that secret does.
        """
        return email_hash(self._state.sessions.derive_key("audit-email"), email)

    async def set_disabled(self, user_id: str, disabled: bool) -> UserRecord:
        """Disable the user (no sign-in, every session ends, live pages sign out) or
        enable them again.

        A disabled user's password, links and claims stay; sign-ins with the right
        password are refused with ``?error=disabled``.
        """
        uid = plain_user_id(user_id)
        try:
            user = await self._state.store.update_user(uid, disabled=disabled)
        finally:
            self._state.sessions.forget_user(uid)
        if user is None:
            raise UserNotFoundError(f"no user {user_id!r}")
        audit("account_disable" if disabled else "account_enable", "success", user_id=uid)
        if disabled:
            await self._state.sessions.end_all(uid)
            await self._state.channel.revoke(principal_user_id(uid))
        return user

    async def end_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of the user but ``keep`` (a token) and sign their pages out.

        Without ``keep`` every live page of the user is revoked at once. With it,
        the user's pages get an update instead (same principal): the page of the
        kept session stays signed in, and every other page notices that its own
        session is gone and is disconnected (:mod:`pywire_auth.live_sessions`).
        This is what :class:`~pywire_auth.LocalIdP` calls after a password change.
        """
        uid = plain_user_id(user_id)
        ended = await self._state.sessions.end_all(uid, keep=keep)
        if keep is None:
            await self._state.channel.revoke(principal_user_id(uid))
            return ended
        user = await self._state.store.get_user(uid)
        if user is not None:
            principal = principal_for(user)
            await self._state.channel.update_principal(principal.user_id, principal=principal)
        return ended

    async def change_password(
        self,
        user_id: str,
        old_password: str,
        new_password: str,
        *,
        keep_session: str | None = None,
    ) -> bool:
        """:meth:`LocalIdP.change_password <pywire_auth.LocalIdP.change_password>`:
        other sessions end, their pages are signed out; ``keep_session`` stays."""
        return await self._idp().change_password(
            user_id=user_id,
            old_password=old_password,
            new_password=new_password,
            keep_session=keep_session,
        )

    async def reset_password(
        self, user_id: str, new_password: str, *, keep_session: str | None = None
    ) -> None:
        """:meth:`LocalIdP.reset_password <pywire_auth.LocalIdP.reset_password>`, with
        the same sign-outs as :meth:`change_password`."""
        await self._idp().reset_password(
            user_id=user_id, new_password=new_password, keep_session=keep_session
        )

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user and their sessions, and sign out their live pages.

        ``False`` if there was no such user.
        """
        uid = plain_user_id(user_id)
        try:
            deleted = await self._state.store.delete_user(uid)
        finally:
            self._state.sessions.forget_user(uid)
        if deleted:
            await self._state.channel.revoke(principal_user_id(uid))
        return deleted

    def _idp(self) -> LocalIdP:
        if self._state.local_idp is None:
            raise ConfigurationError("connect_auth was given no local_idp")
        return self._state.local_idp

    async def _user(self, user_id: str) -> UserRecord:
        user = await self._state.store.get_user(plain_user_id(user_id))
        if user is None:
            raise UserNotFoundError(f"no user {user_id!r}")
        return user

    async def _save(self, uid: str, claims: Mapping[str, JSONValue]) -> ClaimsPrincipal:
        try:
            user = await self._state.store.update_user(uid, claims=claims)
        finally:
            # This process's next request of the user must see the new claims, not a
            # cached principal; other processes hear of it through the channel.
            self._state.sessions.forget_user(uid)
        if user is None:
            raise UserNotFoundError(f"no user {uid!r}")
        principal = principal_for(user)
        await self._state.channel.update_principal(principal.user_id, principal=principal)
        return principal


def _as_list(value: JSONValue) -> list[JSONValue]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
