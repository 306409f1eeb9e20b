"""The two lookups every request makes, run on the driver itself where that is safe.

A sign-in reads one login row and every signed-in request one session row. Run
through SQLAlchemy Core, each pays for parameter and result processing and several
greenlet and thread hand-offs, which cost several times the query itself (see
benchmarks/db_path.py). For asyncpg and aiosqlite this module compiles each query
once and runs the SQL text on the pooled connection's driver connection: same
pool, same SQL, a third of the overhead. Other drivers keep the Core path.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["DRIVER_ERRORS", "HotQuery", "fetch_one_raw", "json_value"]

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
    async with driver.execute(hot.sql, hot.args(params)) as cursor:
        row = await cursor.fetchone()
    return tuple(row) if row is not None else None


def json_value(value: Any) -> Any:
    """A JSON column as Python data: asyncpg decodes it already, SQLite gives text."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value if value is not None else {}
