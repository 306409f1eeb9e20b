"""Engines for the SQL store: settings, bounded waits and the retryable-error signal.

Private to :mod:`pywire_auth.stores.sqlalchemy`, which guards the SQLAlchemy import.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pywire_auth.exceptions import ConfigurationError, StoreUnavailableError

__all__ = [
    "CONNECT_TIMEOUT",
    "DEADLOCK_RETRIES",
    "OPERATION_TIMEOUT",
    "SCHEMA_ATTEMPTS",
    "STALE_RETRIES",
    "RetryTransaction",
    "configure_sqlite",
    "create_private_sqlite_file",
    "is_deadlock",
    "make_engine",
    "mapped_errors",
    "run_bounded",
    "unavailable",
]

logger = logging.getLogger("pywire_auth.stores.sqlalchemy")

_T = TypeVar("_T")

# Bounded waits everywhere: a dead or locked database must turn into
# StoreUnavailableError within seconds, not hang a request forever.
CONNECT_TIMEOUT = 5
_POOL_TIMEOUT = 10
_POOL_SIZE = 16
_POOL_OVERFLOW = 8
#: Longest any one store operation may take, end to end, before it is unavailable.
OPERATION_TIMEOUT = 10.0
# Operations given up on keep running until their cancellation completes; a
# reference here keeps them from being garbage-collected mid-cleanup.
_ABANDONED: set[asyncio.Future[Any]] = set()
_DRIVER_ARGS: dict[str, dict[str, Any]] = {
    "aiosqlite": {"timeout": CONNECT_TIMEOUT},
    "asyncpg": {"timeout": CONNECT_TIMEOUT, "command_timeout": 30},
    "aiomysql": {"connect_timeout": CONNECT_TIMEOUT},
}


DEADLOCK_RETRIES = 5
# A dead pooled connection fails its first statement; SQLAlchemy then drops every
# connection of the stale pool, so a second attempt runs on a fresh one.
STALE_RETRIES = 2
SCHEMA_ATTEMPTS = 5
# MySQL/MariaDB: 1213 deadlock. PostgreSQL: 40P01 deadlock, 40001 serialization failure.
_DEADLOCK_CODES = {1213, "40P01", "40001"}


class RetryTransaction(Exception):  # a signal, never seen by users
    """Internal: the database aborted a transaction that is safe to run again."""


def is_deadlock(err: exc.DBAPIError) -> bool:
    orig = err.orig
    codes = {getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)}
    if orig is not None and orig.args:
        codes.add(orig.args[0])
    return bool(codes & _DEADLOCK_CODES)


def configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer writes; the busy timeout makes a second
    # writer wait for the lock instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL itself needs a lock another
        # process may hold while it does the same.
        cursor.execute(f"PRAGMA busy_timeout={CONNECT_TIMEOUT * 1000}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


#: Mode of a SQLite database file the store creates: owner read/write only.
#: SQLite gives the -wal, -shm and -journal files the database file's mode.
SQLITE_FILE_MODE = 0o600


def create_private_sqlite_file(
    _dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
) -> None:
    """A ``do_connect`` hook: create a missing SQLite database file as ``0600`` first.

    Without it SQLite creates the file with ``0644`` (under the usual umask), and
    every local user can read the password hashes and session digests, as well as
    the -wal and -shm files, whose modes SQLite copies from the database file. A
    file that already exists is left as it is: its owner chose that mode, and a
    warning names a file others can read.
    """
    path = _sqlite_path(cargs[0] if cargs else cparams.get("database"), cparams.get("uri"))
    if path is None:
        return
    try:
        # O_EXCL: never follow or reuse a file that appeared meanwhile (a symlink
        # planted by another user would otherwise decide where our data goes).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except FileExistsError:
        _warn_if_readable_by_others(path)
        return
    except OSError:
        return  # SQLite's own open reports a missing folder or a denied path
    os.close(fd)


def _sqlite_path(name: Any, uri: Any) -> str | None:
    # The file SQLite will open, or None for an in-memory database.
    if not isinstance(name, str) or name in ("", ":memory:"):
        return None
    if uri and name.startswith("file:"):
        parts = urlsplit(name)
        if parse_qs(parts.query).get("mode") == ["memory"] or not parts.path:
            return None
        return unquote(parts.path)
    return name


_WARNED: set[str] = set()


def _warn_if_readable_by_others(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o077 and path not in _WARNED:
        _WARNED.add(path)
        logger.warning(
            "SQLite database %s is readable by other users (mode %o); chmod 600 it",
            path,
            mode & 0o777,
        )


def make_engine(url: str) -> AsyncEngine:
    try:
        parsed = sa.make_url(url)
        driver_args = _DRIVER_ARGS.get(parsed.get_driver_name(), {})
        extra: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite" and _sqlite_in_memory(parsed):
            # Each pooled connection would open its own empty database: the tables
            # one connection creates would be missing on the next.
            raise ConfigurationError(
                "an in-memory SQLite database exists only inside one connection, and the "
                "store uses a pool of them: use MemoryAuthStore() for an in-memory store, "
                "or a file (sqlite+aiosqlite:///./test.db, or a tmp_path in tests)"
            )
        if parsed.get_backend_name() == "sqlite":
            # Every write here runs in engine.begin(), which commits or rolls back
            # itself, and reads open no SQLite transaction: the pool's own rollback
            # on return would only cost a thread hand-off per lookup.
            extra["pool_reset_on_return"] = None
        return create_async_engine(
            parsed,
            # No pre-ping: it costs a round trip on every checkout. A connection that
            # died meanwhile fails its first statement instead, SQLAlchemy then drops
            # the whole stale pool, and the operation is retried on a fresh one.
            pool_pre_ping=False,
            # Enough steady connections for a busy worker: overflow connections are
            # closed on return, and reopening them (TLS, auth) costs far more than
            # the query.
            pool_size=_POOL_SIZE,
            max_overflow=_POOL_OVERFLOW,
            pool_timeout=_POOL_TIMEOUT,
            connect_args=driver_args,
            # Error messages then never quote a statement's parameters.
            hide_parameters=True,
            **extra,
        )
    except (exc.ArgumentError, exc.NoSuchModuleError, exc.InvalidRequestError) as err:
        raise ConfigurationError(f"cannot use database URL: {err}") from err
    except ImportError as err:
        raise ConfigurationError(
            f"the database driver for {url.split(':', 1)[0]!r} is not installed: {err}"
        ) from err


def _sqlite_in_memory(url: sa.URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _forget(task: asyncio.Future[Any]) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as lost


def unavailable(err: BaseException | None) -> StoreUnavailableError:
    """The error to raise for a database failure, logged without its message.

    Driver messages can quote the statement's parameters (emails, password
    hashes); the log gets the exception types only.
    """
    cause = getattr(err, "orig", None)
    logger.warning(
        "auth store unavailable: %s%s",
        type(err).__name__,
        f" ({type(cause).__name__})" if cause is not None else "",
    )
    return StoreUnavailableError("the user store is unavailable")


@asynccontextmanager
async def mapped_errors(*, retryable: bool = False) -> AsyncIterator[None]:
    """The one place driver errors become ours, for the store and the SQL throttle.

    ``IntegrityError`` passes through for the writes that expect it; a deadlock
    or a dropped connection becomes :class:`RetryTransaction` when the caller can
    run the transaction again; everything else means "could not decide".
    """
    try:
        yield
    except exc.IntegrityError:
        raise
    except exc.DBAPIError as err:
        if retryable and (is_deadlock(err) or err.connection_invalidated):
            raise RetryTransaction from err
        raise unavailable(err) from err
    except (exc.TimeoutError, exc.DisconnectionError, OSError, TimeoutError) as err:
        raise unavailable(err) from err


async def run_bounded(operation: Awaitable[_T], timeout: float) -> _T:  # noqa: ASYNC109
    """Await ``operation`` for at most ``timeout`` seconds.

    A database that accepts connections but never answers would otherwise hang
    the request until a TCP timeout. On expiry the operation is cancelled in
    the background (its connection may take a while to clean up) and the
    caller gets StoreUnavailableError at once.
    """
    task = asyncio.ensure_future(operation)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        _ABANDONED.add(task)
        task.add_done_callback(_forget)
        logger.warning("auth store did not answer within %s s", timeout)
        raise StoreUnavailableError("the user store did not answer in time")
    return task.result()
