"""LocalIdP on the MemoryAuthStore: accounts, sign-in, password changes and tokens.

``counting_hasher`` (see conftest.py) is a real, cheap Argon2 hasher that counts
verifications, real and dummy together: every failed sign-in must cost exactly one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from pywire.auth import ClaimsPrincipal

from pywire_auth import (
    LOCAL_PROVIDER,
    Argon2Hasher,
    AuthError,
    ConfigurationError,
    InvalidEmailError,
    InvalidInputError,
    LocalIdP,
    MemoryAuthStore,
    MissingFieldError,
    PasswordPolicy,
    ReservedClaimError,
    ThrottledError,
    TokenIssuer,
    UserExistsError,
    UserNotFoundError,
    UserRecord,
    WeakPasswordError,
)
from pywire_auth.local.confusables import EMAIL_SKELETON_PROVIDER, email_skeleton_key
from pywire_auth.types import ProviderLink

FAST = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}
_M_P = {"memory_cost": 8192, "parallelism": 1}  # FAST without time_cost
EMAIL = "alice@example.com"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "new password 12345"
OTHER_SECRET = "another-secret-" + "y" * 32


async def make_user(idp: LocalIdP, **kwargs: Any) -> str:
    fields: dict[str, Any] = {"email": EMAIL, "password": PASSWORD, **kwargs}
    return await idp.create_user(**fields)


async def login(idp: LocalIdP, email: str = EMAIL, password: str = PASSWORD) -> Any:
    return await idp.verify_credentials(email=email, password=password)


# --- construction and secrets ----------------------------------------------------------


def test_missing_secret_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_IDP_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="LOCAL_IDP_SECRET") as info:
        LocalIdP()
    assert info.value.code == "config"


def test_empty_env_secret_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_IDP_SECRET", "")
    with pytest.raises(ConfigurationError):
        LocalIdP()


def test_env_secret_is_used(monkeypatch: pytest.MonkeyPatch, counting_hasher: Argon2Hasher) -> None:
    env_secret = "from-the-environment-" + "e" * 32
    monkeypatch.setenv("LOCAL_IDP_SECRET", env_secret)
    idp = LocalIdP(hasher=counting_hasher)
    token = idp.issue_id_token(user_id="u1")
    payload = idp.verify_id_token(token)
    assert payload is not None
    assert payload["sub"] == "u1"
    # Signed with exactly the environment's secret.
    assert TokenIssuer(env_secret).verify(token) is not None
    assert TokenIssuer(OTHER_SECRET).verify(token) is None


def test_explicit_secret_beats_env(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("LOCAL_IDP_SECRET", OTHER_SECRET)
    idp = LocalIdP(secret=secret, hasher=Argon2Hasher(**FAST))
    token = idp.issue_id_token(user_id="u1")
    assert TokenIssuer(secret).verify(token) is not None
    assert TokenIssuer(OTHER_SECRET).verify(token) is None


def test_short_secret_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_IDP_SECRET", raising=False)
    with pytest.raises(ConfigurationError):
        LocalIdP(secret="too short")
    monkeypatch.setenv("LOCAL_IDP_SECRET", "s" * 31)
    with pytest.raises(ConfigurationError):
        LocalIdP()


def test_token_issuer_replaces_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_IDP_SECRET", raising=False)
    tokens = TokenIssuer(OTHER_SECRET, issuer="custom")
    idp = LocalIdP(token_issuer=tokens, hasher=Argon2Hasher(**FAST))
    assert idp.tokens is tokens
    payload = idp.verify_id_token(idp.issue_id_token(user_id="u1"))
    assert payload is not None
    assert payload["iss"] == "custom"


def test_defaults(secret: str) -> None:
    idp = LocalIdP(secret=secret)
    assert isinstance(idp.store, MemoryAuthStore)
    assert isinstance(idp.hasher, Argon2Hasher)
    assert idp.password_policy == PasswordPolicy()
    assert idp.provider == LOCAL_PROVIDER == "local"


def test_repr_does_not_leak_secret(idp: LocalIdP, secret: str) -> None:
    assert secret not in repr(idp)
    assert secret[:20] not in repr(idp)


def test_fallback_secrets_verify_old_tokens(secret: str) -> None:
    old = LocalIdP(secret=OTHER_SECRET, hasher=Argon2Hasher(**FAST))
    rotated = LocalIdP(secret=secret, fallback_secrets=[OTHER_SECRET], hasher=Argon2Hasher(**FAST))
    assert rotated.verify_id_token(old.issue_id_token(user_id="u1")) is not None
    assert old.verify_id_token(rotated.issue_id_token(user_id="u1")) is None


# --- create_user ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_user_returns_uuid_and_stores_normalized(
    idp: LocalIdP, store: MemoryAuthStore
) -> None:
    user_id = await make_user(idp, email="  Alice@Example.COM ", name="  Alice  ")
    assert isinstance(user_id, str)
    assert str(uuid.UUID(user_id)) == user_id
    user = await store.get_user(user_id)
    assert user is not None
    assert user.email == EMAIL
    assert user.name == "Alice"
    linked = await store.get_user_by_link(LOCAL_PROVIDER, EMAIL)
    assert linked is not None
    assert linked.user_id == user_id
    pw_hash = await store.get_password_hash(user_id)
    assert pw_hash is not None
    assert pw_hash.startswith("$argon2id$")
    assert PASSWORD not in pw_hash


@pytest.mark.asyncio
async def test_each_user_gets_a_new_id(idp: LocalIdP) -> None:
    first = await make_user(idp, email="a@example.com")
    second = await make_user(idp, email="b@example.com")
    assert first != second


@pytest.mark.parametrize(
    "duplicate",
    [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "  Alice@example.com\t",
        "\uff41\uff4c\uff49\uff43\uff45\uff20example.com",
    ],
)
@pytest.mark.asyncio
async def test_duplicate_email_in_any_form_is_refused(
    idp: LocalIdP, store: MemoryAuthStore, duplicate: str
) -> None:
    user_id = await make_user(idp, email="Alice@Example.com")
    with pytest.raises(UserExistsError) as info:
        await make_user(idp, email=duplicate, password="another password")
    assert info.value.code == "exists"
    # Older code catching ValueError keeps working.
    with pytest.raises(ValueError, match=r"."):
        await make_user(idp, email=duplicate, password="another password")
    # The original account is untouched.
    principal = await login(idp, email=duplicate)
    assert principal is not None
    assert principal.user_id == f"local:{user_id}"
    assert await login(idp, password="another password") is None
    assert await store.get_links(user_id) == [
        ProviderLink(provider=LOCAL_PROVIDER, subject=EMAIL, user_id=user_id),
        ProviderLink(EMAIL_SKELETON_PROVIDER, email_skeleton_key(EMAIL), user_id),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"password": "short"}, WeakPasswordError, id="short"),
        pytest.param({"password": "x" * 257}, WeakPasswordError, id="long"),
        pytest.param({"password": "pass\x00word!"}, WeakPasswordError, id="nul"),
        pytest.param({"password": ""}, MissingFieldError, id="empty-password"),
        pytest.param({"email": ""}, MissingFieldError, id="empty-email"),
        pytest.param({"email": "not-an-email"}, InvalidEmailError, id="bad-email"),
        pytest.param({"name": "bad\nname"}, InvalidInputError, id="bad-name"),
        pytest.param({"claims": {"sub": "admin"}}, ReservedClaimError, id="claim-sub"),
        pytest.param({"claims": {"email": "x@y.z"}}, ReservedClaimError, id="claim-email"),
        pytest.param({"claims": {"exp": 1}}, ReservedClaimError, id="claim-exp"),
        pytest.param({"claims": {"iss": "x", "jti": "y"}}, ReservedClaimError, id="claim-iss"),
        pytest.param({"claims": {"x": object()}}, InvalidInputError, id="claim-not-json"),
    ],
)
@pytest.mark.asyncio
async def test_create_user_refuses_bad_input_and_stores_nothing(
    idp: LocalIdP, store: MemoryAuthStore, kwargs: dict[str, Any], error: type[AuthError]
) -> None:
    with pytest.raises(error):
        await make_user(idp, **kwargs)
    assert await store.get_user_by_link(LOCAL_PROVIDER, EMAIL) is None
    assert await login(idp) is None
    # The email is still free.
    assert await make_user(idp)


@pytest.mark.asyncio
async def test_create_user_refuses_lone_surrogate_password_as_invalid_input(
    idp: LocalIdP, store: MemoryAuthStore
) -> None:
    # A JSON body can carry "\ud800"; it must be an InvalidInputError (a 4xx code),
    # not a UnicodeEncodeError escaping from Argon2 in a worker thread.
    with pytest.raises(InvalidInputError):
        await make_user(idp, password="pass\ud800word")
    assert await store.get_user_by_link(LOCAL_PROVIDER, EMAIL) is None


@pytest.mark.asyncio
async def test_custom_password_policy(store: MemoryAuthStore, secret: str) -> None:
    strict = LocalIdP(
        store=store,
        secret=secret,
        hasher=Argon2Hasher(**FAST),
        password_policy=PasswordPolicy(min_length=30),
    )
    with pytest.raises(WeakPasswordError):
        await make_user(strict)
    assert await make_user(strict, password="thirty characters or more here")


@pytest.mark.asyncio
async def test_extras_are_stored_but_never_claims(idp: LocalIdP, store: MemoryAuthStore) -> None:
    user_id = await make_user(idp, plan="pro", prefs={"theme": "dark"}, beta=True)
    user = await store.get_user(user_id)
    assert user is not None
    assert dict(user.extras) == {"plan": "pro", "prefs": {"theme": "dark"}, "beta": True}
    assert dict(user.claims) == {}
    principal = await login(idp)
    assert principal is not None
    assert not principal.has_claim("plan")
    assert not principal.has_claim("beta")


# --- verify_credentials -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_verify_credentials_returns_principal(idp: LocalIdP) -> None:
    claims = {"role": ["admin", "editor"], "email_verified": True, "level": 3, "off": False}
    user_id = await make_user(idp, name="Alice", claims=claims)
    before = idp.hasher.verifications  # type: ignore[attr-defined]

    principal = await login(idp, email="ALICE@example.com")

    assert isinstance(principal, ClaimsPrincipal)
    assert idp.hasher.verifications - before == 1  # type: ignore[attr-defined]
    assert principal.is_authenticated is True
    assert principal.user_id == f"local:{user_id}"
    assert principal.name == "Alice"
    assert principal.claim_value("sub") == user_id
    assert principal.claim_value("email") == EMAIL
    assert principal.claim_value("name") == "Alice"
    roles = [c.value for c in principal.claims if c.type == "role"]
    assert roles == ["admin", "editor"]
    assert principal.has_claim("role", "admin")
    assert principal.has_claim("role", "editor")
    assert principal.has_claim("email_verified", "true")
    assert principal.has_claim("off", "false")
    assert principal.has_claim("level", "3")
    assert principal.raw["sub"] == user_id
    assert principal.raw["email"] == EMAIL


@pytest.mark.asyncio
async def test_principal_name_defaults_to_email(idp: LocalIdP) -> None:
    await make_user(idp)
    principal = await login(idp)
    assert principal is not None
    assert principal.name == EMAIL
    assert principal.claim_value("name") is None


@pytest.mark.asyncio
async def test_password_is_nfkc_normalized_but_not_trimmed(idp: LocalIdP) -> None:
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in "pywire-auth1")
    await make_user(idp, password=fullwidth)
    assert await login(idp, password="pywire-auth1") is not None
    await make_user(idp, email="bob@example.com", password=" padded pw ")
    assert await login(idp, email="bob@example.com", password=" padded pw ") is not None
    assert await login(idp, email="bob@example.com", password="padded pw") is None


async def _user_without_password(store: MemoryAuthStore) -> None:
    user_id = str(uuid.uuid4())
    await store.create_user(
        UserRecord(user_id=user_id, email="nopw@example.com"),
        link=ProviderLink(provider=LOCAL_PROVIDER, subject="nopw@example.com", user_id=user_id),
        pw_hash=None,
    )


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param(EMAIL, "wrong password", id="wrong-password"),
        pytest.param(EMAIL, PASSWORD + " ", id="trailing-space"),
        pytest.param(EMAIL, "x" * 300, id="longer-than-policy"),
        pytest.param(EMAIL, "x" * 5000, id="over-long-password"),
        pytest.param(EMAIL, "", id="empty-password"),
        pytest.param(EMAIL, None, id="non-str-password"),
        pytest.param(EMAIL, "pass\ud800word", id="surrogate-password"),
        pytest.param("nobody@example.com", PASSWORD, id="unknown-email"),
        pytest.param("nopw@example.com", PASSWORD, id="user-without-password"),
        pytest.param("nopw@example.com", "", id="user-without-password-empty"),
        pytest.param("not-an-email", PASSWORD, id="invalid-email"),
        pytest.param("", PASSWORD, id="empty-email"),
        pytest.param(None, PASSWORD, id="non-str-email"),
        pytest.param("a\u200b@example.com", PASSWORD, id="zero-width-email"),
    ],
)
@pytest.mark.asyncio
async def test_failed_sign_in_is_none_after_exactly_one_verification(
    idp: LocalIdP, store: MemoryAuthStore, email: Any, password: Any
) -> None:
    await make_user(idp)
    await _user_without_password(store)
    for _ in range(2):  # the lazily made dummy hash must not change the count
        before = idp.hasher.verifications  # type: ignore[attr-defined]
        assert await idp.verify_credentials(email=email, password=password) is None
        assert idp.hasher.verifications - before == 1  # type: ignore[attr-defined]
        assert idp.hasher.pending == 0  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_throttled_sign_in_raises(store: MemoryAuthStore, secret: str) -> None:
    class Saturated(Argon2Hasher):
        async def verify(self, pw_hash: str, password: str) -> bool:
            raise ThrottledError

        async def verify_dummy(self, password: str) -> None:
            raise ThrottledError

    idp = LocalIdP(store=store, secret=secret, hasher=Saturated(**FAST))
    await make_user(idp)
    with pytest.raises(ThrottledError):
        await login(idp)
    with pytest.raises(ThrottledError):
        await login(idp, email="nobody@example.com")


# --- change_password / reset_password ---------------------------------------------------


@pytest.mark.asyncio
async def test_change_password(idp: LocalIdP) -> None:
    user_id = await make_user(idp)
    changed = await idp.change_password(
        user_id=user_id, old_password=PASSWORD, new_password=NEW_PASSWORD
    )
    assert changed is True
    assert await login(idp) is None
    assert await login(idp, password=NEW_PASSWORD) is not None


@pytest.mark.asyncio
async def test_change_password_accepts_principal_user_id(idp: LocalIdP) -> None:
    await make_user(idp)
    principal = await login(idp)
    assert principal is not None
    assert principal.user_id.startswith("local:")
    assert await idp.change_password(
        user_id=principal.user_id, old_password=PASSWORD, new_password=NEW_PASSWORD
    )
    assert await login(idp, password=NEW_PASSWORD) is not None


@pytest.mark.asyncio
async def test_change_password_with_wrong_old_password(idp: LocalIdP) -> None:
    user_id = await make_user(idp)
    before = idp.hasher.verifications  # type: ignore[attr-defined]
    changed = await idp.change_password(
        user_id=user_id, old_password="not the password", new_password=NEW_PASSWORD
    )
    assert changed is False
    assert idp.hasher.verifications - before == 1  # type: ignore[attr-defined]
    assert await login(idp) is not None
    assert await login(idp, password=NEW_PASSWORD) is None


@pytest.mark.parametrize("user_id", ["no-such-user", "local:no-such-user"])
@pytest.mark.asyncio
async def test_change_password_unknown_user(idp: LocalIdP, user_id: str) -> None:
    before = idp.hasher.verifications  # type: ignore[attr-defined]
    changed = await idp.change_password(
        user_id=user_id, old_password=PASSWORD, new_password=NEW_PASSWORD
    )
    assert changed is False
    assert idp.hasher.verifications - before == 1  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_change_password_to_weak_password(idp: LocalIdP) -> None:
    user_id = await make_user(idp)
    with pytest.raises(WeakPasswordError):
        await idp.change_password(user_id=user_id, old_password=PASSWORD, new_password="short")
    assert await login(idp) is not None
    assert await login(idp, password="short") is None


@pytest.mark.asyncio
async def test_reset_password(idp: LocalIdP) -> None:
    user_id = await make_user(idp)
    assert await idp.reset_password(user_id=user_id, new_password=NEW_PASSWORD) is None
    assert await login(idp) is None
    assert await login(idp, password=NEW_PASSWORD) is not None
    await idp.reset_password(user_id=f"local:{user_id}", new_password="third password")
    assert await login(idp, password="third password") is not None


@pytest.mark.asyncio
async def test_reset_password_gives_passwordless_user_a_password(
    idp: LocalIdP, store: MemoryAuthStore
) -> None:
    await _user_without_password(store)
    user = await store.get_user_by_link(LOCAL_PROVIDER, "nopw@example.com")
    assert user is not None
    await idp.reset_password(user_id=user.user_id, new_password=NEW_PASSWORD)
    assert await login(idp, email="nopw@example.com", password=NEW_PASSWORD) is not None


@pytest.mark.asyncio
async def test_reset_password_unknown_user(idp: LocalIdP) -> None:
    with pytest.raises(UserNotFoundError) as info:
        await idp.reset_password(user_id="no-such-user", new_password=NEW_PASSWORD)
    assert info.value.code == "not_found"
    assert isinstance(info.value, LookupError)


@pytest.mark.asyncio
async def test_reset_password_to_weak_password(idp: LocalIdP) -> None:
    user_id = await make_user(idp)
    with pytest.raises(WeakPasswordError):
        await idp.reset_password(user_id=user_id, new_password="short")
    assert await login(idp) is not None


# --- rehash on sign-in ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sign_in_upgrades_an_outdated_hash(store: MemoryAuthStore, secret: str) -> None:
    old = LocalIdP(store=store, secret=secret, hasher=Argon2Hasher(time_cost=1, **_M_P))
    user_id = await make_user(old)
    old_hash = await store.get_password_hash(user_id)
    assert old_hash is not None
    assert "t=1" in old_hash

    new = LocalIdP(store=store, secret=secret, hasher=Argon2Hasher(time_cost=2, **_M_P))
    principal = await login(new)
    assert principal is not None
    assert principal.user_id == f"local:{user_id}"

    upgraded = await store.get_password_hash(user_id)
    assert upgraded is not None
    assert "t=2" in upgraded
    assert upgraded != old_hash
    assert not new.hasher.needs_rehash(upgraded)
    # The upgraded hash still holds the same password.
    assert await login(new) is not None
    assert await login(old) is not None


@pytest.mark.asyncio
async def test_up_to_date_hash_is_not_rewritten(idp: LocalIdP, store: MemoryAuthStore) -> None:
    user_id = await make_user(idp)
    before = await store.get_password_hash(user_id)
    assert await login(idp) is not None
    assert await store.get_password_hash(user_id) == before


class RacingHasher(Argon2Hasher):
    """Simulates a password reset that lands while the sign-in is rehashing."""

    def __init__(self, store: MemoryAuthStore, replacement: str) -> None:
        super().__init__(time_cost=2, **_M_P)
        self.store = store
        self.replacement = replacement
        self.user_id = ""
        self.rehashes = 0

    async def hash(self, password: str) -> str:
        self.rehashes += 1
        assert await self.store.set_password_hash(self.user_id, self.replacement)
        return await super().hash(password)


@pytest.mark.asyncio
async def test_rehash_does_not_overwrite_a_concurrent_password_change(
    store: MemoryAuthStore, secret: str, fast_hasher: Argon2Hasher
) -> None:
    old = LocalIdP(store=store, secret=secret, hasher=fast_hasher)
    user_id = await make_user(old)
    stale = await store.get_password_hash(user_id)
    assert stale is not None
    replacement = await fast_hasher.hash("changed meanwhile")

    racing = RacingHasher(store, replacement)
    racing.user_id = user_id
    new = LocalIdP(store=store, secret=secret, hasher=racing)
    assert await login(new) is not None  # the sign-in itself still succeeds
    assert racing.rehashes == 1
    assert await store.get_password_hash(user_id) == replacement
    assert await login(old, password="changed meanwhile") is not None


@pytest.mark.asyncio
async def test_store_compare_and_set(
    idp: LocalIdP, store: MemoryAuthStore, fast_hasher: Argon2Hasher
) -> None:
    user_id = await make_user(idp)
    stale = await store.get_password_hash(user_id)
    assert stale is not None
    first = await fast_hasher.hash("first change")
    second = await fast_hasher.hash("second change")
    assert await store.set_password_hash(user_id, first, expected=stale) is True
    assert await store.set_password_hash(user_id, second, expected=stale) is False
    assert await store.get_password_hash(user_id) == first


@pytest.mark.asyncio
async def test_failed_rehash_does_not_fail_sign_in(
    store: MemoryAuthStore, secret: str, fast_hasher: Argon2Hasher, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenHash(Argon2Hasher):
        async def hash(self, password: str) -> str:
            raise ThrottledError

    old = LocalIdP(store=store, secret=secret, hasher=fast_hasher)
    user_id = await make_user(old)
    before = await store.get_password_hash(user_id)
    new = LocalIdP(store=store, secret=secret, hasher=BrokenHash(time_cost=2, **_M_P))
    with caplog.at_level(logging.WARNING, logger="pywire_auth.local"):
        assert await login(new) is not None
    assert await store.get_password_hash(user_id) == before
    assert any("rehash" in record.getMessage() for record in caplog.records)
    assert PASSWORD not in caplog.text


# --- tokens ----------------------------------------------------------------------------


def test_id_token_roundtrip_as_in_the_spec(idp: LocalIdP) -> None:
    user_id = str(uuid.uuid4())
    token = idp.issue_id_token(user_id=user_id, claims={"role": "admin"}, ttl=600)
    payload = idp.verify_id_token(token)
    assert payload is not None
    assert payload["role"] == "admin"
    assert payload["sub"] == user_id
    assert payload["iss"] == "pywire-auth-local"
    assert payload["aud"] == "pywire-auth-local"
    assert payload["exp"] - payload["iat"] == 600


def test_id_token_default_ttl(secret: str) -> None:
    idp = LocalIdP(secret=secret, token_ttl=120, hasher=Argon2Hasher(**FAST))
    payload = idp.verify_id_token(idp.issue_id_token(user_id="u1"))
    assert payload is not None
    assert payload["exp"] - payload["iat"] == 120


def test_id_token_sub_is_the_stored_id(idp: LocalIdP) -> None:
    payload = idp.verify_id_token(idp.issue_id_token(user_id="local:abc"))
    assert payload is not None
    assert payload["sub"] == "abc"


@pytest.mark.parametrize("user_id", ["", "local:"])
def test_id_token_needs_a_user(idp: LocalIdP, user_id: str) -> None:
    with pytest.raises(InvalidInputError):
        idp.issue_id_token(user_id=user_id)


@pytest.mark.parametrize("claim", ["sub", "iss", "aud", "exp", "nbf", "iat", "jti"])
def test_id_token_reserved_claims(idp: LocalIdP, claim: str) -> None:
    with pytest.raises(ReservedClaimError):
        idp.issue_id_token(user_id="u1", claims={claim: "x"})


def test_issuer_override(secret: str) -> None:
    custom = LocalIdP(secret=secret, issuer="x", hasher=Argon2Hasher(**FAST))
    token = custom.issue_id_token(user_id="u1")
    payload = custom.verify_id_token(token)
    assert payload is not None
    assert payload["iss"] == "x"
    assert payload["aud"] == "x"
    # Same secret, default issuer: not accepted.
    assert LocalIdP(secret=secret, hasher=Argon2Hasher(**FAST)).verify_id_token(token) is None


def test_id_token_audience(idp: LocalIdP, secret: str) -> None:
    token = idp.issue_id_token(user_id="u1", audience="billing")
    assert idp.verify_id_token(token) is None
    payload = idp.verify_id_token(token, audience="billing")
    assert payload is not None
    assert payload["aud"] == "billing"
    scoped = LocalIdP(secret=secret, audience="api", hasher=Argon2Hasher(**FAST))
    assert scoped.verify_id_token(scoped.issue_id_token(user_id="u1")) is not None
    assert idp.verify_id_token(scoped.issue_id_token(user_id="u1")) is None


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 5])
def test_verify_id_token_garbage(idp: LocalIdP, token: Any) -> None:
    assert idp.verify_id_token(token) is None


@pytest.mark.asyncio
async def test_principal_from_id_token(idp: LocalIdP, store: MemoryAuthStore) -> None:
    user_id = await make_user(idp, name="Alice", claims={"tier": "gold"})
    token = idp.issue_id_token(
        user_id=user_id, claims={"role": "admin", "email": "mallory@evil.test"}
    )
    principal = await idp.principal_from_id_token(token)
    assert principal is not None
    assert principal.is_authenticated
    assert principal.user_id == f"local:{user_id}"
    assert principal.has_claim("role", "admin")
    assert principal.has_claim("tier", "gold")
    # Identity comes from the store, never from the token's own claims.
    assert principal.claim_value("email") == EMAIL
    assert not principal.has_claim("email", "mallory@evil.test")
    assert not principal.has_claim("exp")
    assert not principal.has_claim("jti")

    assert await store.delete_user(user_id) is True
    assert await idp.principal_from_id_token(token) is None


@pytest.mark.asyncio
async def test_principal_from_invalid_token(idp: LocalIdP, secret: str) -> None:
    user_id = await make_user(idp)
    assert await idp.principal_from_id_token("garbage") is None
    foreign = LocalIdP(secret=OTHER_SECRET, hasher=Argon2Hasher(**FAST))
    assert await idp.principal_from_id_token(foreign.issue_id_token(user_id=user_id)) is None
    scoped = idp.issue_id_token(user_id=user_id, audience="api")
    assert await idp.principal_from_id_token(scoped) is None
    assert await idp.principal_from_id_token(scoped, audience="api") is not None


@pytest.mark.asyncio
async def test_principal_for_user(idp: LocalIdP) -> None:
    user_id = await make_user(idp)
    for key in (user_id, f"local:{user_id}"):
        principal = await idp.principal_for_user(key)
        assert principal is not None
        assert principal.user_id == f"local:{user_id}"
        assert principal.claim_value("email") == EMAIL
    assert await idp.principal_for_user("no-such-user") is None
    assert await idp.principal_for_user("local:no-such-user") is None


# --- concurrency and lifecycle ----------------------------------------------------------


def _casings(word: str, count: int) -> list[str]:
    variants = []
    for mask in range(2 ** len(word)):
        variant = "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(word))
        variants.append(f"{variant}@Example.com")
    assert len(set(variants)) >= count
    return variants[:count]


@pytest.mark.asyncio
async def test_concurrent_registrations_of_one_email(idp: LocalIdP, store: MemoryAuthStore) -> None:
    emails = _casings("racer", 20)
    results = await asyncio.gather(
        *(
            idp.create_user(email=email, password=f"password-{i:02d}")
            for i, email in enumerate(emails)
        ),
        return_exceptions=True,
    )
    winners = [i for i, result in enumerate(results) if isinstance(result, str)]
    losers = [result for result in results if isinstance(result, UserExistsError)]
    assert len(winners) == 1
    assert len(losers) == 19
    winner = winners[0]
    user_id = results[winner]

    principal = await login(idp, email="racer@example.com", password=f"password-{winner:02d}")
    assert principal is not None
    assert principal.user_id == f"local:{user_id}"
    loser_index = (winner + 1) % 20
    assert await login(idp, email=emails[0], password=f"password-{loser_index:02d}") is None
    user = await store.get_user_by_link(LOCAL_PROVIDER, "racer@example.com")
    assert user is not None
    assert user.user_id == user_id


@pytest.mark.asyncio
async def test_aclose_stops_the_hasher(store: MemoryAuthStore, secret: str) -> None:
    class Closing(Argon2Hasher):
        closed = 0

        def close(self) -> None:
            type(self).closed += 1
            super().close()

    idp = LocalIdP(store=store, secret=secret, hasher=Closing(**FAST))
    await idp.aclose()
    assert Closing.closed == 1
