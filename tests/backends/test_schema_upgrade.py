"""A database made before an index existed gets it on first use, on every backend."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth.stores._schema import sessions
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

pytestmark = pytest.mark.asyncio

EXPIRES_INDEX = "ix_pywire_auth_sessions_expires_at"


async def _session_indexes(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes(sessions.name))
    finally:
        await engine.dispose()
    return {str(index["name"]) for index in found}


async def _drop_expires_index(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            index = next(i for i in sessions.indexes if i.name == EXPIRES_INDEX)
            await conn.run_sync(index.drop)
    finally:
        await engine.dispose()


async def test_missing_index_is_created_on_an_existing_database(sql_url: str) -> None:
    first = SQLAlchemyAuthStore(sql_url)
    await first.create_tables()
    await first.close()
    assert EXPIRES_INDEX in await _session_indexes(sql_url)

    # As a database created by a version without the index looks.
    await _drop_expires_index(sql_url)
    assert EXPIRES_INDEX not in await _session_indexes(sql_url)

    store = SQLAlchemyAuthStore(sql_url)
    try:
        await store.create_tables()
    finally:
        await store.close()
    assert EXPIRES_INDEX in await _session_indexes(sql_url)


async def test_concurrent_first_use_creates_the_index_once(sql_url: str) -> None:
    first = SQLAlchemyAuthStore(sql_url)
    await first.create_tables()
    await first.close()
    await _drop_expires_index(sql_url)

    # Several processes starting at once all find the index missing.
    stores = [SQLAlchemyAuthStore(sql_url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.create_tables() for store in stores))
    finally:
        for store in stores:
            await store.close()
    assert EXPIRES_INDEX in await _session_indexes(sql_url)
