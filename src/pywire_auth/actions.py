"""AuthActions: change a user's claims or sessions, and tell their live pages, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

from pywire.auth import Claim, ClaimsPrincipal

from pywire_auth._state import AuthState
from pywire_auth.audit import audit, email_hash
from pywire_auth.exceptions import ConfigurationError, InvalidInputError, UserNotFoundError
from pywire_auth.local.idp import LocalIdP
from pywire_auth.local.principal import (
    _claim_values,
    plain_user_id,
    principal_for,
    principal_user_id,
)
from pywire_auth.middleware import SESSION_SCOPE_KEY
from pywire_auth.types import JSONValue, UserRecord

__all__ = ["AuthActions"]

#: Parts of every principal that come from the user record, not from its claims.
_IDENTITY_CLAIMS = frozenset({"sub", "email", "name"})


class AuthActions:
    """Server-side auth changes, available as ``app.state.auth``.

    Every method writes the store first and then pushes the new principal (or a
    revocation) over the auth channel, so open pages re-render or leave at once.
    ``user_id`` may be the stored id or the principal's ``local:<id>``.

    ``grant``, ``revoke_claim``, ``update_claims`` and ``revoke_session`` also take
    the call shape of pywire-auth's documentation, a principal and the request
    first (``grant(self.user, self.request, "role", "admin")`` in a page); both
    shapes run the same code.

    >>> await app.state.auth.grant(user_id, "role", "editor")  # doctest: +SKIP
    >>> await app.state.auth.grant(self.user, self.request, "role", "editor")  # doctest: +SKIP
    """

    def __init__(self, state: AuthState) -> None:
        self._state = state

    @overload
    async def update_claims(
        self, user_id: str, claims: Mapping[str, JSONValue | None]
    ) -> ClaimsPrincipal: ...

    @overload
    async def update_claims(
        self, user_id: ClaimsPrincipal, request: Any, claims: Sequence[Claim], /
    ) -> ClaimsPrincipal: ...

    async def update_claims(
        self, user_id: str | ClaimsPrincipal, *args: Any, **kwargs: Any
    ) -> ClaimsPrincipal:
        """Set the given claims (a ``None`` value removes one) and push the result.

        Given a list of :class:`~pywire.auth.Claim` instead of a mapping (the
        documented ``update_claims(self.user, self.request, [Claim(...)])``), the
        list *replaces* the user's claims; ``sub``, ``email`` and ``name`` in it
        are ignored (they come from the account), and a claim whose values did not
        change keeps its stored JSON type (``True`` stays a boolean).
        """
        uid, _request, rest = _call_shape(user_id, args)
        return await self._update_claims(uid, *rest, **kwargs)

    async def _update_claims(
        self, user_id: str, claims: Mapping[str, JSONValue | None] | Sequence[Claim]
    ) -> ClaimsPrincipal:
        user = await self._user(user_id)
        if not isinstance(claims, Mapping):
            return await self._save(user.user_id, _replacing(user.claims, claims))
        merged = dict(user.claims)
        for key, value in claims.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return await self._save(user.user_id, merged)

    @overload
    async def grant(self, user_id: str, claim_type: str, value: str) -> ClaimsPrincipal: ...

    @overload
    async def grant(
        self, user_id: ClaimsPrincipal, request: Any, claim_type: str, value: str, /
    ) -> ClaimsPrincipal: ...

    async def grant(
        self, user_id: str | ClaimsPrincipal, *args: Any, **kwargs: Any
    ) -> ClaimsPrincipal:
        """Add ``value`` to the user's ``claim_type`` claim (keeping other values)."""
        uid, _request, rest = _call_shape(user_id, args)
        return await self._grant(uid, *rest, **kwargs)

    async def _grant(self, user_id: str, claim_type: str, value: str) -> ClaimsPrincipal:
        user = await self._user(user_id)
        current = _as_list(user.claims.get(claim_type))
        if value not in current:
            current.append(value)
        merged = {**user.claims, claim_type: current[0] if len(current) == 1 else current}
        return await self._save(user.user_id, merged)

    @overload
    async def revoke_claim(
        self, user_id: str, claim_type: str, value: str | None = None
    ) -> ClaimsPrincipal: ...

    @overload
    async def revoke_claim(
        self,
        user_id: ClaimsPrincipal,
        request: Any,
        claim_type: str,
        value: str | None = None,
        /,
    ) -> ClaimsPrincipal: ...

    async def revoke_claim(
        self, user_id: str | ClaimsPrincipal, *args: Any, **kwargs: Any
    ) -> ClaimsPrincipal:
        """Remove one value of ``claim_type``, or the whole claim when ``value`` is None."""
        uid, _request, rest = _call_shape(user_id, args)
        return await self._revoke_claim(uid, *rest, **kwargs)

    async def _revoke_claim(
        self, user_id: str, claim_type: str, value: str | None = None
    ) -> ClaimsPrincipal:
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

    @overload
    async def revoke_session(self, session_token: str) -> None: ...

    @overload
    async def revoke_session(self, session_token: ClaimsPrincipal, request: Any, /) -> None: ...

    async def revoke_session(self, session_token: str | ClaimsPrincipal, *args: Any) -> None:
        """End one session, a sign-out: by its token, or the request's own session.

        ``revoke_session(self.user, self.request)`` ends the session of the page's
        request; the user's other sessions (other browsers) stay signed in. Either
        way the user's open pages are told, and the one on the ended session leaves.
        """
        if isinstance(session_token, str) and not args:
            await self._end_session(session_token)
            return
        if not isinstance(session_token, ClaimsPrincipal) or len(args) != 1:
            raise TypeError("revoke_session(session_token) or revoke_session(principal, request)")
        token = _request_session(args[0])
        if token is None:
            audit("sign_out", "success", reason="no_session")
            return
        await self._end_session(token)

    async def _end_session(self, session_token: str) -> None:
        sessions = self._state.sessions
        record = await sessions.load(session_token)
        await sessions.end(session_token)
        user_id = plain_user_id(record.user_id) if record is not None else None
        audit("sign_out", "success", user_id=user_id, reason=None if record else "no_session")
        if user_id is not None:
            # The page on the ended session notices and leaves; the user's other
            # pages re-render with the same principal (live_sessions.py).
            await self._push_principal(user_id)

    async def revoke_sessions(self, user_id: str) -> int:
        """End every session of the user and drop their live pages; return how many."""
        uid = plain_user_id(user_id)
        ended = await self._state.sessions.end_all(uid)
        await self._state.channel.revoke(principal_user_id(uid))
        audit("revoke", "success", user_id=uid)
        return ended

    async def end_session(self, user_id: str, session_id: str) -> bool:
        """End one session of the user, named by its stored id (the admin page lists them).

        The user's pages get an update (same principal): the page of the ended
        session notices that its session is gone and leaves, the others stay.
        ``False`` if the user has no session with that id.
        """
        uid = plain_user_id(user_id)
        sessions = self._state.sessions
        record = await sessions.store.get_session(session_id)
        if record is None or record.user_id != uid:
            return False
        try:
            ended = await sessions.store.delete_session(session_id)
        finally:
            sessions.forget_session(session_id)
        user = await self._state.store.get_user(uid)
        if user is not None:
            principal = principal_for(user)
            await self._state.channel.update_principal(principal.user_id, principal=principal)
        audit("revoke", "success", user_id=uid, reason="one_session")
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
        await self._push_principal(uid)
        return ended

    async def _push_principal(self, uid: str) -> None:
        user = await self._state.store.get_user(uid)
        if user is not None:
            principal = principal_for(user)
            await self._state.channel.update_principal(principal.user_id, principal=principal)

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


