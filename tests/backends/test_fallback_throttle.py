"""FallbackThrottle: Redis while it answers, the auth store's database while it is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from pywire_auth import SQLAlchemyAuthStore
from pywire_auth.protocols import Throttle
from pywire_auth.testing import ThrottleContract, ThrottleFactory
from pywire_auth.throttles._default import default_throttle
from pywire_auth.throttles.fallback import FallbackThrottle
from pywire_auth.throttles.redis import RedisThrottle
from pywire_auth.throttles.sql import SQLAlchemyThrottle
from tests.backends.test_throttle_contract import redis_url

UNREACHABLE = "redis://127.0.0.1:1/0"


class TestFallbackThrottleWithRedisUp(ThrottleContract):
    @pytest_asyncio.fixture
    async def make_throttle(self, tmp_path: Path) -> AsyncIterator[ThrottleFactory]:
        client = Redis.from_url(redis_url())
        prefix = f"pywire-auth-test:{uuid.uuid4().hex}:"
        store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")

        def make() -> Throttle:
            return FallbackThrottle(RedisThrottle(client, prefix=prefix), SQLAlchemyThrottle(store))

        yield make
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await store.close()


class TestFallbackThrottleWithRedisDown(ThrottleContract):
    @pytest_asyncio.fixture
    async def make_throttle(self, tmp_path: Path) -> AsyncIterator[ThrottleFactory]:
        store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
        made: list[RedisThrottle] = []

        def make() -> Throttle:
            made.append(RedisThrottle(UNREACHABLE))
            return FallbackThrottle(made[-1], SQLAlchemyThrottle(store))

        yield make
        for throttle in made:
            await throttle.close()
        await store.close()


@pytest.mark.asyncio
async def test_counts_go_to_the_database_while_redis_is_down(tmp_path: Path) -> None:
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    down = FallbackThrottle(RedisThrottle(UNREACHABLE), SQLAlchemyThrottle(store))
    database = SQLAlchemyThrottle(store)
    try:
        assert await down.hit("account:1", limit=2, window=60)
        assert await down.hit("account:1", limit=2, window=60)
        # Another process counting straight in the database sees those hits.
        assert not await database.hit("account:1", limit=2, window=60)
        await database.undo("account:1")
        # An undo goes where the hit was counted.
        await down.undo("account:1")
        assert await database.hit("account:1", limit=2, window=60)
    finally:
        await down.close()
        await store.close()


def test_redis_url_and_a_sql_store_give_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    monkeypatch.setenv("REDIS_URL", UNREACHABLE)
    chosen = default_throttle(store)
    assert isinstance(chosen, FallbackThrottle)
    assert isinstance(chosen.primary, RedisThrottle)
    assert isinstance(chosen.fallback, SQLAlchemyThrottle)
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(default_throttle(store), SQLAlchemyThrottle)
