"""The auth channel contract on every backend: two channels play two worker processes.

* memory: two channels on one ``MemoryAuthStore`` (its event log, in process);
* sqlite / postgres / mysql: two ``SQLAlchemyAuthStore`` objects on one database,
  each with its own engine and channel, exactly as two worker processes have;
* redis: Redis pub/sub as the fast path, over a SQLite event log;
* postgres notify: LISTEN/NOTIFY as the fast path, over the PostgreSQL event log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pywire.auth import ClaimsPrincipal

from pywire_auth import MemoryAuthStore, SQLAlchemyAuthStore
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.channels.postgres import PostgresAuthChannel
from pywire_auth.channels.redis import RedisAuthChannel
from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.testing import ChannelContract, ChannelFactory
from pywire_auth.testing.channel_contract import next_event
from tests.backends.test_throttle_contract import redis_url
from tests.conftest import reset_database, server_url

# Fast polling keeps the suite quick; the default (0.25 s) is what benchmarks measure.
POLL = 0.05


class TestMemoryChannel(ChannelContract):
    @pytest_asyncio.fixture
    async def make_channel(self) -> AsyncIterator[ChannelFactory]:
        store = MemoryAuthStore()
        made: list[FanoutChannel] = []

        def make() -> FanoutChannel:
            made.append(StoreAuthChannel(store, poll_interval=POLL))
            return made[-1]

        yield make
        for channel in made:
            await channel.aclose()


class TestStoreChannel(ChannelContract):
    """The embedded default on SQLite, PostgreSQL and MariaDB."""

    @pytest_asyncio.fixture
    async def make_channel(self, sql_url: str) -> AsyncIterator[ChannelFactory]:
        made: list[tuple[FanoutChannel, SQLAlchemyAuthStore]] = []

        def make() -> FanoutChannel:
            store = SQLAlchemyAuthStore(sql_url)
            made.append((StoreAuthChannel(store, poll_interval=POLL), store))
            return made[-1][0]

        yield make
        for channel, store in made:
            await channel.aclose()
            await store.close()


class TestRedisChannel(ChannelContract):
    @pytest_asyncio.fixture
    async def make_channel(self, sqlite_url: str) -> AsyncIterator[ChannelFactory]:
        url = redis_url()
        # A channel name per test: parallel runs never hear each other.
        name = f"pywire-auth-test:{uuid.uuid4().hex}"
        made: list[tuple[FanoutChannel, SQLAlchemyAuthStore]] = []

        def make() -> FanoutChannel:
            store = SQLAlchemyAuthStore(sqlite_url)
            # A slow log poll: what arrives quickly came over Redis.
            channel = RedisAuthChannel(url=url, store=store, channel=name, poll_interval=5.0)
            made.append((channel, store))
            return channel

        yield make
        for channel, store in made:
            await channel.aclose()
            await store.close()


@pytest.mark.asyncio
async def test_redis_fast_path_carries_events_alone(sqlite_url: str) -> None:
    """With the log never polled, events still cross: Redis carried them."""
    url, name = redis_url(), f"pywire-auth-test:{uuid.uuid4().hex}"
    stores = [SQLAlchemyAuthStore(sqlite_url) for _ in range(2)]
    here, there = (
        RedisAuthChannel(url=url, store=s, channel=name, poll_interval=3600) for s in stores
    )
    try:
        async with there.subscribe("local:u1") as subscription:
            await here.start()
            await here.revoke("local:u1")
            assert (await next_event(subscription, within=5)).kind == "revoke"
    finally:
        for channel in (here, there):
            await channel.aclose()
        for store in stores:
            await store.close()


class TestPostgresChannel(ChannelContract):
    """LISTEN/NOTIFY as the fast path over the PostgreSQL event log."""

    @pytest_asyncio.fixture
    async def make_channel(self) -> AsyncIterator[ChannelFactory]:
        url = server_url("postgres")
        await reset_database(url)
        name = f"pywire_auth_test_{uuid.uuid4().hex}"
        made: list[tuple[FanoutChannel, SQLAlchemyAuthStore]] = []

        def make() -> FanoutChannel:
            store = SQLAlchemyAuthStore(url)
            # A slow log poll: what arrives quickly came over NOTIFY.
            channel = PostgresAuthChannel(url, store=store, channel=name, poll_interval=5.0)
            made.append((channel, store))
            return channel

        yield make
        for channel, store in made:
            await channel.aclose()
            await store.close()


@pytest.mark.asyncio
async def test_an_oversized_event_wakes_listeners_to_read_the_log() -> None:
    url = server_url("postgres")
    await reset_database(url)
    name = f"pywire_auth_test_{uuid.uuid4().hex}"
    stores = [SQLAlchemyAuthStore(url) for _ in range(2)]
    here, there = (
        PostgresAuthChannel(url, store=s, channel=name, poll_interval=3600) for s in stores
    )
    big = ClaimsPrincipal(is_authenticated=True, user_id="local:u1", raw={"blob": "x" * 20_000})
    try:
        async with there.subscribe("local:u1") as subscription:
            await here.start()
            await here.update_principal("local:u1", principal=big)
            # Only the log holds this event; NOTIFY carried a bare wake-up.
            event = await next_event(subscription, within=5)
        assert event.principal == big
    finally:
        for channel in (here, there):
            await channel.aclose()
        for store in stores:
            await store.close()