def _call_shape(
    user: str | ClaimsPrincipal, args: tuple[Any, ...]
) -> tuple[str, Any, tuple[Any, ...]]:
    """(stored user id, request or ``None``, the other arguments) of either call shape.

    The user may be followed by the request (pywire-auth's documented shape): a
    second argument with a ``scope`` (a Starlette request or WebSocket) or ``None``.
    """
    request = None
    if args and (args[0] is None or hasattr(args[0], "scope")):
        request, args = args[0], args[1:]
    if isinstance(user, ClaimsPrincipal):
        if not user.is_authenticated or not user.user_id:
            # ANONYMOUS has no account to change: a page must check self.user first.
            raise UserNotFoundError("the principal is not signed in: there is no user to change")
        return plain_user_id(user.user_id), request, args
    if not isinstance(user, str):
        raise InvalidInputError("pass a user id or a signed-in ClaimsPrincipal")
    return user, request, args


def _request_session(request: Any) -> str | None:
    # The middleware left the request's session token in its scope (HTTP and
    # WebSocket alike); a request it did not see has none.
    scope = getattr(request, "scope", request)
    token = scope.get(SESSION_SCOPE_KEY) if isinstance(scope, Mapping) else None
    return token if isinstance(token, str) and token else None


def _replacing(current: Mapping[str, JSONValue], claims: Sequence[Claim]) -> dict[str, JSONValue]:
    """Stored claims that say exactly what the ``Claim`` list says."""
    grouped: dict[str, list[str]] = {}
    for claim in claims:
        if not isinstance(claim, Claim):
            raise InvalidInputError("update_claims takes a mapping or a list of Claim")
        if claim.type in _IDENTITY_CLAIMS:
            continue
        values = grouped.setdefault(claim.type, [])
        if str(claim.value) not in values:
            values.append(str(claim.value))
    replaced: dict[str, JSONValue] = {}
    for claim_type, values in grouped.items():
        old = current.get(claim_type)
        if old is not None and sorted(_claim_values(old)) == sorted(values):
            replaced[claim_type] = old  # unchanged: keep its JSON type
        else:
            replaced[claim_type] = values[0] if len(values) == 1 else list(values)
    return replaced


def _as_list(value: JSONValue) -> list[JSONValue]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
