"""A Throttle kept in the auth store's SQL database, shared by every process using it.

Needs the ``sqlalchemy`` extra: ``pip install 'pywire-auth[sqlalchemy]'``.

Every worker process and every machine on the same database counts into one
row per key, so a guesser cannot multiply the limit by spreading attempts over
workers. Each hit is one atomic upsert (PostgreSQL and SQLite:
``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``; MySQL/MariaDB:
``INSERT .. ON DUPLICATE KEY UPDATE`` and a locking read of the row in the same
transaction), so concurrent hits can never both take the last free slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

try:
    import sqlalchemy as sa
    from sqlalchemy import event, exc
    from sqlalchemy.dialects import mysql, postgresql, sqlite
    from sqlalchemy.ext.asyncio import AsyncEngine
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "SQLAlchemyThrottle needs the 'sqlalchemy' extra: pip install 'pywire-auth[sqlalchemy]'"
    ) from _missing

from pywire_auth.exceptions import ConfigurationError, StoreUnavailableError
from pywire_auth.stores._schema import throttle as table
from pywire_auth.stores._sql_engine import (
    DEADLOCK_RETRIES,
    OPERATION_TIMEOUT,
    SCHEMA_ATTEMPTS,
    RetryTransaction,
    configure_sqlite,
    create_private_sqlite_file,
    make_engine,
    mapped_errors,
    run_bounded,
)
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.throttles._rules import check_rule

__all__ = ["SQLAlchemyThrottle"]

logger = logging.getLogger("pywire_auth.throttles.sql")

_T = TypeVar("_T")
_MYSQL = ("mysql", "mariadb")
_SUPPORTED = ("sqlite", "postgresql", *_MYSQL)


class SQLAlchemyThrottle:
    """A :class:`~pywire_auth.Throttle` with fixed windows in a SQL table.

    Give it the :class:`~pywire_auth.SQLAlchemyAuthStore` (its engine, deadline
    and database are reused; the store stays the engine's owner), an
    ``AsyncEngine`` (never disposed here) or a URL (owned, disposed by
    :meth:`close`). Works on SQLite, PostgreSQL and MySQL/MariaDB.

    Each hit names its rule, at most ``limit`` hits per key in each ``window``
    seconds (``connect_auth`` takes them from its
    :class:`~pywire_auth.ThrottlePolicy`). Keys are stored
    as their SHA-256, in the table ``pywire_auth_throttle`` (created on first
    use). Every ``prune_every`` hits of this instance, at most ``prune_batch``
    expired windows are deleted; live windows never are. Window ends come from
    this machine's clock, so machines sharing a database need synchronized clocks
    (NTP): skew only stretches or shortens a window by the skew.

    If the database cannot be reached, each method raises
    :class:`~pywire_auth.StoreUnavailableError`, and a sign-in answers
    ``unavailable`` rather than going uncounted.

    >>> store = SQLAlchemyAuthStore("sqlite+aiosqlite:///./local-auth.db")  # doctest: +SKIP
    >>> connect_auth(app, local_idp=LocalIdP(store=store),  # doctest: +SKIP
    ...              throttle=SQLAlchemyThrottle(store))
    """

    def __init__(
        self,
        store_or_engine: SQLAlchemyAuthStore | AsyncEngine | str,
        *,
        create_tables: bool = True,
        timeout: float | None = None,
        prune_every: int = 256,
        prune_batch: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if prune_every < 1 or prune_batch < 1:
            raise ConfigurationError("prune_every and prune_batch must be positive")
        self._owns_engine = False
        if isinstance(store_or_engine, SQLAlchemyAuthStore):
            engine = store_or_engine.engine
            default_timeout = store_or_engine.timeout
        elif isinstance(store_or_engine, AsyncEngine):
            engine, default_timeout = store_or_engine, OPERATION_TIMEOUT
        elif isinstance(store_or_engine, str) and store_or_engine:
            engine, default_timeout = make_engine(store_or_engine), OPERATION_TIMEOUT
            self._owns_engine = True
        else:
            raise ConfigurationError(
                "SQLAlchemyThrottle needs a SQLAlchemyAuthStore, an AsyncEngine or a URL"
            )
        self._timeout = default_timeout if timeout is None else timeout
        if self._timeout <= 0:
            raise ConfigurationError("timeout must be positive")
        dialect = engine.dialect.name
        if dialect not in _SUPPORTED:
            raise ConfigurationError(
                f"SQLAlchemyThrottle supports SQLite, PostgreSQL and MySQL/MariaDB, not "
                f"{dialect!r}; use RedisThrottle"
            )
        if dialect == "sqlite" and not event.contains(
            engine.sync_engine, "connect", configure_sqlite
        ):
            event.listen(engine.sync_engine, "connect", configure_sqlite)
            event.listen(engine.sync_engine, "do_connect", create_private_sqlite_file)
        self._engine = engine
        # One statement is atomic by itself on PostgreSQL: autocommit spares the
        # BEGIN and COMMIT round trips.
        self._writes = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if dialect == "postgresql"
            else engine
        )
        self._mysql = dialect in _MYSQL
        self._upsert = _upsert(dialect)
        self._prune = _prune(dialect, prune_batch)
        self.prune_every = prune_every
        self.prune_batch = prune_batch
        self._clock = clock
        self._hits_since_prune = 0
        self._table_ready = not create_tables
        self._table_lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLAlchemyThrottle({self._engine.url!r})"

    async def hit(self, key: str, *, limit: int, window: int) -> bool:
        """Count one attempt for ``key``; ``False`` once it is over ``limit`` in its window."""
        check_rule(limit, window)
        now = self._now_ms()
        params = {"b_key": _hash(key), "b_now": now, "b_window_end": now + window * 1000}
        hits = await self._run(self._count, params)
        self._hits_since_prune += 1
        if self._hits_since_prune >= self.prune_every:
            self._hits_since_prune = 0
            await self._prune_quietly()
        return hits <= limit

    async def undo(self, key: str) -> None:
        """Take back one attempt of ``key`` (never below zero, never in a new window)."""
        await self._run(self._execute, _UNDO, {"b_key": _hash(key), "b_now": self._now_ms()})

    async def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""
        await self._run(self._execute, _RESET, {"b_key": _hash(key)})

    async def prune(self) -> int:
        """Delete at most ``prune_batch`` expired windows now; return how many went."""
        return await self._run(self._execute, self._prune, {"b_now": self._now_ms()})

    async def create_tables(self) -> None:
        """Create the throttle table if it does not exist (done automatically on first use)."""
        async with self._table_lock:
            if self._table_ready:
                return
            # Several processes may create it at once; the loser of that race
            # sees "already exists" (PostgreSQL: a unique violation in its
            # catalog) and finds the table on its next pass.
            for attempt in range(SCHEMA_ATTEMPTS):
                try:
                    async with mapped_errors(), self._engine.begin() as conn:
                        await conn.run_sync(table.create, checkfirst=True)
                    break
                except (StoreUnavailableError, exc.IntegrityError) as err:
                    if attempt == SCHEMA_ATTEMPTS - 1:
                        raise StoreUnavailableError("cannot create the throttle table") from err
                    await asyncio.sleep(0.05 * (attempt + 1))
            self._table_ready = True

    async def close(self) -> None:
        """Dispose the engine if this throttle created it from a URL.

        Every later call raises :class:`~pywire_auth.StoreUnavailableError`, as the
        store's do.
        """
        self._closed = True
        if self._owns_engine:
            await self._engine.dispose()

    # Plumbing --------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _run(self, operation: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        if self._closed:
            # A disposed engine would quietly open a new pool: a sign-in racing the
            # app's shutdown would leak connections past it.
            raise StoreUnavailableError("the throttle was closed")

        async def attempts() -> _T:
            if not self._table_ready:
                await self.create_tables()
            # A deadlock (MySQL gap locks on concurrent upserts of a new key) or a
            # dead pooled connection rolled the transaction back: running it again
            # is safe. A connection lost after the commit can only over-count.
            for _ in range(DEADLOCK_RETRIES):
                try:
                    async with mapped_errors(retryable=True), self._writes.begin() as conn:
                        return await operation(conn, *args)
                except RetryTransaction:
                    continue
            raise StoreUnavailableError("the throttle store keeps aborting transactions")

        return await run_bounded(attempts(), self._timeout)

    async def _count(self, conn: Any, params: dict[str, Any]) -> int:
        if not self._mysql:
            return int((await conn.execute(self._upsert, params)).scalar_one())
        # MySQL has no RETURNING: the upsert holds the row's lock until commit,
        # so the read in the same transaction sees exactly this hit's count.
        await conn.execute(self._upsert, params)
        return int((await conn.execute(_READ_BACK, params)).scalar_one())

    @staticmethod
    async def _execute(conn: Any, statement: Any, params: dict[str, Any]) -> int:
        return int((await conn.execute(statement, params)).rowcount or 0)

    async def _prune_quietly(self) -> None:
        # Pruning only keeps the table small; a failure must not fail the sign-in
        # whose hit was already counted.
        try:
            await self.prune()
        except StoreUnavailableError:
            logger.warning("throttle prune skipped: the database is unavailable")


def _hash(key: str) -> str:
    # No email or address reaches the database, and every key has the same size.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


_KEY = sa.bindparam("b_key", type_=sa.String)
_NOW = sa.bindparam("b_now", type_=sa.BigInteger)
_EXPIRED = table.c.window_end <= _NOW
_UNDO = (
    sa.update(table)
    .where(table.c.key_hash == _KEY, table.c.hits > 0, table.c.window_end > _NOW)
    .values(hits=table.c.hits - 1)
)
_RESET = sa.delete(table).where(table.c.key_hash == _KEY)
_READ_BACK = sa.select(table.c.hits).where(table.c.key_hash == _KEY).with_for_update()


def _upsert(dialect: str) -> Any:
    """One hit: start a window (1 hit), count in the live one, or restart an expired one."""
    values = {"key_hash": _KEY, "window_end": sa.bindparam("b_window_end"), "hits": 1}
    hits = sa.case((_EXPIRED, 1), else_=table.c.hits + 1)

    def window_end(proposed: Any) -> Any:
        return sa.case((_EXPIRED, proposed), else_=table.c.window_end)

    if dialect in _MYSQL:
        insert = mysql.insert(table).values(values)
        # Assignments run left to right and later ones see earlier ones: ``hits``
        # goes first, while ``window_end`` still holds the old window's end.
        return insert.on_duplicate_key_update(
            [("hits", hits), ("window_end", window_end(insert.inserted.window_end))]
        )
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert_for(table).values(values)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.key_hash],
        set_={"hits": hits, "window_end": window_end(upsert.excluded.window_end)},
    ).returning(table.c.hits)


def _prune(dialect: str, batch: int) -> Any:
    if dialect in _MYSQL:
        return sa.delete(table).where(_EXPIRED).with_dialect_options(mysql_limit=batch)
    expired_keys = sa.select(table.c.key_hash).where(_EXPIRED).limit(batch)
    # The outer condition is checked again on the row itself: on PostgreSQL a
    # window restarted by a concurrent hit between the sub-select and the delete
    # is re-evaluated and kept.
    return sa.delete(table).where(table.c.key_hash.in_(expired_keys), _EXPIRED)
