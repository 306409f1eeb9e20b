"""Engine, schema on first use, deadlines and retries of the SQL store.

Private to :mod:`pywire_auth.stores.sqlalchemy`: the one place its reads and
transactions are bounded, retried and their driver errors mapped; the method
modules (``_sql_users``, ``_sql_links``, ``_sql_directory``, ``_sql_sessions``,
``_sql_events``) only build statements and hand them here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pywire_auth.exceptions import ConfigurationError, StoreUnavailableError
from pywire_auth.migrations import ensure_schema, schema_lock
from pywire_auth.stores._hot_reads import DRIVER_ERRORS, HotQuery, SQLiteReader, fetch_one_raw
from pywire_auth.stores._sql_engine import (
    DEADLOCK_RETRIES,
    OPERATION_TIMEOUT,
    SCHEMA_ATTEMPTS,
    STALE_RETRIES,
    RetryTransaction,
    configure_sqlite,
    create_private_sqlite_file,
    make_engine,
    mapped_errors,
    run_bounded,
    unavailable,
)
from pywire_auth.stores._sql_queries import LOGIN_QUERY, SESSION_USER_QUERY, USER_QUERY

__all__ = ["SQLCore"]

_T = TypeVar("_T")


class SQLCore:
    """The SQL store's engine and plumbing: first-use schema, bounded reads, retried transactions.

    Every query of :class:`~pywire_auth.stores.sqlalchemy.SQLAlchemyAuthStore`
    goes through :meth:`_rows`, :meth:`_row`, :meth:`_hot_row` or :meth:`_transact`,
    so deadlines, retries, error mapping and the closed check live here only.
    """

    def __init__(
        self,
        url_or_engine: str | AsyncEngine,
        *,
        create_tables: bool = True,
        timeout: float = OPERATION_TIMEOUT,
    ) -> None:
        if timeout <= 0:
            raise ConfigurationError("timeout must be positive")
        if isinstance(url_or_engine, AsyncEngine):
            self._engine = url_or_engine
            self._owns_engine = False
        elif isinstance(url_or_engine, str) and url_or_engine:
            self._engine = make_engine(url_or_engine)
            self._owns_engine = True
        else:
            raise ConfigurationError("SQLAlchemyAuthStore needs a database URL or an AsyncEngine")
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine.sync_engine, "connect", configure_sqlite)
            event.listen(self._engine.sync_engine, "do_connect", create_private_sqlite_file)
        # Single-statement reads need no transaction: in autocommit asyncpg skips
        # BEGIN and ROLLBACK, two of a lookup's three round trips. Elsewhere the
        # switch itself costs (MySQL sends SETs, aiosqlite hops threads), so no.
        self._reads = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._engine.dialect.name == "postgresql"
            else self._engine
        )
        self._timeout = timeout
        self._sqlite_reader = SQLiteReader.for_engine(self._engine)
        self._hot_user = HotQuery(USER_QUERY, self._engine)
        self._hot_login = HotQuery(LOGIN_QUERY, self._engine)
        self._hot_session = HotQuery(SESSION_USER_QUERY, self._engine)
        self._schema_ready = not create_tables
        self._closed = False
        self._schema_lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        """The engine this store runs its queries on."""
        return self._engine

    @property
    def timeout(self) -> float:
        """The longest one operation may take before it is unavailable, in seconds."""
        return self._timeout

    async def create_tables(self) -> None:
        """Create the tables, or migrate them to this version (done on first use).

        Records the schema's revision in ``pywire_auth_alembic_version``, so
        ``pywire-auth db upgrade`` later knows where it stands.
        """
        async with self._schema_lock:
            if self._schema_ready:
                return
            # Several processes may create the tables at once; each pass skips the
            # tables that exist by then, so a few passes settle any race.
            for attempt in range(SCHEMA_ATTEMPTS):
                try:
                    await self._create_all()
                    break
                except StoreUnavailableError:
                    if attempt == SCHEMA_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.05 * (attempt + 1))
            self._schema_ready = True

    async def _create_all(self) -> None:
        try:
            async with schema_lock(), self._mapped_errors(), self._engine.begin() as conn:
                await conn.run_sync(ensure_schema)
        except exc.IntegrityError as err:
            # PostgreSQL reports two processes creating one table or index at once
            # as a duplicate in its catalog; the next pass finds it there.
            raise StoreUnavailableError("the schema was being created concurrently") from err

    @staticmethod
    def _mapped_errors(*, retryable: bool = False) -> AbstractAsyncContextManager[None]:
        return mapped_errors(retryable=retryable)

    async def _rows(
        self, statement: sa.Executable, params: dict[str, Any] | None = None
    ) -> list[Row[Any]]:
        """Run one read statement on a pooled connection and return all its rows."""

        self._check_open()

        async def read() -> list[Row[Any]]:
            if not self._schema_ready:
                await self.create_tables()
            for _ in range(STALE_RETRIES):
                try:
                    async with self._mapped_errors(retryable=True), self._reads.connect() as conn:
                        return list((await conn.execute(statement, params or {})).all())
                except RetryTransaction:
                    continue
            raise StoreUnavailableError("the user store keeps dropping connections")

        return await run_bounded(read(), self._timeout)

    async def _row(
        self, statement: sa.Executable, params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        rows = await self._rows(statement, params)
        return rows[0] if rows else None

    async def _hot_row(self, hot: HotQuery, params: dict[str, Any]) -> Sequence[Any] | None:
        """One row of a per-request lookup, straight from the driver where possible."""
        if not hot.raw:
            row = await self._row(hot.query, params)
            return tuple(row) if row is not None else None
        self._check_open()
        if self._sqlite_reader is not None and self._schema_ready:
            # A local file needs no network deadline: WAL readers never wait for
            # the writer, and the busy timeout bounds the rare checkpoint wait.
            try:
                return await self._sqlite_reader.fetch_one(hot, params)
            except DRIVER_ERRORS as err:
                raise unavailable(err) from err

        async def read() -> Sequence[Any] | None:
            if not self._schema_ready:
                await self.create_tables()
            failure: BaseException | None = None
            for _ in range(STALE_RETRIES):
                async with self._mapped_errors(), self._reads.connect() as conn:
                    try:
                        return await fetch_one_raw(conn, hot, params)
                    except DRIVER_ERRORS as err:
                        # SQLAlchemy never saw this error: drop the connection here
                        # so a dead one does not go back to the pool, then retry.
                        failure = err
                        await conn.invalidate()
            raise unavailable(failure) from failure

        return await run_bounded(read(), self._timeout)

    def _check_open(self) -> None:
        # A disposed engine would quietly open a new pool; after close() nothing
        # may (a background follower outliving its app would leak connections).
        if self._closed:
            raise StoreUnavailableError("the store was closed")

    async def _transact(self, work: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
        """Run ``work`` in one transaction, retrying it when the database picked it as
        a deadlock or serialization victim (InnoDB does so for racing inserts of one
        key; the retry then sees the winner's row and fails cleanly) or when its
        pooled connection turned out to be dead (nothing was committed on it)."""

        self._check_open()

        async def attempts() -> _T:
            if not self._schema_ready:
                await self.create_tables()
            for attempt in range(DEADLOCK_RETRIES):
                try:
                    async with self._mapped_errors(retryable=True), self._engine.begin() as conn:
                        return await work(conn)
                except RetryTransaction:
                    await asyncio.sleep(0.005 * (attempt + 1))
            raise StoreUnavailableError("the user store kept aborting the transaction")

        return await run_bounded(attempts(), self._timeout)

    async def close(self) -> None:
        """Dispose the engine if this store created it; a shared engine is left alone.

        Every later call raises :class:`~pywire_auth.StoreUnavailableError`.
        """
        self._closed = True
        if self._sqlite_reader is not None:
            await self._sqlite_reader.close()
        if self._owns_engine:
            await self._engine.dispose()
