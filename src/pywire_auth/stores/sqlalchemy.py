"""AuthStore on any async SQLAlchemy database (SQLite, PostgreSQL, MySQL/MariaDB, ...).

Needs the ``sqlalchemy`` extra: ``pip install 'pywire-auth[sqlalchemy]'``.

Alembic users import the table metadata from here::

    from pywire_auth.stores.sqlalchemy import metadata
    target_metadata = metadata

The class is assembled from one small module per job: ``_sql_core`` (engine,
schema on first use, deadlines, retries, error mapping), ``_sql_users``,
``_sql_links``, ``_sql_directory`` (listings), ``_sql_sessions`` and
``_sql_events`` (the event log).
"""

from __future__ import annotations

try:
    # Checked here, before the modules below import it, to name the extra.
    import sqlalchemy.ext.asyncio  # noqa: F401
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "SQLAlchemyAuthStore needs the 'sqlalchemy' extra: pip install 'pywire-auth[sqlalchemy]'"
    ) from _missing

from pywire_auth.stores._schema import metadata
from pywire_auth.stores._sql_directory import SQLDirectory
from pywire_auth.stores._sql_events import SQLEvents
from pywire_auth.stores._sql_links import SQLLinks
from pywire_auth.stores._sql_sessions import SQLSessions
from pywire_auth.stores._sql_users import SQLUsers

__all__ = ["SQLAlchemyAuthStore", "metadata"]


class SQLAlchemyAuthStore(SQLUsers, SQLLinks, SQLDirectory, SQLSessions, SQLEvents):
    """An :class:`~pywire_auth.AuthStore` and session store in SQL tables, created on first use.

    Give it a URL and it owns (and on :meth:`close` disposes) its engine; give it
    an ``AsyncEngine`` you share with the rest of your app and it never disposes it.

    >>> store = SQLAlchemyAuthStore("sqlite+aiosqlite:///./local-auth.db")  # doctest: +SKIP
    """

    def __repr__(self) -> str:
        # render_as_string hides the password by default.
        return f"SQLAlchemyAuthStore({self._engine.url!r})"
