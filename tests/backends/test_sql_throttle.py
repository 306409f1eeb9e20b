"""SQLAlchemyThrottle beyond the shared contract: windows, pruning, hashing, outages,
and five OS processes sharing one limit through one database."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth import ConfigurationError, SQLAlchemyAuthStore, StoreUnavailableError
from pywire_auth.stores._schema import throttle as throttle_table
from pywire_auth.throttles.sql import SQLAlchemyThrottle
from tests.backends._throttle_worker import KEY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def store(sql_url: str) -> AsyncIterator[SQLAlchemyAuthStore]:
    store = SQLAlchemyAuthStore(sql_url)
    yield store
    await store.close()


async def _rows(store: SQLAlchemyAuthStore) -> list[tuple[str, int, int]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(
            sa.select(throttle_table.c.key_hash, throttle_table.c.window_end, throttle_table.c.hits)
        )
        return [(row[0], int(row[1]), int(row[2])) for row in result]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def test_a_window_ends_and_the_next_starts_afresh(store: SQLAlchemyAuthStore) -> None:
    clock = Clock()
    throttle = SQLAlchemyThrottle(store, clock=clock)

    async def hit() -> bool:
        return await throttle.hit("k", limit=2, window=60)

    assert [await hit() for _ in range(3)] == [True, True, False]
    clock.now += 59.9
    assert not await hit()
    clock.now += 0.1
    assert [await hit() for _ in range(3)] == [True, True, False]
    # A refund never reaches into a window that has ended.
    clock.now += 60
    await throttle.undo("k")
    assert [await hit() for _ in range(3)] == [True, True, False]


async def test_only_hashes_of_keys_are_stored(store: SQLAlchemyAuthStore) -> None:
    throttle = SQLAlchemyThrottle(store)
    key = "login:email:ann@example.com"
    await throttle.hit(key, limit=5, window=60)
    await throttle.hit(key, limit=5, window=60)
    [(key_hash, _, hits)] = await _rows(store)
    assert (key_hash, hits) == (_sha(key), 2)
    await throttle.reset(key)
    assert await _rows(store) == []


async def test_prune_deletes_expired_windows_in_bounded_batches(
    store: SQLAlchemyAuthStore,
) -> None:
    clock = Clock()
    throttle = SQLAlchemyThrottle(store, clock=clock, prune_batch=3)
    for i in range(5):
        await throttle.hit(f"old{i}", limit=3, window=60)
    clock.now += 30
    for _ in range(3):
        await throttle.hit("live", limit=3, window=60)  # at its limit, 30 s left
    await throttle.hit("long", limit=3, window=3600)
    clock.now += 30  # the five old windows end now; "live" and "long" go on
    assert await throttle.prune() == 3
    assert await throttle.prune() == 2
    assert await throttle.prune() == 0
    assert sorted(key for key, _, _ in await _rows(store)) == sorted([_sha("live"), _sha("long")])
    assert not await throttle.hit("live", limit=3, window=60)  # its count survived


async def test_prunes_now_and_then_on_its_own(store: SQLAlchemyAuthStore) -> None:
    clock = Clock()
    throttle = SQLAlchemyThrottle(store, clock=clock, prune_every=4)
    for i in range(3):
        await throttle.hit(f"old{i}", limit=3, window=60)
    clock.now += 60
    assert len(await _rows(store)) == 3
    await throttle.hit("new", limit=3, window=60)  # the 4th hit of this instance prunes
    assert [key for key, _, _ in await _rows(store)] == [_sha("new")]


async def test_takes_an_engine_or_a_url(sql_url: str) -> None:
    engine = create_async_engine(sql_url)
    shared = SQLAlchemyThrottle(engine)
    owned = SQLAlchemyThrottle(sql_url)
    try:
        assert await shared.hit("k", limit=1, window=60)
        assert not await owned.hit("k", limit=1, window=60)  # one table, one count
        await shared.close()  # not its engine: still usable
        async with engine.connect() as conn:
            assert await conn.scalar(sa.select(1)) == 1
    finally:
        await owned.close()
        await engine.dispose()


async def test_refuses_work_once_closed(sql_url: str) -> None:
    engine = create_async_engine(sql_url)
    try:
        for throttle in (SQLAlchemyThrottle(sql_url), SQLAlchemyThrottle(engine)):
            assert await throttle.hit("k", limit=5, window=60)
            await throttle.close()
            with pytest.raises(StoreUnavailableError, match="closed"):
                await throttle.hit("k", limit=5, window=60)
            with pytest.raises(StoreUnavailableError, match="closed"):
                await throttle.reset("k")
    finally:
        await engine.dispose()


async def test_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ConfigurationError):
        SQLAlchemyThrottle("")
    with pytest.raises(ConfigurationError, match="positive"):
        SQLAlchemyThrottle("sqlite+aiosqlite://", prune_every=0)


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://u:p@127.0.0.1:1/db", "mysql+aiomysql://u:p@127.0.0.1:1/db"]
)
async def test_unreachable_database_is_unavailable_not_unthrottled(url: str) -> None:
    throttle = SQLAlchemyThrottle(url, timeout=5)
    try:
        with pytest.raises(StoreUnavailableError):
            await throttle.hit("ip:1", limit=2, window=60)
        with pytest.raises(StoreUnavailableError):
            await throttle.undo("ip:1")
        with pytest.raises(StoreUnavailableError):
            await throttle.reset("ip:1")
    finally:
        await throttle.close()


# Five OS processes, one key --------------------------------------------------------

PROCESSES = 5
HITS_PER_PROCESS = 40
LIMIT = 37


async def test_five_processes_share_exactly_one_limit(sql_url: str) -> None:
    # Every process creates the table on its first hit (a race of its own), then
    # all fire their hits at once. Exactly LIMIT may pass in total, and the row
    # must hold every single hit: no update may be lost between processes.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.backends._throttle_worker",
            sql_url,
            str(LIMIT),
            str(HITS_PER_PROCESS),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if line != b"ready\n":
                assert proc.stderr is not None
                err = await asyncio.wait_for(proc.stderr.read(), 30)
                pytest.fail(f"worker did not start: {line!r}\n{err.decode(errors='replace')}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await asyncio.wait_for(proc.communicate(), 120) for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    allowed = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        allowed.append(int(out.decode().split()[-1]))
    assert sum(allowed) == LIMIT, allowed
    engine = create_async_engine(sql_url)
    try:
        async with engine.connect() as conn:
            hits = await conn.scalar(
                sa.select(throttle_table.c.hits).where(throttle_table.c.key_hash == _sha(KEY))
            )
    finally:
        await engine.dispose()
    assert hits == PROCESSES * HITS_PER_PROCESS
