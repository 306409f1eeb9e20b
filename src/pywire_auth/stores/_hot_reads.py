"""The two lookups every request makes, run on the driver itself where that is safe.

A sign-in reads one login row and every signed-in request one session row. Run
through SQLAlchemy Core, each pays for parameter and result processing and several
greenlet and thread hand-offs, which cost several times the query itself (see
benchmarks/db_path.py). For asyncpg and aiosqlite this module compiles each query
once and runs the SQL text on the pooled connection's driver connection: same
pool, same SQL, a third of the overhead. Other drivers keep the Core path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["DRIVER_ERRORS", "HotQuery", "SQLiteReader", "fetch_one_raw", "json_value"]

_RAW_DRIVERS = ("asyncpg", "aiosqlite")


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error, OSError, TimeoutError]
    try:
        import asyncpg

        errors += [asyncpg.PostgresError, asyncpg.InterfaceError]
    except ImportError:  # the postgres extra is optional
        pass
    return tuple(errors)


#: What a driver may raise when run directly; the store maps them to its own errors.
DRIVER_ERRORS = _driver_errors()


class HotQuery:
    """A query compiled once for an engine's dialect, with its parameter order."""

    def __init__(self, query: sa.Select[Any], engine: AsyncEngine) -> None:
        dialect = engine.dialect
        self.raw = dialect.driver in _RAW_DRIVERS
        self.query = query
        compiled = query.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names: Sequence[str] = compiled.positiontup or ()
        self.postgres = dialect.driver == "asyncpg"

    def args(self, params: dict[str, Any]) -> list[Any]:
        """The parameters in the order the SQL text expects them."""
        return [params[name] for name in self.names]


async def fetch_one_raw(
    conn: AsyncConnection, hot: HotQuery, params: dict[str, Any]
) -> Sequence[Any] | None:
    """Run ``hot`` on the driver connection under ``conn``; the first row or ``None``."""
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has one
        raise sqlite3.InterfaceError("connection has no driver connection")
    if hot.postgres:
        record = await driver.fetchrow(hot.sql, *hot.args(params))
        return tuple(record) if record is not None else None
    # One thread hand-off for execute + fetch + close, where a cursor needs three.
    rows = list(await driver.execute_fetchall(hot.sql, hot.args(params)))
    return tuple(rows[0]) if rows else None


def json_value(value: Any) -> Any:
    """A JSON column as Python data: asyncpg decodes it already, SQLite gives text."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value if value is not None else {}


class SQLiteReader:
    """A few aiosqlite connections to one database file, kept open for the hot reads.

    In WAL mode readers never wait for the writer, so the per-request lookups can
    skip SQLAlchemy's pool (its checkout costs more than the query) and run on
    these, one thread hand-off each. Writes still go through the engine.
    """

    def __init__(self, database: str, size: int = 8, busy_timeout_ms: int = 5000) -> None:
        self._database = database
        self._size = size
        self._busy_timeout_ms = busy_timeout_ms
        self._idle: list[Any] = []
        self._open = 0
        self._closed = False
        self._freed = asyncio.Condition()

    @staticmethod
    def for_engine(engine: AsyncEngine) -> SQLiteReader | None:
        """A reader for a file-backed aiosqlite engine; ``None`` for anything else."""
        url = engine.url
        database = url.database or ""
        in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
        if engine.dialect.driver != "aiosqlite" or in_memory or database.startswith("file:"):
            return None
        return SQLiteReader(database)

    async def fetch_one(self, hot: HotQuery, params: dict[str, Any]) -> Sequence[Any] | None:
        """The first row of ``hot`` or ``None``; a connection that failed is closed."""
        conn = await self._acquire()
        try:
            rows = list(await conn.execute_fetchall(hot.sql, hot.args(params)))
        except BaseException:
            await self._discard(conn)
            raise
        await self._release(conn)
        return tuple(rows[0]) if rows else None

    async def _acquire(self) -> Any:
        async with self._freed:
            while not self._idle and self._open >= self._size:
                await self._freed.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            import aiosqlite  # the sqlalchemy extra's SQLite driver; only needed here

            conn = await aiosqlite.connect(self._database, timeout=self._busy_timeout_ms / 1000)
            await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            return conn
        except BaseException:
            await self._discard(None)
            raise

    async def _release(self, conn: Any) -> None:
        if self._closed:
            await self._discard(conn)
            return
        async with self._freed:
            self._idle.append(conn)
            self._freed.notify()

    async def _discard(self, conn: Any) -> None:
        if conn is not None:
            with contextlib.suppress(*DRIVER_ERRORS, ValueError):
                await conn.close()
        async with self._freed:
            self._open -= 1
            self._freed.notify()

    async def close(self) -> None:
        """Close every idle connection (in-flight ones close when they come back)."""
        self._closed = True
        async with self._freed:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            with contextlib.suppress(*DRIVER_ERRORS, ValueError):
                await conn.close()
