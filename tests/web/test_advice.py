"""Where we deliberately differ from pywire-auth 0.4, the error says what to do instead."""

from __future__ import annotations

import logging

import pytest
from pywire import PyWire

from pywire_auth import (
    ConfigurationError,
    MemoryAuthStore,
    MemoryThrottle,
    ReservedClaimError,
    ThrottlePolicy,
    WeakPasswordError,
    connect_auth,
)
from tests.web.conftest import (
    PAGES_DIR,
    SESSION_SECRET,
    AppFactory,
    error_code,
    login,
    make_idp,
    register,
)

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("claim", "advice"),
    [("exp", "ttl="), ("sub", "user_id="), ("aud", "audience="), ("iss", "issuer=")],
)
async def test_a_registered_claim_names_the_argument_to_use(claim: str, advice: str) -> None:
    idp = make_idp()
    with pytest.raises(ReservedClaimError, match=advice):
        idp.issue_id_token(user_id="u1", claims={claim: "x"})


async def test_an_email_claim_on_a_new_user_names_the_argument() -> None:
    with pytest.raises(ReservedClaimError, match=r"create_user\(email="):
        await make_idp().create_user(
            email="ann@example.com", password="correct horse battery", claims={"email": "x"}
        )


async def test_a_refused_password_says_where_the_rules_are() -> None:
    idp = make_idp()
    with pytest.raises(WeakPasswordError, match=r"password_policy=PasswordPolicy") as caught:
        await idp.create_user(email="ann@example.com", password="password")
    assert caught.value.reason == "common"  # the code the routes use is unchanged
    assert caught.value.code == "weak_password"


class OldThrottle:
    """A throttle written for pywire-auth < 0.5: hit(key) with its own numbers."""

    async def hit(self, key: str) -> bool:
        return True

    async def undo(self, key: str) -> None:
        return None

    async def reset(self, key: str) -> None:
        return None


async def test_an_old_throttle_is_refused_with_the_policy_to_use() -> None:
    with pytest.raises(ConfigurationError, match=r"throttle_policy=ThrottlePolicy"):
        connect_auth(
            PyWire(pages_dir=str(PAGES_DIR)),
            local_idp=make_idp(MemoryAuthStore()),
            session_secret=SESSION_SECRET,
            throttle=OldThrottle(),
        )


@pytest.mark.parametrize("web_backend", ["memory"])
async def test_a_posted_role_grants_nothing_and_says_how_to_grant(
    app_factory: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    web = await app_factory()
    with caplog.at_level(logging.WARNING, "pywire_auth.routes"):
        await register(web.client(), "ann@example.com", role="admin")
        await register(web.client(), "bob@example.com", role="admin")
    user = await web.user("ann@example.com")
    assert user is not None
    assert "role" not in user.claims
    warnings = [r.getMessage() for r in caplog.records if r.name == "pywire_auth.routes"]
    assert len(warnings) == 1, warnings  # once per field, not per sign-up
    assert "'role'" in warnings[0]
    assert "registration_claims=" in warnings[0]


@pytest.mark.parametrize("web_backend", ["memory"])
async def test_a_throttle_configured_the_pre_0_5_way_counts_with_its_rule(
    app_factory: AppFactory,
) -> None:
    # MemoryThrottle(limit=, window=), as this project's earlier docs configured it.
    web = await app_factory(throttle=MemoryThrottle(limit=2, window=300))
    await register(web.client(), "ann@example.com")
    answers = [
        error_code(await login(web.client(), "ann@example.com", "wrong password")) for _ in range(3)
    ]
    assert answers == ["invalid", "invalid", "throttled"]


async def test_a_throttle_rule_and_a_policy_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="throttle_policy"):
        connect_auth(
            PyWire(pages_dir=str(PAGES_DIR)),
            local_idp=make_idp(MemoryAuthStore()),
            session_secret=SESSION_SECRET,
            throttle=MemoryThrottle(limit=2, window=300),
            throttle_policy=ThrottlePolicy(),
        )
