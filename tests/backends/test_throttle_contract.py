"""The Throttle contract, run against the in-process, the SQL and the Redis throttle."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pywire import PyWire
from redis.asyncio import Redis

from pywire_auth import (
    Argon2Hasher,
    LocalIdP,
    MemoryThrottle,
    RateLimit,
    SQLAlchemyAuthStore,
    StoreUnavailableError,
    ThrottlePolicy,
    connect_auth,
)
from pywire_auth.protocols import Throttle
from pywire_auth.testing import ThrottleContract, ThrottleFactory
from pywire_auth.throttles.redis import RedisThrottle
from pywire_auth.throttles.sql import SQLAlchemyThrottle
from tests.conftest import IN_CI

PAGES = Path(__file__).resolve().parents[2] / "examples" / "local_idp" / "src" / "pages"


def redis_url() -> str:
    url = os.environ.get("PYWIRE_AUTH_TEST_REDIS_URL", "")
    if not url:
        message = "PYWIRE_AUTH_TEST_REDIS_URL is not set: start it with scripts/services/redis.sh"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


class TestMemoryThrottle(ThrottleContract):
    @pytest.fixture
    def make_throttle(self) -> ThrottleFactory:
        return MemoryThrottle


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_a_full_memory_throttle_keeps_live_counts_and_refuses_new_keys() -> None:
    # Flooding the table with junk keys must not evict a live count (that would
    # reset the victim's or the guesser's counter): new keys are refused instead.
    clock = _Clock()
    throttle = MemoryThrottle(max_keys=10, clock=clock)

    async def hit(key: str) -> bool:
        return await throttle.hit(key, limit=2, window=60)

    assert await hit("guesser")
    assert await hit("guesser")
    junk = [await hit(f"junk{i}") for i in range(50)]
    assert junk == [True] * 9 + [False] * 41
    assert not await hit("guesser")
    assert throttle.size == 10
    # Once windows have ended, their room is reused.
    clock.now += 61
    assert await hit("new")
    assert await hit("guesser")
    assert throttle.size == 2


class TestSQLAlchemyThrottle(ThrottleContract):
    """On a SQLite file, PostgreSQL and MariaDB (``sql_url`` runs each in turn)."""

    @pytest_asyncio.fixture
    async def make_throttle(self, sql_url: str) -> AsyncIterator[ThrottleFactory]:
        store = SQLAlchemyAuthStore(sql_url)

        def make() -> Throttle:
            return SQLAlchemyThrottle(store)

        yield make
        await store.close()


class TestRedisThrottle(ThrottleContract):
    @pytest_asyncio.fixture
    async def make_throttle(self) -> AsyncIterator[ThrottleFactory]:
        client = Redis.from_url(redis_url())
        # A fresh prefix per test: tests never see each other's counts.
        prefix = f"pywire-auth-test:{uuid.uuid4().hex}:"
        made: list[Throttle] = []

        def make() -> Throttle:
            throttle = RedisThrottle(client, prefix=prefix)
            made.append(throttle)
            return throttle

        yield make
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.mark.asyncio
async def test_redis_windows_expire_on_the_server() -> None:
    client = Redis.from_url(redis_url())
    prefix = f"pywire-auth-test:{uuid.uuid4().hex}:"
    try:
        throttle = RedisThrottle(client, prefix=prefix)
        await throttle.hit("k", limit=5, window=30)
        ttl_ms = await client.pttl(prefix + "k")
        assert 0 < ttl_ms <= 30_000
        await throttle.hit("k", limit=5, window=30)
        # Later hits must not push the window's end out.
        assert await client.pttl(prefix + "k") <= ttl_ms
    finally:
        await client.delete(prefix + "k")
        await client.aclose()


@pytest.mark.asyncio
async def test_redis_throttle_shares_counts_between_clients() -> None:
    url = redis_url()
    prefix = f"pywire-auth-test:{uuid.uuid4().hex}:"
    first = RedisThrottle(url, prefix=prefix)
    second = RedisThrottle(url, prefix=prefix)
    try:
        assert await first.hit("ip:1", limit=2, window=60)
        assert await second.hit("ip:1", limit=2, window=60)
        assert not await first.hit("ip:1", limit=2, window=60)
        await second.reset("ip:1")
    finally:
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_unreachable_redis_is_unavailable_not_unthrottled() -> None:
    throttle = RedisThrottle("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(StoreUnavailableError):
            await throttle.hit("ip:1", limit=2, window=60)
        with pytest.raises(StoreUnavailableError):
            await throttle.undo("ip:1")
        with pytest.raises(StoreUnavailableError):
            await throttle.reset("ip:1")
    finally:
        await throttle.close()


@pytest.mark.asyncio
async def test_two_workers_share_one_sign_in_limit(tmp_path: Path) -> None:
    # Two app instances (as two server workers) on one database and one Redis:
    # guesses spread over both still hit one limit.
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    throttle = RedisThrottle(redis_url(), prefix=f"pywire-auth-test:{uuid.uuid4().hex}:")
    three = RateLimit(3, 60)
    policy = ThrottlePolicy(
        failures_per_address=three,
        emails_per_address=three,
        failures_per_account=three,
        failures_per_device=three,
        registrations_per_address=three,
    )
    apps, idps = [], []
    for _ in range(2):
        app = PyWire(pages_dir=str(PAGES))
        idp = LocalIdP(
            store=SQLAlchemyAuthStore(url),
            secret="7c1e9a3f5b2d8046e1c9a7f3b5d2084c",
            hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),
        )
        connect_auth(
            app,
            local_idp=idp,
            session_secret="3f9a1c7e5b2d4086c1e9a7f3b5d20c84",
            throttle=throttle,
            throttle_policy=policy,
        )
        apps.append(app)
        idps.append(idp)
    await idps[0].create_user(email="ann@example.com", password="pass-word-1234")
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        for app in apps
    ]
    try:
        answers = []
        for attempt in range(4):
            response = await clients[attempt % 2].post(
                "/auth/local/login", data={"email": "ann@example.com", "password": "wrong-one"}
            )
            answers.append(response.headers["location"])
        assert answers[:3] == ["/login_local?error=invalid"] * 3
        assert answers[3] == "/login_local?error=throttled"
        right = await clients[1].post(
            "/auth/local/login", data={"email": "ann@example.com", "password": "pass-word-1234"}
        )
        assert right.headers["location"] == "/login_local?error=throttled"
    finally:
        for client in clients:
            await client.aclose()
        for idp in idps:
            await idp.aclose()
        await throttle.close()
