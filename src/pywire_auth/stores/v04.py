"""Adopting a database that pywire-auth 0.4.0 (the package on PyPI) created.

0.4.0 used the same three table names, but its columns have no lengths, no foreign
keys and no ``NOT NULL``, and it stored emails as typed. :func:`adopt_v04` rewrites
those tables into ours in one step, run once, before the app starts on the database::

    import asyncio
    from pywire_auth import adopt_v04

    report = asyncio.run(adopt_v04("postgresql+asyncpg://app@db/app"))
    print(report)

:class:`~pywire_auth.SQLAlchemyAuthStore` refuses to start on a 0.4.0 database that
was not adopted (a :class:`~pywire_auth.ConfigurationError` naming this function),
since its password accounts could not sign in with mixed-case emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

try:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "adopt_v04 needs the 'sqlalchemy' extra: pip install 'pywire-auth[sqlalchemy]'"
    ) from _missing

from pywire_auth.exceptions import AdoptionError
from pywire_auth.stores._schema import credentials, metadata, provider_links, users
from pywire_auth.stores._v04_detect import is_v04_database
from pywire_auth.stores._v04_plan import AdoptionPlan, AdoptionProblem, plan_adoption
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

__all__ = ["AdoptionProblem", "AdoptionReport", "adopt_v04", "is_v04_database"]

#: Where the 0.4.0 rows are copied, unchanged, before the tables are rebuilt.
BACKUP_PREFIX = "pywire_auth_v04_"
_TABLES = (users.name, credentials.name, provider_links.name)
_BATCH = 500


@dataclass(frozen=True, slots=True)
class AdoptionReport:
    """What :func:`adopt_v04` found and did.

    ``normalized`` lists ``(user_id, email as 0.4.0 stored it, email now)`` for
    every changed address; ``problems`` is empty unless this was a dry run (with
    problems a real run raises :class:`~pywire_auth.AdoptionError` and writes
    nothing). ``backup_tables`` hold 0.4.0's rows as they were: drop them once
    you have checked the result, since they keep password hashes of users you may
    delete later.
    """

    adopted: bool
    users: int
    links: int
    credentials: int
    normalized: tuple[tuple[str, str, str], ...] = ()
    dropped_rows: int = 0
    problems: tuple[AdoptionProblem, ...] = ()
    backup_tables: tuple[str, ...] = ()
    already_adopted: bool = False

    def __str__(self) -> str:
        if self.already_adopted:
            return "already adopted: nothing to do"
        verb = "adopted" if self.adopted else "would adopt"
        lines = [
            f"{verb} {self.users} users, {self.links} links, {self.credentials} passwords; "
            f"{len(self.normalized)} emails normalized, {self.dropped_rows} orphan rows left out"
        ]
        lines += [f"  problem {problem}" for problem in self.problems]
        if self.backup_tables:
            lines.append(f"  0.4.0 rows kept in {', '.join(self.backup_tables)}")
        return "\n".join(lines)


async def adopt_v04(url_or_engine: str | AsyncEngine, *, dry_run: bool = False) -> AdoptionReport:
    """Rewrite a pywire-auth 0.4.0 database into this version's schema; run it once.

    Keeps every user, password hash, claim and provider link; stores each email in
    canonical form so accounts registered as ``Alice@Example.COM`` sign in as
    before. Two 0.4.0 accounts whose emails differ only in case (or look alike)
    are never merged: the call raises :class:`~pywire_auth.AdoptionError`
    listing them (``.report.problems``) and writes nothing, so you can rename or
    delete one and run it again. ``dry_run=True`` only reads and returns the
    report with its problems. A database already adopted is left alone.

    The old rows are first copied to ``pywire_auth_v04_*`` tables. PostgreSQL and
    SQLite rebuild the tables in one transaction; MariaDB/MySQL commit each
    ``CREATE``/``DROP`` at once, so back the database up before running it there.

    >>> asyncio.run(adopt_v04("sqlite+aiosqlite:///./app.db"))  # doctest: +SKIP
    """
    store = SQLAlchemyAuthStore(url_or_engine, create_tables=False)
    try:
        async with store.engine.begin() as conn:
            return await _adopt(conn, dry_run=dry_run)
    finally:
        await store.close()


async def _adopt(conn: AsyncConnection, *, dry_run: bool) -> AdoptionReport:
    if conn.dialect.name == "sqlite":
        # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so
        # the DROP and CREATE would each commit alone; IMMEDIATE also keeps other
        # writers out between reading the rows and rewriting them.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    if users.name not in names:
        raise AdoptionError(f"no {users.name} table: nothing to adopt")
    if not await conn.run_sync(is_v04_database):
        return AdoptionReport(adopted=False, users=0, links=0, credentials=0, already_adopted=True)
    backups = tuple(BACKUP_PREFIX + name.removeprefix("pywire_auth_") for name in _TABLES)
    taken = sorted(names.intersection(backups))
    if taken and not dry_run:
        raise AdoptionError(f"backup tables from an earlier attempt exist: {taken}")
    old = {name: await _read(conn, name) if name in names else [] for name in _TABLES}
    plan = plan_adoption(old[users.name], old[credentials.name], old[provider_links.name])
    report = _report(plan, adopted=False)
    if plan.problems and not dry_run:
        raise AdoptionError(
            "0.4.0 accounts need attention before adoption (nothing was changed):\n"
            + "\n".join(f"  {problem}" for problem in plan.problems)
            + "\nkeep one account of each, delete or re-address the others in the 0.4.0 "
            "tables, then run adopt_v04 again (see docs/migrating.md)",
            report=report,
        )
    if dry_run:
        return report
    kept = tuple(backup for name, backup in zip(_TABLES, backups, strict=True) if name in names)
    await conn.run_sync(_rebuild, [name for name in _TABLES if name in names], backups)
    await _write(conn, plan)
    return _report(plan, adopted=True, backups=kept)


def _report(plan: AdoptionPlan, *, adopted: bool, backups: tuple[str, ...] = ()) -> AdoptionReport:
    return AdoptionReport(
        adopted=adopted,
        users=len(plan.users),
        links=len(plan.links),
        credentials=len(plan.credentials),
        normalized=plan.normalized,
        dropped_rows=plan.dropped_rows,
        problems=plan.problems,
        backup_tables=backups,
    )


async def _read(conn: AsyncConnection, name: str) -> list[dict[str, Any]]:
    # Plain table objects without types: every value comes back as the driver
    # gives it (JSON as text on MariaDB), which the plan accepts.
    columns = await conn.run_sync(
        lambda c: [col["name"] for col in sa.inspect(c).get_columns(name)]
    )
    table = sa.table(name, *(sa.column(column) for column in columns))
    result = await conn.execute(sa.select(table))
    return [dict(row._mapping) for row in result]


def _rebuild(conn: sa.Connection, old_tables: list[str], backups: tuple[str, ...]) -> None:
    preparer = conn.dialect.identifier_preparer
    for name, backup in zip(_TABLES, backups, strict=True):
        if name not in old_tables:
            continue
        source, target = preparer.quote(name), preparer.quote(backup)
        # Both names are our own constants, never user input (S608 is SQL injection).
        conn.exec_driver_sql(f"CREATE TABLE {target} AS SELECT * FROM {source}")  # noqa: S608
    for name in reversed(old_tables):
        conn.exec_driver_sql(f"DROP TABLE {preparer.quote(name)}")
    metadata.create_all(conn, checkfirst=True)


async def _write(conn: AsyncConnection, plan: AdoptionPlan) -> None:
    user_rows = [
        {
            "user_id": user.user_id,
            "email": user.email,
            "name": user.name,
            "claims": dict(user.claims),
            "extras": dict(user.extras),
        }
        for user in plan.users
    ]
    link_rows = [
        {
            "provider": link.provider,
            "subject": link.subject,
            "user_id": link.user_id,
            "claims": dict(link.claims),
        }
        for link in plan.links
    ]
    credential_rows = [
        {"user_id": user_id, "pw_hash": pw_hash} for user_id, pw_hash in plan.credentials
    ]
    for table, rows in (
        (users, user_rows),
        (provider_links, link_rows),
        (credentials, credential_rows),
    ):
        for start in range(0, len(rows), _BATCH):
            await conn.execute(table.insert(), rows[start : start + _BATCH])
