"""The SQLite hot-read connections: used only for files, bounded, closed with the store."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth.stores._hot_reads import SQLiteReader
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink, UserRecord

pytestmark = pytest.mark.asyncio


def _reader_threads() -> int:
    # aiosqlite runs each connection on a thread of its own.
    return sum(1 for t in threading.enumerate() if "_connection_worker_thread" in t.name)


async def _store_with_users(url: str, count: int) -> SQLAlchemyAuthStore:
    store = SQLAlchemyAuthStore(url)
    for i in range(count):
        user = UserRecord(str(uuid.uuid4()), f"u{i}@example.com")
        await store.create_user(user, link=ProviderLink(LOCAL_PROVIDER, user.email, user.user_id))
    return store


async def test_reader_only_for_file_databases(tmp_path: Path) -> None:
    file_engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    memory_engine = create_async_engine("sqlite+aiosqlite://")
    try:
        assert SQLiteReader.for_engine(file_engine) is not None
        assert SQLiteReader.for_engine(memory_engine) is None
    finally:
        await file_engine.dispose()
        await memory_engine.dispose()


async def test_reads_are_bounded_and_closed_with_the_store(tmp_path: Path) -> None:
    before = _reader_threads()
    store = await _store_with_users(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", 5)
    reader = store._sqlite_reader
    assert reader is not None
    results = await asyncio.gather(
        *(store.get_login(LOCAL_PROVIDER, f"u{i % 5}@example.com") for i in range(60))
    )
    assert all(
        r is not None and r.user.email == f"u{i % 5}@example.com" for i, r in enumerate(results)
    )
    assert 1 <= reader._open <= reader._size
    await store.close()
    await asyncio.sleep(0)  # let closed connection threads finish
    for _ in range(100):
        if _reader_threads() <= before:
            break
        await asyncio.sleep(0.05)
    assert _reader_threads() <= before


async def test_reads_go_on_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    store = await _store_with_users(f"sqlite+aiosqlite:///{db}", 1)
    blocker = sqlite3.connect(db, timeout=0)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        login = await store.get_login(LOCAL_PROVIDER, "u0@example.com")
        assert login is not None
    finally:
        blocker.rollback()
        blocker.close()
        await store.close()
