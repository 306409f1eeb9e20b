"""Which database objects are pywire-auth's: the scope of our migrations.

An application that keeps its own Alembic environment passes one of these as
``include_object`` to ``context.configure``: :func:`exclude_pywire_auth` when our
migrations (``pywire-auth db upgrade``) manage our tables, so the app's
autogenerate never proposes to drop them; :func:`include_pywire_auth` is what our
own environment uses.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["TABLE_PREFIX", "VERSION_TABLE", "exclude_pywire_auth", "include_pywire_auth"]

#: Every table of ours starts with this.
TABLE_PREFIX = "pywire_auth_"
#: Our own Alembic version table, apart from the application's ``alembic_version``.
VERSION_TABLE = "pywire_auth_alembic_version"


def _table_name(obj: Any, name: str | None, type_: str) -> str | None:
    if type_ == "table":
        return name
    table = getattr(obj, "table", None)
    return getattr(table, "name", None)


def _ours(obj: Any, name: str | None, type_: str) -> bool:
    # The models' tables only: other pywire_auth_* tables (adopt_v04's backups of
    # 0.4.0 rows) are the operator's to keep or drop, never a migration's.
    return _table_name(obj, name, type_) in _model_tables()


@cache
def _model_tables() -> frozenset[str]:
    from pywire_auth.stores._schema import metadata

    return frozenset(metadata.tables)


def include_pywire_auth(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic ``include_object``: only pywire-auth's tables (as the models name them)
    and their indexes.

    >>> context.configure(..., include_object=include_pywire_auth)  # doctest: +SKIP
    """
    return _ours(obj, name, type_)


def exclude_pywire_auth(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic ``include_object``: everything *but* pywire-auth's tables (and version table).

    For an application's own ``env.py`` when ``pywire-auth db upgrade`` manages ours::

        from pywire_auth.migrations import exclude_pywire_auth
        context.configure(..., include_object=exclude_pywire_auth)
    """
    table = _table_name(obj, name, type_)
    return not (table and str(table).startswith(TABLE_PREFIX))
