"""Which auth channel connect_auth picks, and that the app's lifespan runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pywire import PyWire
from pywire.auth import MemoryAuthChannel

from pywire_auth import (
    Argon2Hasher,
    AuthStore,
    LocalIdP,
    MemoryAuthStore,
    ProviderLink,
    SQLAlchemyAuthStore,
    connect_auth,
)
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.channels.redis import RedisAuthChannel
from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.types import UserRecord
from tests.backends.test_throttle_contract import redis_url
from tests.web.conftest import FAST_ARGON2, IDP_SECRET, PAGES_DIR, SESSION_SECRET

pytestmark = pytest.mark.asyncio


def make_app(store: AuthStore, **connect: Any) -> PyWire:
    app = PyWire(pages_dir=str(PAGES_DIR))
    idp = LocalIdP(store=store, secret=IDP_SECRET, hasher=Argon2Hasher(**FAST_ARGON2))
    connect_auth(app, local_idp=idp, session_secret=SESSION_SECRET, **connect)
    return app


@pytest.fixture(autouse=True)
def no_redis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("FLY_REDIS_URL", raising=False)
    monkeypatch.delenv("PYWIRE_AUTH_CHANNEL", raising=False)


async def test_sql_store_gets_the_embedded_channel_on_its_own_log(sqlite_url: str) -> None:
    store = SQLAlchemyAuthStore(sqlite_url)
    app = make_app(store)
    channel = app.state.auth_channel
    assert isinstance(channel, StoreAuthChannel)
    assert channel.log is store
    assert app._auth_channel is channel
    await store.close()


async def test_memory_store_gets_the_embedded_channel_too() -> None:
    store = MemoryAuthStore()
    channel = make_app(store).state.auth_channel
    assert isinstance(channel, StoreAuthChannel)
    assert channel.log is store


async def test_redis_url_picks_redis_backed_by_the_store_log(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url())
    store = SQLAlchemyAuthStore(sqlite_url)
    channel = make_app(store).state.auth_channel
    assert isinstance(channel, RedisAuthChannel)
    assert channel.log is store
    await channel.aclose()
    await store.close()


async def test_a_given_redis_channel_is_bound_to_the_store_log(sqlite_url: str) -> None:
    store = SQLAlchemyAuthStore(sqlite_url)
    mine = RedisAuthChannel(url=redis_url())
    assert mine.log is None
    assert make_app(store, auth_channel=mine).state.auth_channel is mine
    assert mine.log is store
    await mine.aclose()
    await store.close()


async def test_a_given_pywire_channel_is_used_as_is() -> None:
    mine = MemoryAuthChannel()
    assert make_app(MemoryAuthStore(), auth_channel=mine).state.auth_channel is mine


async def test_the_lifespan_starts_and_stops_the_channel(tmp_path: Path) -> None:
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    app = make_app(store)
    channel: FanoutChannel = app.state.auth_channel
    await store.create_user(
        UserRecord("u1", "a@example.com"),
        link=ProviderLink("local", "a@example.com", "u1"),
    )
    router = app.app.router
    async with router.lifespan_context(app.app):
        assert channel._tasks
        assert not any(t.done() for t in channel._tasks)
        running = list(channel._tasks)
    assert channel._tasks == []
    assert all(t.done() for t in running)


async def test_pywire_auth_channel_postgres_adds_notifications(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pywire_auth.channels.postgres import PostgresAuthChannel
    from tests.conftest import server_url

    monkeypatch.setenv("PYWIRE_AUTH_CHANNEL", "postgres")
    store = SQLAlchemyAuthStore(server_url("postgres"))
    channel = make_app(store).state.auth_channel
    assert isinstance(channel, PostgresAuthChannel)
    assert channel.log is store
    await channel.aclose()
    await store.close()


@pytest.mark.parametrize(
    ("choice", "reason"),
    [("postgres", "on PostgreSQL"), ("redis", "needs REDIS_URL"), ("kafka", "must be one of")],
)
async def test_pywire_auth_channel_refuses_what_cannot_work(
    choice: str, reason: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pywire_auth import ConfigurationError

    monkeypatch.setenv("PYWIRE_AUTH_CHANNEL", choice)
    store = SQLAlchemyAuthStore(sqlite_url)
    with pytest.raises(ConfigurationError, match=reason):
        make_app(store)
    await store.close()


async def test_pywire_auth_channel_memory_forces_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYWIRE_AUTH_CHANNEL", "memory")
    assert isinstance(make_app(MemoryAuthStore()).state.auth_channel, MemoryAuthChannel)
