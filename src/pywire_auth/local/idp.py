"""LocalIdP: password accounts, sign-in checks and JWTs for local users."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pywire.auth import ClaimsPrincipal

from pywire_auth._secrets import check_secret, secret_fingerprint
from pywire_auth.audit import audit
from pywire_auth.exceptions import (
    AccountDisabledError,
    AuthError,
    ConfigurationError,
    InvalidInputError,
    ReservedClaimError,
    UserNotFoundError,
)
from pywire_auth.local.confusables import (
    EMAIL_SKELETON_PROVIDER,
    check_new_email,
    email_skeleton_key,
)
from pywire_auth.local.hashing import Argon2Hasher
from pywire_auth.local.normalize import (
    MAX_PASSWORD_CHARS,
    email_lookup_forms,
    normalize_email,
    normalize_name,
    normalize_password,
)
from pywire_auth.local.passwords import PasswordPolicy
from pywire_auth.local.principal import plain_user_id, principal_for
from pywire_auth.protocols import AuthStore, PasswordHasher, SessionStore
from pywire_auth.sessions import SessionManager
from pywire_auth.stores.memory import MemoryAuthStore
from pywire_auth.tokens._advice import reserved_claim_advice
from pywire_auth.tokens.issuer import RESERVED_CLAIMS, FallbackSecret, TokenIssuer
from pywire_auth.tokens.keys import KeySource, SigningKey, load_private_keys
from pywire_auth.types import LOCAL_PROVIDER, JSONValue, ProviderLink, UserRecord

__all__ = ["SESSION_CLAIM", "LocalIdP", "SessionEnder"]

#: ``(user_id, keep_token) -> None``: end every session of the user except the one
#: of ``keep_token`` (if not ``None``) and drop their live pages. ``connect_auth``
#: installs one (:meth:`LocalIdP.set_session_ender`).
SessionEnder = Callable[[str, str | None], Awaitable[None]]

logger = logging.getLogger("pywire_auth.local")

SECRET_ENV = "LOCAL_IDP_SECRET"  # noqa: S105 - the variable's name, not a secret
#: PEM, JWK or JWK Set text of the private key(s), or the path of a file holding it.
PRIVATE_KEY_ENV = "LOCAL_IDP_PRIVATE_KEY"

# Sign-in refuses to hash absurdly long input even if the policy was widened later:
# Argon2 pre-hashes the password, so cost grows with its length.
_MAX_VERIFY_CHARS = MAX_PASSWORD_CHARS
# How often a password change retries when sign-ins keep rehashing the old password.
_CHANGE_ATTEMPTS = 3
#: The claim binding a token to the session it was issued for (RFC 9068's ``sid``,
#: OpenID Connect's session id): the stored session id, never the cookie token.
SESSION_CLAIM = "sid"
# Claims a stored user may not carry: the principal and the token own them.
_OWNED_CLAIMS = RESERVED_CLAIMS | {"email"}


class LocalIdP:
    """The built-in password identity provider.

    >>> idp = LocalIdP(secret="3f9a1c7e5b2d4086c1e9a7f3b5d20c84")
    >>> import asyncio
    >>> uid = asyncio.run(idp.create_user(email="Ann@Example.com", password="long enough"))
    >>> asyncio.run(idp.verify_credentials(email="ann@example.com", password="long enough")).name
    'ann@example.com'

    ``secret`` falls back to the ``LOCAL_IDP_SECRET`` environment variable; it must
    pass :func:`~pywire_auth._secrets.check_secret` (32 bytes or more, no
    whitespace, at least 8 distinct characters, not one short pattern repeated).
    Pass ``token_issuer`` to sign tokens some other way.

    ``private_keys`` (else ``LOCAL_IDP_PRIVATE_KEY``: PEM, JWK or JWK Set text, or
    a file's path) signs with RS256 or EdDSA instead: the first key signs, the
    others, ``secret`` and ``fallback_secrets`` only verify, and the secret becomes
    optional. ``publish_jwks=True`` serves their public parts at
    ``GET /.well-known/jwks.json`` under ``connect_auth`` (docs/tokens.md).

    A password change or reset, and deleting a user, end the user's sessions
    (session fixation after a credential change, ASVS V3.3.3): on their own
    through the store, when it is a :class:`~pywire_auth.SessionStore`, and under
    ``connect_auth`` through the app, which also drops the user's live pages.
    """

    provider = LOCAL_PROVIDER

    def __init__(
        self,
        store: AuthStore | None = None,
        secret: str = "",
        issuer: str = "pywire-auth-local",
        audience: str = "",
        token_issuer: TokenIssuer | None = None,
        *,
        hasher: PasswordHasher | None = None,
        password_policy: PasswordPolicy | None = None,
        token_ttl: int = 900,
        fallback_secrets: Sequence[str | FallbackSecret] = (),
        private_keys: KeySource | Sequence[KeySource] = (),
        publish_jwks: bool = False,
    ) -> None:
        if token_issuer is None:
            key = secret or os.environ.get(SECRET_ENV, "")
            keys_name = "private_keys" if private_keys else PRIVATE_KEY_ENV
            private = private_keys or os.environ.get(PRIVATE_KEY_ENV, "")
            if not key and not private:
                raise ConfigurationError(
                    f"LocalIdP needs a signing secret: pass secret=... or set {SECRET_ENV} "
                    "(generate one with: openssl rand -hex 32), or for RS256/EdDSA "
                    f"pass private_keys=... or set {PRIVATE_KEY_ENV}"
                )
            if key:
                check_secret(key, "secret" if secret else SECRET_ENV)
            old_keys = [_secret_text(old) for old in fallback_secrets]
            for old_key in old_keys:
                check_secret(old_key, "fallback_secrets")
            self.secret_fingerprints = frozenset(
                secret_fingerprint(k) for k in (key, *old_keys) if k
            )
            token_issuer = TokenIssuer(
                key or None,
                issuer=issuer,
                audience=audience,
                default_ttl=token_ttl,
                fallback_secrets=fallback_secrets,
                private_keys=_named_keys(private, keys_name),
            )
        else:
            #: One-way tags of the token secrets (none when a token issuer was given),
            #: so connect_auth can refuse a session secret equal to one of them.
            self.secret_fingerprints = frozenset()
        if publish_jwks and not token_issuer.public_jwks()["keys"]:
            raise ConfigurationError(
                "publish_jwks=True needs private_keys (or LOCAL_IDP_PRIVATE_KEY): "
                "an HS256 secret has no public part to publish"
            )
        #: Whether ``connect_auth`` serves ``GET /.well-known/jwks.json``.
        self.publish_jwks = publish_jwks
        self._session_ender: SessionEnder | None = None
        self.store: AuthStore = store if store is not None else MemoryAuthStore()
        self.tokens = token_issuer
        self.hasher: PasswordHasher = hasher if hasher is not None else Argon2Hasher()
        self.password_policy = password_policy or PasswordPolicy()

    def __repr__(self) -> str:
        return f"LocalIdP(store={self.store!r}, tokens={self.tokens!r})"

    @property
    def issuer(self) -> str:
        """The ``iss`` of this IdP's tokens (``LocalIdP(issuer=...)``, ``pywire-auth-local``)."""
        return self.tokens.issuer

    async def create_user(
        self,
        *,
        email: str,
        password: str,
        name: str = "",
        claims: Mapping[str, JSONValue] | None = None,
        **extra: JSONValue,
    ) -> str:
        """Register a password account and return its new user id.

        Raises :class:`~pywire_auth.UserExistsError` if the (normalized) email, or
        one confusable with it (same UTS #39 skeleton), is taken, and
        :class:`~pywire_auth.InvalidInputError` subclasses for a bad or mixed-script
        email, a password outside the policy (``WeakPasswordError.reason`` says
        why), or bad claims.
        """
        address = normalize_email(email)
        check_new_email(address)
        display = normalize_name(name)
        user_claims = dict(claims or {})
        owned = _OWNED_CLAIMS.intersection(user_claims)
        if owned:
            raise ReservedClaimError(
                f"these claims cannot be stored on a user: {sorted(owned)}"
                + reserved_claim_advice(owned)
            )
        plain = await self.password_policy.check(password, email=address)
        user_id = str(uuid.uuid4())
        user = UserRecord(
            user_id=user_id, email=address, name=display, claims=user_claims, extras=extra
        )
        link = ProviderLink(provider=LOCAL_PROVIDER, subject=address, user_id=user_id)
        # Reserves the address's look-alikes in the same transaction: the store's
        # unique key refuses "\u0430dmin@" (Cyrillic a) once "admin@" exists, race-free.
        skeleton = ProviderLink(EMAIL_SKELETON_PROVIDER, email_skeleton_key(address), user_id)
        pw_hash = await self.hasher.hash(plain)
        await self.store.create_user(user, link=link, pw_hash=pw_hash, extra_links=(skeleton,))
        return user_id

    async def verify_credentials(self, *, email: str, password: str) -> ClaimsPrincipal | None:
        """Return the principal if the email and password match, else ``None``.

        Unknown emails, users without a password and wrong passwords all give
        ``None`` after exactly one Argon2 verification, so neither the answer nor
        its timing tells whether an account exists. Raises
        :class:`~pywire_auth.AccountDisabledError` when the password is right but
        the account is disabled, :class:`~pywire_auth.ThrottledError` when too many
        checks are queued and
        :class:`~pywire_auth.StoreUnavailableError` when the store is down.
        """
        try:
            addresses = email_lookup_forms(email)
            plain = normalize_password(password)
            if not plain or len(plain) > _MAX_VERIFY_CHARS:
                raise InvalidInputError("unusable password")
        except InvalidInputError:
            await self.hasher.verify_dummy("")
            return None
        record = None
        for address in addresses:  # one look-up, unless the domain is internationalized
            record = await self.store.get_login(LOCAL_PROVIDER, address)
            if record is not None:
                break
        if record is None or record.pw_hash is None:
            await self.hasher.verify_dummy(plain)
            return None
        if not await self.hasher.verify(record.pw_hash, plain):
            return None
        if record.user.disabled:
            # Only after the password proved right: to anyone else a disabled
            # account looks like every other failed sign-in (same answer, one hash).
            raise AccountDisabledError("this account is disabled")
        if self.hasher.needs_rehash(record.pw_hash):
            await self._rehash(record.user.user_id, record.pw_hash, plain)
        return principal_for(record.user)

    async def _rehash(self, user_id: str, old_hash: str, password: str) -> None:
        # Best effort: a store or hasher failure (an AuthError: unavailable,
        # throttled) must not fail the sign-in it rides on. The
        # compare-and-set loses to a password change made meanwhile, as it should.
        try:
            new_hash = await self.hasher.hash(password)
            await self.store.set_password_hash(user_id, new_hash, expected=old_hash)
        except AuthError as exc:
            logger.warning("password rehash failed (%s); keeping the old hash", exc.code)

    def set_session_ender(self, ender: SessionEnder | None) -> None:
        """Let the app end sessions after a credential change (``connect_auth`` does).

        Without one the IdP deletes the sessions from its store itself, but cannot
        reach live pages.
        """
        self._session_ender = ender

    async def _end_sessions(self, user_id: str, keep: str | None) -> None:
        if self._session_ender is not None:
            await self._session_ender(user_id, keep)
            return
        store = self.store
        if isinstance(store, SessionStore):
            keep_id = SessionManager.session_id(keep) if keep else None
            await store.delete_user_sessions(user_id, keep=keep_id)

    async def change_password(
        self,
        *,
        user_id: str,
        old_password: str,
        new_password: str,
        keep_session: str | None = None,
    ) -> bool:
        """Replace the password if ``old_password`` is right; ``False`` otherwise.

        On success every other session of the user ends (and, under
        ``connect_auth``, their live pages are signed out), so whoever else knew
        the old password is shut out. ``keep_session`` is the session token to
        keep, normally the caller's own:
        ``request.scope["pywire_auth.session_token"]``.

        A sign-in rehashing the old password meanwhile does not make it fail; a
        different password set meanwhile does (``False``). Raises
        :class:`~pywire_auth.WeakPasswordError` if the new password breaks policy
        (checked first, also against the user's email and, if configured, HIBP).
        Each call writes one ``password_change`` record to the audit log.
        """
        uid = plain_user_id(user_id)
        try:
            changed = await self._change_password(uid, old_password, new_password, keep_session)
        except AuthError as exc:
            audit("password_change", "failure", user_id=uid, reason=exc.code)
            raise
        if changed:
            audit("password_change", "success", user_id=uid)
        else:
            audit("password_change", "failure", user_id=uid, reason="invalid")
        return changed

    async def _change_password(
        self, uid: str, old_password: str, new_password: str, keep_session: str | None
    ) -> bool:
        new_plain = await self.password_policy.check(new_password, email=await self._email(uid))
        old_plain = normalize_password(old_password)
        old_hash = await self.store.get_password_hash(uid)
        if old_hash is None or len(old_plain) > _MAX_VERIFY_CHARS:
            await self.hasher.verify_dummy(old_plain[:_MAX_VERIFY_CHARS])
            return False
        if not await self.hasher.verify(old_hash, old_plain):
            return False
        new_hash = await self.hasher.hash(new_plain)
        for _ in range(_CHANGE_ATTEMPTS):
            if await self.store.set_password_hash(uid, new_hash, expected=old_hash):
                await self._end_sessions(uid, keep_session)
                return True
            # The hash changed since we read it. A sign-in may only have rehashed
            # the same password (then try again on top of it); a real change by
            # someone else wins, and this one reports failure.
            current = await self.store.get_password_hash(uid)
            if current is None or current == old_hash:
                return False
            if not await self.hasher.verify(current, old_plain):
                return False
            old_hash = current
        return False

    async def reset_password(
        self, *, user_id: str, new_password: str, keep_session: str | None = None
    ) -> None:
        """Set a new password without the old one (admin reset, reset-link flows).

        Every session of the user but ``keep_session`` (a session token) ends, as
        after :meth:`change_password`. Raises :class:`~pywire_auth.UserNotFoundError`
        for an unknown user. Each call writes one ``password_reset`` record to the
        audit log.
        """
        uid = plain_user_id(user_id)
        try:
            new_plain = await self.password_policy.check(new_password, email=await self._email(uid))
            new_hash = await self.hasher.hash(new_plain)
            if not await self.store.set_password_hash(uid, new_hash):
                raise UserNotFoundError(f"no user {user_id!r}")
        except AuthError as exc:
            audit("password_reset", "failure", user_id=uid, reason=exc.code)
            raise
        audit("password_reset", "success", user_id=uid)
        await self._end_sessions(uid, keep_session)

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user (id or ``local:<id>``) with their sessions; ``False`` if unknown.

        Under ``connect_auth`` their live pages are signed out too.
        """
        uid = plain_user_id(user_id)
        deleted = await self.store.delete_user(uid)
        if deleted:
            await self._end_sessions(uid, None)
        return deleted

    async def _email(self, user_id: str) -> str:
        # For the policy's contains_email check; "" for an unknown user.
        user = await self.store.get_user(user_id)
        return user.email if user else ""

    async def principal_for_user(self, user_id: str) -> ClaimsPrincipal | None:
        """The principal of a stored user (id or ``local:<id>``), or ``None``."""
        user = await self.store.get_user(plain_user_id(user_id))
        return principal_for(user) if user else None

    def issue_id_token(
        self,
        *,
        user_id: str,
        claims: Mapping[str, Any] | None = None,
        ttl: int | None = None,
        audience: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Sign a JWT whose ``sub`` is ``user_id``; ``claims`` cannot override registered ones.

        ``session_id`` (the *stored* session id, ``SessionManager.session_id(token)``)
        goes in the ``sid`` claim, which ``claims`` cannot set: ``POST
        {prefix}/local/verify-token`` then refuses the token once that session ends.
        """
        extra = dict(claims or {})
        if SESSION_CLAIM in extra:
            raise ReservedClaimError(f"pass session_id=... instead of a {SESSION_CLAIM!r} claim")
        if session_id is not None:
            if not isinstance(session_id, str) or not session_id:
                raise InvalidInputError("session_id must be a non-empty string")
            extra[SESSION_CLAIM] = session_id
        return self.tokens.issue(plain_user_id(user_id), claims=extra, ttl=ttl, audience=audience)

    def verify_id_token(self, token: str, audience: str | None = None) -> dict[str, Any] | None:
        """The claims of a valid token, or ``None`` (bad signature, expired, wrong iss/aud).

        Stateless: it checks the signature and the registered claims only, never the
        store, so a token stays valid here after its session ended or its user was
        deleted, until ``exp``. ``POST {prefix}/local/verify-token`` also checks both.
        """
        return self.tokens.verify(token, audience=audience)

    async def principal_from_id_token(
        self, token: str, audience: str | None = None
    ) -> ClaimsPrincipal | None:
        """The principal of a valid token's user, with the token's own claims added.

        ``None`` if the token is invalid or its user no longer exists or is disabled.
        """
        claims = self.verify_id_token(token, audience=audience)
        if claims is None:
            return None
        user = await self.store.get_user(claims["sub"])
        if user is None or user.disabled:
            return None
        extra = {k: v for k, v in claims.items() if k not in _OWNED_CLAIMS}
        return principal_for(user, extra)

    async def aclose(self) -> None:
        """Close the store and stop the hashing threads."""
        await self.store.close()
        close = getattr(self.hasher, "close", None)
        if callable(close):
            close()


def _named_keys(source: KeySource | Sequence[KeySource], name: str) -> list[SigningKey]:
    # Loaded here, not in TokenIssuer, so errors name the setting the user wrote.
    return load_private_keys(source, name) if source else []


def _secret_text(secret: str | FallbackSecret) -> str:
    # A retiring fallback is still a key: it must be as strong as the others.
    raw = secret.secret if isinstance(secret, FallbackSecret) else secret
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
