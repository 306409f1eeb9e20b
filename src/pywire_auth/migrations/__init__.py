"""pywire-auth's schema migrations: Alembic revisions shipped inside the package.

They keep their own version table, ``pywire_auth_alembic_version``, so they never
mix with an application's Alembic history. ``pywire-auth db upgrade`` runs them;
without it, :class:`~pywire_auth.SQLAlchemyAuthStore` brings the schema to the
newest revision on first use and records that revision (see
:func:`ensure_schema`). Every function takes a synchronous SQLAlchemy
``Connection``; from async code use ``await conn.run_sync(upgrade)``.

An application that manages our tables in its *own* Alembic environment imports
``metadata`` from :mod:`pywire_auth.stores.sqlalchemy` and filters with
:func:`include_pywire_auth` / :func:`exclude_pywire_auth` (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

try:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.script.revision import ResolutionError
    from alembic.util import CommandError
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "pywire-auth's migrations need the 'sqlalchemy' extra (it brings alembic): "
        "pip install 'pywire-auth[sqlalchemy]'"
    ) from _missing

from pywire_auth.exceptions import InvalidInputError
from pywire_auth.migrations._scope import (
    TABLE_PREFIX,
    VERSION_TABLE,
    exclude_pywire_auth,
    include_pywire_auth,
)
from pywire_auth.stores._schema import metadata
from pywire_auth.stores._v04_detect import refuse_v04

__all__ = [
    "INITIAL_REVISION",
    "TABLE_PREFIX",
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "exclude_pywire_auth",
    "head_revision",
    "include_pywire_auth",
    "revisions",
    "schema_diffs",
    "schema_lock",
    "stamp",
    "steps_up",
    "upgrade",
]

#: The first revision: the schema as it was when migrations were introduced.
INITIAL_REVISION = "0001"
_HERE = Path(__file__).parent


def _config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = conn
    return config


@cache
def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    """The newest revision this version of pywire-auth ships."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("pywire-auth ships no migrations")
    return head


def revisions() -> list[str]:
    """Every shipped revision id, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def _context(conn: sa.Connection, **opts: Any) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, **opts})


def current_revision(conn: sa.Connection) -> str | None:
    """The revision recorded in the database, or ``None`` (never migrated)."""
    return _context(conn).get_current_revision()


def steps_up(start: str | None, target: str = "head") -> list[str]:
    """The revisions an upgrade from ``start`` to ``target`` runs, in order."""
    with _mapped():
        scripts = _scripts()
        path = scripts.iterate_revisions(target, start or "base")
        return [script.revision for script in reversed(list(path))]


def upgrade(conn: sa.Connection, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (default: the newest)."""
    with _mapped():
        command.upgrade(_config(conn), revision)


def downgrade(conn: sa.Connection, revision: str) -> None:
    """Undo migrations down to ``revision`` (``"base"`` drops every table of ours)."""
    with _mapped():
        command.downgrade(_config(conn), revision)


def stamp(conn: sa.Connection, revision: str = "head") -> None:
    """Record ``revision`` as the database's without running anything."""
    # Straight on a MigrationContext, not through env.py: no Alembic module-level
    # proxy is touched, so stores starting concurrently cannot trip over each other.
    with _mapped():
        _context(conn).stamp(_scripts(), revision)


def schema_lock() -> asyncio.Lock:
    """The lock that serializes schema work of this event loop's stores.

    Alembic runs a migration through module-level proxies (``alembic.context``,
    ``alembic.op``): two upgrades interleaving on one loop (``run_sync`` yields at
    every query) would overwrite each other's.
    """
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def _mapped() -> Iterator[None]:
    # The one place Alembic's own errors (an unknown revision, a downgrade past
    # the base) become ours; database errors pass through to the store's mapping.
    try:
        yield
    except (CommandError, ResolutionError) as err:
        raise InvalidInputError(f"migration refused: {err}") from err


def schema_diffs(conn: sa.Connection) -> list[Any]:
    """How the live tables differ from the models (Alembic's diff tuples); ``[]`` if none.

    Covers our tables, their columns, column types and nullability, indexes and
    foreign keys; the application's tables are ignored.
    """
    context = _context(conn, include_object=include_pywire_auth, compare_type=True)
    return list(compare_metadata(context, metadata))


def _table_diffs(conn: sa.Connection) -> list[Any]:
    # Differences in tables and columns; a missing index is repaired, not migrated.
    return [
        diff
        for diff in schema_diffs(conn)
        if not (isinstance(diff, tuple) and diff[0] in ("add_index", "remove_index"))
    ]


def _our_tables(conn: sa.Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) & set(metadata.tables)


def _create_missing(conn: sa.Connection) -> None:
    # create_all adds indexes only to the tables it creates: an index dropped by
    # hand (or missing from an old database) is added here too.
    metadata.create_all(conn, checkfirst=True)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def ensure_schema(conn: sa.Connection) -> None:
    """Bring the database to the newest revision: the store's zero-config path.

    * empty: create every table as the models say and stamp the newest revision;
    * tables but no version: made with ``metadata.create_all`` from these models,
      stamp the newest revision; else made by a pywire-auth before migrations:
      add what is missing, stamp :data:`INITIAL_REVISION` and upgrade;
    * an older revision: upgrade;
    * in every case, finally, recreate a table or index someone dropped.

    Several processes may run this at once; a loser fails on a duplicate table or
    version row, and the caller's retry then finds the work done.
    """
    with _quiet_alembic():
        _ensure_schema(conn)


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    # Alembic logs every context it opens at INFO ("Context impl SQLiteImpl."):
    # noise in an app's start-up log for a step the app never asked for. A level
    # the app set on the "alembic" logger itself is left alone.
    alembic_logger = logging.getLogger("alembic")
    if alembic_logger.level != logging.NOTSET:
        yield
        return
    alembic_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_logger.setLevel(logging.NOTSET)


def _ensure_schema(conn: sa.Connection) -> None:
    recorded = current_revision(conn)
    head = head_revision()
    if recorded is None:
        # 0.4.0's tables are converted by adopt_v04, never migrated in place.
        refuse_v04(conn)
        if _our_tables(conn):
            # Tables missing here are made from today's models; later revisions
            # only change tables every old database already has (users). Indexes
            # of existing tables wait for the revisions (one may rename them).
            metadata.create_all(conn, checkfirst=True)
            if _table_diffs(conn):
                stamp(conn, INITIAL_REVISION)
                upgrade(conn, "head")
            else:
                # Made from today's models by hand (metadata.create_all): current.
                stamp(conn, head)
        else:
            _create_missing(conn)
            stamp(conn, head)
    elif recorded != head:
        upgrade(conn, "head")
    _create_missing(conn)
