"""Every ``?error=`` code of the closed vocabulary, and the throttles behind ``throttled``."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from pywire_auth import (
    ERROR_CODES,
    AuthStore,
    MemoryAuthStore,
    RateLimit,
    SessionRecord,
    SQLAlchemyAuthStore,
    StoreUnavailableError,
    ThrottlePolicy,
)
from tests.web.conftest import (
    OUTAGE_BACKENDS,
    PASSWORD,
    PERSISTENT_BACKENDS,
    AppFactory,
    Outage,
    WebApp,
    assert_no_session_cookie,
    error_code,
    location,
    login,
    post_form,
    redirect_path,
    register,
    revoke,
    session_set_cookie,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

LOGIN_FORM = "/auth/local/login"
REGISTER_FORM = "/auth/local/register"


async def test_vocabulary_is_closed() -> None:
    assert {
        "missing",
        "invalid_email",
        "weak_password",
        "exists",
        "invalid",
        "throttled",
        "unavailable",
        "disabled",
        "cancelled",
        "provider",
        "link_required",
        "last_sign_in",
        "token_invalid",
        "token_expired",
        "wrong_password",
    } == ERROR_CODES


@pytest.mark.parametrize(
    "fields",
    [
        {"password": PASSWORD},
        {"email": "ann@example.com"},
        {"email": "", "password": PASSWORD},
        {"email": "   ", "password": PASSWORD},
        {"email": "ann@example.com", "password": ""},
        {},
    ],
    ids=["no-email", "no-password", "empty-email", "blank-email", "empty-password", "nothing"],
)
@pytest.mark.parametrize("route", [REGISTER_FORM, LOGIN_FORM])
async def test_missing_fields_answer_missing(
    web: WebApp, browser: httpx.AsyncClient, route: str, fields: dict[str, str]
) -> None:
    response = await post_form(browser, route, fields)
    assert error_code(response) == "missing"
    assert_no_session_cookie(response)
    assert await web.user_count() == 0


async def test_register_with_a_non_address_answers_invalid_email(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    response = await register(browser, "not-an-email")
    assert error_code(response) == "invalid_email"
    assert_no_session_cookie(response)
    assert await web.user_count() == 0


async def test_register_with_a_short_password_answers_weak_password(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    response = await register(browser, "ann@example.com", password="7chars!")
    assert error_code(response) == "weak_password"
    assert_no_session_cookie(response)
    assert await web.user("ann@example.com") is None


@pytest.mark.parametrize(
    "again",
    ["ann@example.com", "ANN@Example.COM", " ann@example.com ", "\uff41nn@\uff45xample.com"],
    ids=["same", "other-case", "padded", "fullwidth"],
)
async def test_register_an_existing_email_answers_exists(web: WebApp, again: str) -> None:
    first = await register(web.client(), "ann@example.com")
    assert session_set_cookie(first) is not None
    attacker = web.client()
    response = await register(attacker, again, password="attacker password")
    assert error_code(response) == "exists"
    assert_no_session_cookie(response)
    assert await signed_in_as(attacker) is None
    assert await web.user_count() == 1
    # The original password still works, the attacker's does not.
    assert error_code(await login(web.client(), "ann@example.com", "attacker password")) == (
        "invalid"
    )
    assert location(await login(web.client(), "ann@example.com")) == "/"


async def test_login_with_a_wrong_password_answers_invalid(web: WebApp) -> None:
    await register(web.client(), "ann@example.com")
    response = await login(web.client(), "ann@example.com", "wrong password")
    assert error_code(response) == "invalid"
    assert_no_session_cookie(response)


async def test_login_with_an_unknown_email_answers_invalid(web: WebApp) -> None:
    response = await login(web.client(), "nobody@example.com")
    assert error_code(response) == "invalid"
    assert_no_session_cookie(response)


async def test_login_with_a_malformed_email_answers_invalid_not_invalid_email(
    web: WebApp,
) -> None:
    # Sign-in never says which part was wrong.
    response = await login(web.client(), "not-an-email")
    assert error_code(response) == "invalid"


# Throttling --------------------------------------------------------------------


def every_limit(limit: int) -> ThrottlePolicy:
    """A policy allowing ``limit`` attempts per minute under every rule."""
    rate = RateLimit(limit, 60)
    return ThrottlePolicy(
        failures_per_address=rate,
        emails_per_address=rate,
        failures_per_account=rate,
        failures_per_device=rate,
        registrations_per_address=rate,
    )


@pytest.fixture
def policy() -> ThrottlePolicy:
    return every_limit(3)


async def test_password_guessing_is_throttled_even_with_the_right_password(
    app_factory: AppFactory, policy: ThrottlePolicy
) -> None:
    web = await app_factory(throttle_policy=policy)
    await register(web.client(address=("10.0.0.1", 1)), "ann@example.com")
    guesser = web.client(address=("10.0.0.2", 1))
    for _ in range(3):
        assert error_code(await login(guesser, "ann@example.com", "wrong guess")) == "invalid"
    response = await login(guesser, "ann@example.com")
    assert error_code(response) == "throttled"
    assert_no_session_cookie(response)
    assert await signed_in_as(guesser) is None


async def test_login_throttle_counts_per_email_across_addresses(
    app_factory: AppFactory, policy: ThrottlePolicy
) -> None:
    web = await app_factory(throttle_policy=policy)
    await register(web.client(address=("10.0.0.1", 1)), "ann@example.com")
    spellings = ["ann@example.com", "ANN@example.com", "\uff41nn@example.com"]
    for i, spelling in enumerate(spellings):
        guesser = web.client(address=(f"10.1.0.{i}", 1))
        assert error_code(await login(guesser, spelling, "wrong guess")) == "invalid"
    fresh = web.client(address=("10.1.0.99", 1))
    response = await login(fresh, "ann@example.com")
    assert error_code(response) == "throttled"
    assert_no_session_cookie(response)


async def test_login_throttle_counts_per_address_across_emails(
    app_factory: AppFactory, policy: ThrottlePolicy
) -> None:
    web = await app_factory(throttle_policy=policy)
    await register(web.client(address=("10.0.0.1", 1)), "ann@example.com")
    sprayer = web.client(address=("10.2.0.1", 1))
    for i in range(3):
        assert error_code(await login(sprayer, f"user{i}@example.com")) == "invalid"
    response = await login(sprayer, "ann@example.com")
    assert error_code(response) == "throttled"
    assert_no_session_cookie(response)
    # Another address is not affected.
    other = web.client(address=("10.2.0.2", 1))
    assert location(await login(other, "ann@example.com")) == "/"


async def test_a_success_neither_counts_nor_clears_an_accounts_failures(
    app_factory: AppFactory, policy: ThrottlePolicy
) -> None:
    # At most 3 failures per account and window, however often the owner signs in
    # meanwhile (ASVS: the limit is on failures per account, not between successes).
    web = await app_factory(throttle_policy=policy)
    await register(web.client(address=("10.0.0.1", 1)), "ann@example.com")
    for i in range(2):
        guesser = web.client(address=(f"10.3.0.{i}", 1))
        assert error_code(await login(guesser, "ann@example.com", "wrong guess")) == "invalid"
    for i in range(3):  # the owner, on fresh browsers: successes cost nothing
        owner = web.client(address=(f"10.3.1.{i}", 1))
        assert location(await login(owner, "ann@example.com")) == "/"
    guesser = web.client(address=("10.3.2.1", 1))
    assert error_code(await login(guesser, "ann@example.com", "wrong guess")) == "invalid"
    guesser = web.client(address=("10.3.2.2", 1))
    assert error_code(await login(guesser, "ann@example.com", "wrong guess")) == "throttled"


async def test_registration_is_throttled_per_address(
    app_factory: AppFactory, policy: ThrottlePolicy
) -> None:
    web = await app_factory(throttle_policy=policy)
    flooder = web.client(address=("10.4.0.1", 1))
    for i in range(3):
        assert location(await register(flooder, f"bot{i}@example.com")) == "/"
    response = await register(flooder, "bot3@example.com")
    assert error_code(response) == "throttled"
    assert_no_session_cookie(response)
    assert await web.user("bot3@example.com") is None
    other = web.client(address=("10.4.0.2", 1))
    assert location(await register(other, "human@example.com")) == "/"


async def test_throttle_none_turns_it_off(app_factory: AppFactory) -> None:
    web = await app_factory(throttle=None)
    guesser = web.client()
    for _ in range(25):
        assert error_code(await login(guesser, "nobody@example.com", "x")) == "invalid"


# Store outages -----------------------------------------------------------------


def _unreachable(url: str) -> str:
    # The backend's own URL, pointed at nothing: a closed port, a missing folder.
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.set(database="/nonexistent-pywire-auth-dir/auth.db"))
    return parsed.set(port=1).render_as_string(hide_password=False)


@PERSISTENT_BACKENDS
async def test_unreachable_database_answers_unavailable(
    app_factory: AppFactory, backend_url: str
) -> None:
    web = await app_factory(store=SQLAlchemyAuthStore(_unreachable(backend_url)))
    client = web.client()
    response = await register(client, "ann@example.com")
    assert error_code(response) == "unavailable"
    assert_no_session_cookie(response)
    response = await login(client, "ann@example.com")
    assert error_code(response) == "unavailable"
    assert_no_session_cookie(response)
    page = await client.get("/")
    assert page.status_code == 200


@OUTAGE_BACKENDS
async def test_store_outage_answers_unavailable_and_recovers(
    app_factory: AppFactory, outage: Outage
) -> None:
    web = await app_factory(store=outage.store)
    client = web.client()
    outage.down()
    response = await register(client, "ann@example.com")
    assert error_code(response) == "unavailable"
    assert_no_session_cookie(response)
    response = await login(client, "ann@example.com")
    assert error_code(response) == "unavailable"
    assert_no_session_cookie(response)
    outage.up()
    assert await web.user("ann@example.com") is None
    assert location(await register(client, "ann@example.com")) == "/"
    assert await signed_in_as(client) == "ann@example.com"


async def _registered_then_signed_out(
    app_factory: AppFactory, store: AuthStore
) -> httpx.AsyncClient:
    """A client whose user (ann@example.com) exists, on an app with a limit of 2."""
    web = await app_factory(store=store, throttle_policy=every_limit(2))
    client = web.client()
    assert location(await register(client, "ann@example.com")) == "/"
    await revoke(client)
    return client


async def _assert_login_signs_in(client: httpx.AsyncClient) -> None:
    # Not "throttled": none of the undecided attempts before was counted.
    response = await login(client, "ann@example.com")
    assert redirect_path(response) == "/"
    assert await signed_in_as(client) == "ann@example.com"


@OUTAGE_BACKENDS
async def test_outage_attempts_do_not_count_toward_the_throttle(
    app_factory: AppFactory, outage: Outage
) -> None:
    client = await _registered_then_signed_out(app_factory, outage.store)
    outage.down()
    for _ in range(4):
        assert error_code(await login(client, "ann@example.com")) == "unavailable"
    for _ in range(3):
        assert error_code(await register(client, "bob@example.com")) == "unavailable"
    outage.up()
    await _assert_login_signs_in(client)
    assert location(await register(client, "bob@example.com")) == "/"


class _SessionsDown(MemoryAuthStore):
    """Users can be read, but no session can be written."""

    sessions_down = False

    async def create_session(self, session: SessionRecord) -> None:
        if self.sessions_down:
            raise StoreUnavailableError("the test switched session writes off")
        await super().create_session(session)


# Only session writes fail here, a fault no real outage can single out: memory only.
@pytest.mark.parametrize("web_backend", ["memory"])
async def test_right_password_with_session_write_down_is_not_a_guess(
    app_factory: AppFactory,
) -> None:
    store = _SessionsDown()
    client = await _registered_then_signed_out(app_factory, store)
    store.sessions_down = True
    for _ in range(3):
        response = await login(client, "ann@example.com")
        assert error_code(response) == "unavailable"
        assert_no_session_cookie(response)
    store.sessions_down = False
    await _assert_login_signs_in(client)
