"""Sign-in throttling as an attacker meets it: lockout of others, spraying, device
cookies, offices behind one address, IPv6 networks, and the ASVS bound.

Each test runs on every store backend with the throttle a deployment on it would
use: ``MemoryThrottle`` for the memory store, ``SQLAlchemyThrottle`` on SQL.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pywire_auth import (
    ConfigurationError,
    MemoryThrottle,
    RateLimit,
    SQLAlchemyAuthStore,
    SQLAlchemyThrottle,
    ThrottlePolicy,
)
from pywire_auth.local.device import DEVICE_COOKIE
from tests.web.conftest import (
    AppFactory,
    WebApp,
    cookie_attributes,
    error_code,
    location,
    login,
    register,
    revoke,
    set_cookies,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

OWNER = "ann@example.com"
ROOMY = RateLimit(100, 60)


def policy(**rules: Any) -> ThrottlePolicy:
    """Every rule roomy (100 a minute) except the ones a test is about."""
    base: dict[str, Any] = {
        "failures_per_address": ROOMY,
        "emails_per_address": ROOMY,
        "failures_per_account": ROOMY,
        "failures_per_device": ROOMY,
        "registrations_per_address": ROOMY,
    }
    return ThrottlePolicy(**{**base, **rules})


@pytest.fixture
def make_app(app_factory: AppFactory, backend_url: str | None) -> Any:
    async def make(throttle_policy: ThrottlePolicy, **kwargs: Any) -> WebApp:
        if backend_url is None:
            return await app_factory(
                throttle=kwargs.pop("throttle", MemoryThrottle()),
                throttle_policy=throttle_policy,
                **kwargs,
            )
        store = SQLAlchemyAuthStore(backend_url)
        return await app_factory(
            store=store,
            throttle=kwargs.pop("throttle", SQLAlchemyThrottle(store)),
            throttle_policy=throttle_policy,
            **kwargs,
        )

    return make


def at(web: WebApp, address: str, **kwargs: Any) -> httpx.AsyncClient:
    """A fresh browser at ``address``."""
    return web.client(address=(address, 40000), **kwargs)


async def new_user(web: WebApp, email: str = OWNER) -> None:
    await web.idp.create_user(email=email, password="correct horse battery")


def device_cookie(response: httpx.Response) -> str | None:
    found = [c for c in set_cookies(response) if c.startswith(DEVICE_COOKIE + "=")]
    return found[0] if found else None


# Cheap lockout of others -----------------------------------------------------------


async def test_an_address_over_its_limit_touches_no_account_counter(make_app: Any) -> None:
    web = await make_app(
        policy(failures_per_address=RateLimit(3, 60), failures_per_account=RateLimit(5, 60))
    )
    await new_user(web)
    attacker = at(web, "198.51.100.66")
    answers = [error_code(await login(attacker, OWNER, "guess")) for _ in range(12)]
    assert answers == ["invalid"] * 3 + ["throttled"] * 9
    # Only the 3 guesses that got through count against the account (limit 5):
    # the owner, on a browser that never signed in, is not locked out.
    assert location(await login(at(web, "192.0.2.10"), OWNER)) == "/"


async def test_the_owners_browser_outlasts_a_lockout(make_app: Any) -> None:
    web = await make_app(
        policy(failures_per_account=RateLimit(3, 60), failures_per_device=RateLimit(3, 60))
    )
    await new_user(web)
    owners_browser = at(web, "192.0.2.10")
    assert location(await login(owners_browser, OWNER)) == "/"
    await revoke(owners_browser)
    # Guessers from many addresses lock the account.
    for i in range(5):
        await login(at(web, f"198.51.100.{i}"), OWNER, "guess")
    assert error_code(await login(at(web, "192.0.2.99"), OWNER)) == "throttled"
    # The browser that signed in before has a budget of its own.
    assert location(await login(owners_browser, OWNER)) == "/"
    assert await signed_in_as(owners_browser) == OWNER


async def test_a_device_budget_is_limited_and_its_own(make_app: Any) -> None:
    web = await make_app(
        policy(failures_per_account=RateLimit(3, 60), failures_per_device=RateLimit(2, 60))
    )
    await new_user(web)
    browser = at(web, "192.0.2.10")
    assert location(await login(browser, OWNER)) == "/"
    answers = [error_code(await login(browser, OWNER, "typo")) for _ in range(3)]
    assert answers == ["invalid", "invalid", "throttled"]
    # None of them touched the account's own counter.
    for i in range(3):
        assert error_code(await login(at(web, f"192.0.2.{20 + i}"), OWNER, "x")) == "invalid"


async def test_a_device_cookie_only_vouches_for_its_own_account(make_app: Any) -> None:
    web = await make_app(policy(failures_per_account=RateLimit(2, 60)))
    await new_user(web)
    await new_user(web, "mallory@example.com")
    mallory = at(web, "198.51.100.7")
    assert location(await login(mallory, "mallory@example.com")) == "/"
    # Mallory's device cookie is for her account: at Ann's it counts as anyone's.
    answers = [error_code(await login(mallory, OWNER, "guess")) for _ in range(3)]
    assert answers == ["invalid", "invalid", "throttled"]


async def test_a_forged_device_cookie_is_ignored(make_app: Any) -> None:
    web = await make_app(policy(failures_per_account=RateLimit(2, 60)))
    await new_user(web)
    first = await login(at(web, "192.0.2.10"), OWNER)
    genuine = (device_cookie(first) or "").split(";", 1)[0].split("=", 1)[1]
    tag, nonce, signature = genuine.split(".")
    forged_nonce = f"{tag}.{'0' * 32}.{signature}"
    for value in (forged_nonce, f"{tag}.{nonce}.{'0' * 32}", "junk", genuine + "x"):
        forger = at(web, "198.51.100.8")
        forger.cookies.set(DEVICE_COOKIE, value)
        await login(forger, OWNER, "guess")
    # Four guesses with bad cookies all counted against the account (limit 2).
    assert error_code(await login(at(web, "192.0.2.11"), OWNER)) == "throttled"


async def test_the_device_cookie_is_httponly_strict_and_names_no_email(make_app: Any) -> None:
    web = await make_app(policy())
    for response in (
        await register(at(web, "192.0.2.10"), "bob@example.com"),
        await login(at(web, "192.0.2.11"), "bob@example.com"),
    ):
        header = device_cookie(response)
        assert header is not None
        attributes = cookie_attributes(header)
        assert "httponly" in attributes
        assert attributes["samesite"] == "Strict"
        assert attributes["path"] == "/auth/local/login"
        assert int(attributes["max-age"]) == ThrottlePolicy().device_cookie_ttl
        assert "bob" not in header
        assert "example" not in header
    assert device_cookie(await login(at(web, "192.0.2.12"), "bob@example.com", "wrong")) is None


async def test_no_device_cookie_when_turned_off(make_app: Any) -> None:
    web = await make_app(ThrottlePolicy(device_cookie_ttl=0))
    await new_user(web)
    assert device_cookie(await login(at(web, "192.0.2.10"), OWNER)) is None


# Password spraying -----------------------------------------------------------------


async def test_one_address_may_try_only_so_many_distinct_emails(make_app: Any) -> None:
    web = await make_app(
        policy(emails_per_address=RateLimit(3, 60), failures_per_account=RateLimit(1, 60))
    )
    sprayer = at(web, "198.51.100.9")
    for i in range(3):
        assert error_code(await login(sprayer, f"user{i}@example.com", "Summer2024!")) == (
            "invalid"
        )
    # A fourth email is refused, also on a retry (it never became "already tried") ...
    for _ in range(2):
        assert error_code(await login(sprayer, "user3@example.com", "Summer2024!")) == ("throttled")
    # ... without touching that account's counter (limit 1 there).
    assert error_code(await login(at(web, "192.0.2.10"), "user3@example.com", "x")) == "invalid"
    # Emails already tried are not new: they meet their own account limit instead.
    assert error_code(await login(sprayer, "user0@example.com", "x")) == "throttled"


async def test_successful_sign_ins_do_not_use_up_distinct_emails(make_app: Any) -> None:
    web = await make_app(policy(emails_per_address=RateLimit(2, 60)))
    office = "192.0.2.50"
    for i in range(5):
        await new_user(web, f"staff{i}@example.com")
        assert location(await login(at(web, office), f"staff{i}@example.com")) == "/"
    for i in range(2):
        assert error_code(await login(at(web, office), f"x{i}@example.com")) == "invalid"
    assert error_code(await login(at(web, office), "x2@example.com")) == "throttled"


# Offices behind one address, and the door a success must not open --------------------


async def test_successes_do_not_count_against_the_address(make_app: Any) -> None:
    web = await make_app(policy(failures_per_address=RateLimit(3, 60)))
    office = "192.0.2.50"
    for i in range(10):
        await new_user(web, f"staff{i}@example.com")
        assert location(await login(at(web, office), f"staff{i}@example.com")) == "/"
    answers = [error_code(await login(at(web, office), OWNER, "x")) for _ in range(4)]
    assert answers == ["invalid"] * 3 + ["throttled"]


async def test_signing_in_to_ones_own_account_does_not_clear_the_address(
    make_app: Any,
) -> None:
    # Mallory guesses at Ann's password and signs in to her own account between
    # guesses: that must not give her address a fresh count.
    web = await make_app(policy(failures_per_address=RateLimit(3, 60)))
    await new_user(web)
    await new_user(web, "mallory@example.com")
    address = "198.51.100.7"
    answers = []
    for _ in range(3):
        answers.append(error_code(await login(at(web, address), OWNER, "guess")))
        if len(answers) < 3:
            assert location(await login(at(web, address), "mallory@example.com")) == "/"
    answers.append(error_code(await login(at(web, address), OWNER, "guess")))
    assert answers == ["invalid"] * 3 + ["throttled"]


# IPv6 ----------------------------------------------------------------------------


async def test_ipv6_addresses_are_counted_per_network(make_app: Any) -> None:
    web = await make_app(policy(failures_per_address=RateLimit(3, 60)))
    same_64 = [f"2001:db8:0:1::{i:x}" for i in range(1, 5)]
    answers = [error_code(await login(at(web, a), f"u{a}@example.com")) for a in same_64]
    assert answers == ["invalid"] * 3 + ["throttled"]
    assert error_code(await login(at(web, "2001:db8:0:2::1"), OWNER)) == "invalid"
    # The same network written as an IPv4-mapped peer or in capitals is the same key.
    assert error_code(await login(at(web, "2001:DB8:0:1:ffff::9"), OWNER)) == "throttled"


async def test_the_ipv6_prefix_is_configurable(make_app: Any) -> None:
    web = await make_app(policy(failures_per_address=RateLimit(1, 60), ipv6_prefix=48))
    assert error_code(await login(at(web, "2001:db8:1:1::1"), OWNER)) == "invalid"
    assert error_code(await login(at(web, "2001:db8:1:2::1"), OWNER)) == "throttled"
    assert error_code(await login(at(web, "2001:db8:2::1"), OWNER)) == "invalid"


# The ASVS bound ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("web_backend", ["memory"])
async def test_defaults_allow_at_most_100_failures_per_hour_per_account(
    app_factory: AppFactory,
) -> None:
    # Guessers from ever new addresses, for four hours, in bursts placed for the
    # worst case of fixed windows: every third quarter hour is opened with one
    # guess and filled in its last minute, the others are filled at once. An hour
    # from such a last minute then holds one late window and four full ones. No
    # rolling hour may see over 100 wrong passwords checked (OWASP ASVS 2.2.1).
    clock = Clock()
    web = await app_factory(throttle=MemoryThrottle(clock=clock))
    await new_user(web)
    failures: list[float] = []
    attempt = 0
    for minute in range(240):
        late = minute // 15 % 3 == 0
        tries = ({0: 1, 14: 40} if late else {0: 40}).get(minute % 15, 0)
        for _ in range(tries):
            attempt += 1
            guesser = at(web, f"10.0.{attempt // 256}.{attempt % 256}")
            if error_code(await login(guesser, OWNER, "guess")) == "invalid":
                failures.append(clock.now)
        clock.now += 60
    worst = max(sum(1 for t in failures if start <= t < start + 3600) for start in failures)
    assert 95 <= worst <= 100, worst
    assert ThrottlePolicy().failures_per_account.most_in_any(3600) <= 100


# Configuration ---------------------------------------------------------------------------


class OldThrottle:
    """A throttle written for the one-rule protocol of pywire-auth 0.4."""

    async def hit(self, key: str) -> bool:
        return True

    async def undo(self, key: str) -> None:
        return None

    async def reset(self, key: str) -> None:
        return None


@pytest.mark.parametrize("web_backend", ["memory"])
async def test_a_throttle_without_per_hit_limits_is_refused(app_factory: AppFactory) -> None:
    with pytest.raises(ConfigurationError, match="limit= and window="):
        await app_factory(throttle=OldThrottle())
