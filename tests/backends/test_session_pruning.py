"""Expired sessions are deleted in bounded batches, on every store, by a background pruner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from pywire_auth import (
    ConfigurationError,
    InvalidInputError,
    MemoryAuthStore,
    StoreUnavailableError,
    UserRecord,
)
from pywire_auth.protocols import SessionStore
from pywire_auth.session_pruner import SessionPruner
from pywire_auth.sessions import SessionConfig, SessionManager
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink
from tests.backends._servers import SESSION_SECRET
from tests.conftest import reset_database, server_url

pytestmark = pytest.mark.asyncio

START = 1_000_000
TTL = 100


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _Recording:
    """Records what each batch deleted; everything else is the real store."""

    batches: list[int]

    async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
        deleted: int = await super().delete_expired_sessions(now, limit=limit)  # type: ignore[misc]
        self.batches.append(deleted)
        return deleted


class RecordingMemoryStore(_Recording, MemoryAuthStore):
    def __init__(self) -> None:
        super().__init__()
        self.batches = []


class RecordingSQLStore(_Recording, SQLAlchemyAuthStore):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches = []


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgres", "mysql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[_Recording]:
    kind = str(request.param)
    if kind == "memory":
        memory = RecordingMemoryStore()
        yield memory
        return
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    else:
        url = server_url(kind)
        await reset_database(url)
    sql = RecordingSQLStore(url)
    try:
        yield sql
    finally:
        await sql.close()


async def _manager(store: _Recording, clock: Clock) -> SessionManager:
    assert isinstance(store, SessionStore)
    await store.create_user(  # type: ignore[attr-defined]
        UserRecord("u1", "u1@example.com"),
        link=ProviderLink(LOCAL_PROVIDER, "u1@example.com", "u1"),
    )
    config = SessionConfig(ttl=TTL, refresh_after=10)
    return SessionManager(store, SESSION_SECRET, config, clock=clock)


async def test_prune_deletes_only_expired_sessions_in_batches(store: _Recording) -> None:
    clock = Clock()
    sessions = await _manager(store, clock)
    old = [await sessions.start("u1") for _ in range(7)]
    clock.now += 50
    live = [await sessions.start("u1") for _ in range(2)]
    clock.now += 51  # the first seven expired 1 s ago; the others live 49 s more

    assert await sessions.prune_expired(batch=3) == 7
    assert store.batches == [3, 3, 1]
    for token in old:
        assert await sessions.store.get_session(sessions.session_id(token)) is None
    for token in live:
        assert await sessions.load(token) is not None

    store.batches.clear()
    assert await sessions.prune_expired(batch=3) == 0
    assert store.batches == [0]
    clock.now += 50
    assert await sessions.prune_expired(batch=2) == 2
    assert store.batches == [0, 2, 0]


async def test_prune_yields_to_other_tasks_between_batches() -> None:
    store = RecordingMemoryStore()
    clock = Clock()
    sessions = await _manager(store, clock)
    for _ in range(5):
        await sessions.start("u1")
    clock.now += TTL + 1
    # The memory store never awaits, so only the pause between batches lets a
    # request (here: a task noting how far pruning got) run in the middle.
    seen: set[int] = set()
    pruning = asyncio.create_task(sessions.prune_expired(batch=2))
    while not pruning.done():
        seen.add(len(store.batches))
        await asyncio.sleep(0)
    assert await pruning == 5
    assert {1, 2} <= seen


async def test_prune_needs_a_positive_batch() -> None:
    sessions = await _manager(RecordingMemoryStore(), Clock())
    with pytest.raises(InvalidInputError):
        await sessions.prune_expired(batch=0)


WAIT_BOUND = 10.0  # seconds: how long to wait for the background task, not a timing assert


async def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition()`` until it holds, for at most WAIT_BOUND seconds."""
    async with asyncio.timeout(WAIT_BOUND):
        while not condition():  # noqa: ASYNC110 - the task has no event to wait on
            await asyncio.sleep(0.01)


async def test_pruner_runs_in_the_background_until_closed(store: _Recording) -> None:
    clock = Clock()
    sessions = await _manager(store, clock)
    for _ in range(3):
        await sessions.start("u1")
    clock.now += TTL + 1
    pruner = SessionPruner(sessions, interval=0.05, jitter=0, batch=2, pause=0)
    assert not pruner.running
    async with pruner:
        pruner.start()  # a second start is a no-op
        assert pruner.running
        await _wait_for(lambda: sum(store.batches) == 3)
        assert store.batches[:2] == [2, 1]
        await _wait_for(lambda: len(store.batches) >= 3)  # it keeps going
    assert not pruner.running
    await pruner.aclose()  # closing twice is fine


async def test_pruner_survives_a_failing_pass(caplog: pytest.LogCaptureFixture) -> None:
    class FailingOnce(RecordingMemoryStore):
        failed = False

        async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
            if not self.failed:
                self.failed = True
                raise StoreUnavailableError("the test made the store fail once")
            return await super().delete_expired_sessions(now, limit=limit)

    store = FailingOnce()
    clock = Clock()
    sessions = await _manager(store, clock)
    await sessions.start("u1")
    clock.now += TTL + 1
    caplog.set_level(logging.WARNING, logger="pywire_auth.sessions")
    async with SessionPruner(sessions, interval=0.02, jitter=0, pause=0):
        await _wait_for(lambda: sum(store.batches) == 1)
    assert store.failed
    assert "pruning expired sessions failed (unavailable)" in caplog.text


async def test_pruner_run_once_reports_the_count(caplog: pytest.LogCaptureFixture) -> None:
    store = RecordingMemoryStore()
    clock = Clock()
    sessions = await _manager(store, clock)
    for _ in range(4):
        await sessions.start("u1")
    clock.now += TTL + 1
    caplog.set_level(logging.INFO, logger="pywire_auth.sessions")
    assert await SessionPruner(sessions, batch=3, pause=0).run_once() == 4
    assert "pruned 4 expired sessions" in caplog.text


@pytest.mark.parametrize(
    "options",
    [
        {"interval": 0},
        {"interval": -1},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"batch": 0},
        {"pause": -1},
    ],
)
async def test_pruner_config_validation(options: dict[str, float]) -> None:
    sessions = await _manager(RecordingMemoryStore(), Clock())
    with pytest.raises(ConfigurationError):
        SessionPruner(sessions, **options)  # type: ignore[arg-type]


async def test_a_pruner_that_crashed_is_reported_and_still_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(RecordingMemoryStore):
        async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
            raise RuntimeError("a bug in a third-party store")

    sessions = await _manager(Broken(), Clock())
    caplog.set_level(logging.ERROR, logger="pywire_auth.sessions")
    pruner = SessionPruner(sessions, interval=0.02, jitter=0)
    pruner.start()
    await _wait_for(lambda: not pruner.running)
    await asyncio.sleep(0)  # the done callback runs on the next turn
    assert "the session pruner stopped" in caplog.text
    await pruner.aclose()
