"""SQL Server: every table, index and prebuilt query compiles for the ``mssql`` dialect.

No server runs here (none is available to the suite): these tests check the DDL
and SQL text, the index key sizes against SQL Server's 900-byte limit, JSON
columns and the binary collation of identity columns. What they cannot check
(the ODBC driver, runtime behaviour) is listed in docs/operations.md.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.types import TypeDecorator

from pywire_auth.stores import _sql_queries as queries
from pywire_auth.stores._schema import (
    MSSQL_EXACT_COLLATION,
    ExactText,
    events,
    metadata,
    provider_links,
    sessions,
    users,
)

DIALECT = mssql.dialect()  # type: ignore[no-untyped-call]
#: SQL Server's limit for a clustered index key (the primary keys), in bytes.
KEY_LIMIT = 900
TABLES = metadata.sorted_tables


def _ddl(element: sa.schema.ExecutableDDLElement) -> str:
    return str(element.compile(dialect=DIALECT))


def _max_bytes(column: sa.Column[object]) -> int:
    impl = column.type
    if isinstance(impl, TypeDecorator):
        impl = impl.load_dialect_impl(DIALECT)
    if isinstance(impl, sa.NVARCHAR | sa.Unicode):
        return 2 * int(impl.length or 0)
    if isinstance(impl, sa.String | sa.LargeBinary):
        return int(impl.length or 0)
    if isinstance(impl, sa.BigInteger):
        return 8
    if isinstance(impl, sa.Integer):
        return 4
    raise AssertionError(f"{column} has no known key size on SQL Server: {impl!r}")


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_table_compiles(table: sa.Table) -> None:
    ddl = _ddl(CreateTable(table))
    assert ddl.startswith(f"\nCREATE TABLE {table.name}")
    assert "(max)" not in ddl or any(isinstance(c.type, sa.JSON) for c in table.columns)


@pytest.mark.parametrize(
    # Sorted: a set's order changes with each process's hash seed, and the xdist
    # workers must collect the same list.
    "index",
    [i for t in TABLES for i in sorted(t.indexes, key=lambda i: str(i.name))],
    ids=lambda i: str(i.name),
)
def test_every_index_compiles_and_its_key_fits(index: sa.Index) -> None:
    assert _ddl(CreateIndex(index)).startswith(f"CREATE INDEX {index.name}")
    size = sum(_max_bytes(column) for column in index.columns)
    assert size <= KEY_LIMIT, f"{index.name}: {size} bytes"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_primary_key_fits(table: sa.Table) -> None:
    size = sum(_max_bytes(column) for column in table.primary_key.columns)
    assert 0 < size <= KEY_LIMIT, f"{table.name}: {size} bytes"


def test_identity_columns_compare_exactly() -> None:
    # SQL Server's default collation would make Ann@x.io and ann@x.io one identity.
    identity = [c for t in TABLES for c in t.columns if isinstance(c.type, ExactText)]
    assert {c.name for c in identity} >= {"user_id", "email", "provider", "subject", "pw_hash"}
    for column in identity:
        rendered = column.type.dialect_impl(DIALECT).compile(dialect=DIALECT)
        assert rendered.startswith("NVARCHAR(")
        assert rendered.endswith(f"COLLATE {MSSQL_EXACT_COLLATION}")
    ddl = _ddl(CreateTable(provider_links))
    assert re.search(rf"subject NVARCHAR\(255\) COLLATE {MSSQL_EXACT_COLLATION} NOT NULL", ddl)


def test_json_columns_are_unicode_text() -> None:
    for column in (users.c.claims, users.c.extras, provider_links.c.claims, events.c.payload):
        assert column.type.dialect_impl(DIALECT).compile(dialect=DIALECT) == "NVARCHAR(max)"


def test_event_ids_are_an_identity_column() -> None:
    assert "event_id BIGINT NOT NULL IDENTITY" in _ddl(CreateTable(events))


@pytest.mark.parametrize(
    "query",
    [
        queries.USER_QUERY,
        queries.LOGIN_QUERY,
        queries.SESSION_USER_QUERY,
        # The store's other statements, as its stores/_sql_*.py modules build them.
        sa.select(sessions.c.session_id).where(sessions.c.expires_at < 5).limit(500),
        sa.select(users)
        .where(sa.or_(users.c.email > "a", sa.and_(users.c.email == "a", users.c.user_id > "b")))
        .order_by(users.c.email, users.c.user_id)
        .limit(100),
        sa.select(events).where(events.c.event_id > 3).order_by(events.c.event_id).limit(10),
        sa.select(sa.func.max(events.c.event_id)),
        sessions.delete().where(sessions.c.user_id == "u", sessions.c.session_id != "k"),
        events.insert().values(payload={}, created_at=1),
    ],
    ids=lambda q: type(q).__name__,
)
def test_queries_compile(query: sa.Executable) -> None:
    sql = str(query.compile(dialect=DIALECT))  # type: ignore[attr-defined]
    assert "LIMIT" not in sql  # SQL Server spells it TOP / OFFSET ... FETCH
