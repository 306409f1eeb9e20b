"""The shipped Alembic migrations: empty -> head, every step up and down, drift found.

Run on SQLite, PostgreSQL and MariaDB. The version table is our own, so an
application's ``alembic_version`` is never read or written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pywire_auth import migrations
from pywire_auth.stores._schema import metadata
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

pytestmark = pytest.mark.asyncio

OURS = {table.name for table in metadata.sorted_tables}


async def _run(url: str, work: Callable[[sa.Connection], Any]) -> Any:
    engine: AsyncEngine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def _tables(conn: sa.Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _indexes(conn: sa.Connection, table: str) -> set[str]:
    return {str(index["name"]) for index in sa.inspect(conn).get_indexes(table)}


async def test_empty_to_head_leaves_the_apps_alembic_history_alone(sql_url: str) -> None:
    def app_history(conn: sa.Connection) -> None:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('app_rev_1')"))

    await _run(sql_url, app_history)
    await _run(sql_url, migrations.upgrade)

    def after(conn: sa.Connection) -> tuple[set[str], str | None, list[Any], list[Any]]:
        app_rows = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")))
        conn.execute(sa.text("DROP TABLE alembic_version"))
        return (
            _tables(conn),
            migrations.current_revision(conn),
            migrations.schema_diffs(conn),
            [tuple(r) for r in app_rows],
        )

    tables, revision, diffs, app_rows = await _run(sql_url, after)
    assert tables >= OURS
    assert migrations.VERSION_TABLE in tables
    assert revision == migrations.head_revision()
    assert diffs == []
    assert app_rows == [("app_rev_1",)]


async def test_every_step_up_and_down(sql_url: str) -> None:
    steps = migrations.revisions()
    assert steps[0] == migrations.INITIAL_REVISION
    for revision in steps:
        await _run(sql_url, lambda c, r=revision: migrations.upgrade(c, r))
        assert await _run(sql_url, migrations.current_revision) == revision
    assert await _run(sql_url, migrations.schema_diffs) == []
    for below in [*reversed(steps[:-1]), "base"]:
        await _run(sql_url, lambda c, r=below: migrations.downgrade(c, r))
        expected = None if below == "base" else below
        assert await _run(sql_url, migrations.current_revision) == expected
    assert not OURS & await _run(sql_url, _tables)


async def test_check_finds_a_missing_index_and_an_extra_column(sql_url: str) -> None:
    await _run(sql_url, migrations.upgrade)

    def drift(conn: sa.Connection) -> None:
        conn.execute(
            sa.text("DROP INDEX ix_pywire_auth_events_created_at ON pywire_auth_events")
            if conn.dialect.name in ("mysql", "mariadb")
            else sa.text("DROP INDEX ix_pywire_auth_events_created_at")
        )
        conn.execute(sa.text("ALTER TABLE pywire_auth_users ADD COLUMN nickname VARCHAR(20)"))

    await _run(sql_url, drift)
    diffs = repr(await _run(sql_url, migrations.schema_diffs))
    assert "ix_pywire_auth_events_created_at" in diffs
    assert "nickname" in diffs


async def test_first_use_creates_the_schema_and_stamps_the_newest_revision(sql_url: str) -> None:
    store = SQLAlchemyAuthStore(sql_url)
    try:
        assert await store.get_user("nobody") is None
    finally:
        await store.close()
    assert await _run(sql_url, migrations.current_revision) == migrations.head_revision()
    assert await _run(sql_url, migrations.schema_diffs) == []


async def test_a_database_from_before_migrations_is_stamped_and_repaired(sql_url: str) -> None:
    def legacy(conn: sa.Connection) -> None:
        # What a pywire-auth before migrations made: the initial schema, unversioned,
        # here without the throttle table (it came later than the others).
        migrations.upgrade(conn, migrations.INITIAL_REVISION)
        conn.execute(sa.text(f"DROP TABLE {migrations.VERSION_TABLE}"))
        conn.execute(sa.text("DROP TABLE pywire_auth_throttle"))

    await _run(sql_url, legacy)
    assert await _run(sql_url, migrations.current_revision) is None
    store = SQLAlchemyAuthStore(sql_url)
    try:
        await store.create_tables()
    finally:
        await store.close()
    assert await _run(sql_url, migrations.current_revision) == migrations.head_revision()
    assert await _run(sql_url, migrations.schema_diffs) == []
    assert "ix_pywire_auth_throttle_window_end" in await _run(
        sql_url, lambda c: _indexes(c, "pywire_auth_throttle")
    )


async def test_users_from_before_the_disabled_column_stay_enabled(sql_url: str) -> None:
    def old_user(conn: sa.Connection) -> None:
        migrations.upgrade(conn, migrations.INITIAL_REVISION)
        conn.execute(
            sa.text(
                "INSERT INTO pywire_auth_users (user_id, email, name, claims, extras) "
                "VALUES ('u1', 'ann@example.com', 'Ann', '{}', '{}')"
            )
        )

    await _run(sql_url, old_user)
    await _run(sql_url, migrations.upgrade)
    store = SQLAlchemyAuthStore(sql_url)
    try:
        user = await store.get_user("u1")
    finally:
        await store.close()
    assert user is not None
    assert (user.name, user.disabled) == ("Ann", False)


async def test_concurrent_first_use_of_an_empty_database_records_one_revision(
    sql_url: str,
) -> None:
    # Workers starting at once all find no tables and no version: one row must result.
    stores = [SQLAlchemyAuthStore(sql_url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.create_tables() for store in stores))
    finally:
        for store in stores:
            await store.close()

    def versions(conn: sa.Connection) -> list[str]:
        version_table = sa.table(migrations.VERSION_TABLE, sa.column("version_num"))
        rows = conn.execute(sa.select(version_table.c.version_num))
        return [str(row[0]) for row in rows]

    assert await _run(sql_url, versions) == [migrations.head_revision()]
    assert await _run(sql_url, migrations.schema_diffs) == []


async def test_tables_made_from_the_models_by_hand_are_stamped_current(sql_url: str) -> None:
    def by_hand(conn: sa.Connection) -> None:
        # metadata.create_all, as an app or a test fixture may do, minus one index.
        metadata.create_all(conn)
        conn.execute(
            sa.text("DROP INDEX ix_pywire_auth_throttle_window_end ON pywire_auth_throttle")
            if conn.dialect.name in ("mysql", "mariadb")
            else sa.text("DROP INDEX ix_pywire_auth_throttle_window_end")
        )

    await _run(sql_url, by_hand)
    store = SQLAlchemyAuthStore(sql_url)
    try:
        await store.create_tables()
    finally:
        await store.close()
    assert await _run(sql_url, migrations.current_revision) == migrations.head_revision()
    assert await _run(sql_url, migrations.schema_diffs) == []
