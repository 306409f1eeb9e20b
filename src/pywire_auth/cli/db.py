"""``pywire-auth db upgrade|downgrade|current|check|adopt``: the schema's migrations, and
adopting a database that pywire-auth 0.4.0 created."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import rich_click as click
import sqlalchemy as sa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pywire_auth import migrations
from pywire_auth.cli._runtime import EXIT_DRIFT, EXIT_FAILURE, Cli, json_option, pass_cli
from pywire_auth.exceptions import AdoptionError
from pywire_auth.stores._sql_engine import mapped_errors
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.stores.v04 import AdoptionReport, adopt_v04

__all__ = ["db"]

_T = TypeVar("_T")


@click.group()
def db() -> None:
    """Migrate the auth tables (their own version table: pywire_auth_alembic_version)."""


class _Database:
    """One connection's worth of migration work on the configured database."""

    def __init__(self, store: SQLAlchemyAuthStore) -> None:
        self.store = store

    async def run(self, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in one transaction; driver errors become ours."""
        async with mapped_errors(), self.store.engine.begin() as conn:
            return await conn.run_sync(work)


@asynccontextmanager
async def _database(cli: Cli) -> AsyncIterator[_Database]:
    # create_tables=False: these commands decide about the schema themselves.
    store = SQLAlchemyAuthStore(cli.url, create_tables=False)
    try:
        yield _Database(store)
    finally:
        await store.close()


@db.command()
@click.argument("revision", default="head")
@json_option
@pass_cli
def upgrade(cli: Cli, revision: str) -> None:
    """Migrate up to REVISION (default: the newest), one revision at a time."""

    async def work() -> dict[str, Any]:
        async with _database(cli) as database:
            start = await database.run(migrations.current_revision)
            steps = migrations.steps_up(start, revision)
            with Progress(
                TextColumn("migrating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=cli.err,
                transient=True,
            ) as progress:
                task = progress.add_task("", total=len(steps))
                for step in steps:
                    progress.update(task, description=step)
                    # One transaction per revision: a failure keeps the ones before.
                    await database.run(_upgrade_to(step))
                    progress.advance(task)
            return {"from": start, "to": await database.run(migrations.current_revision)}

    data = cli.run(work)
    cli.emit(data, lambda: cli.out.print(f"schema at {data['to']} (was {data['from']})"))


def _upgrade_to(revision: str) -> Callable[[sa.Connection], None]:
    def work(conn: sa.Connection) -> None:
        migrations.upgrade(conn, revision)

    return work


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_cli
def downgrade(cli: Cli, revision: str, yes: bool) -> None:
    """Migrate down to REVISION ([cyan]base[/] drops every auth table and its data)."""
    if not yes:
        click.confirm(f"Downgrade the auth schema to {revision}?", abort=True, err=True)

    async def work() -> dict[str, Any]:
        async with _database(cli) as database:
            start = await database.run(migrations.current_revision)
            await database.run(lambda c: migrations.downgrade(c, revision))
            return {"from": start, "to": await database.run(migrations.current_revision)}

    data = cli.run(work)
    cli.emit(data, lambda: cli.out.print(f"schema at {data['to']} (was {data['from']})"))


@db.command()
@json_option
@pass_cli
def current(cli: Cli) -> None:
    """The database's revision and the newest one this version ships."""

    async def work() -> dict[str, Any]:
        async with _database(cli) as database:
            found = await database.run(migrations.current_revision)
        head = migrations.head_revision()
        return {"current": found, "head": head, "up_to_date": found == head}

    data = cli.run(work)

    def human() -> None:
        state = "up to date" if data["up_to_date"] else "run `pywire-auth db upgrade`"
        cli.out.print(f"current: {data['current'] or 'none'}  head: {data['head']}  ({state})")

    cli.emit(data, human)


@db.command()
@json_option
@pass_cli
def check(cli: Cli) -> None:
    """Compare the live tables with the models; exit 7 if they differ."""

    async def work() -> list[str]:
        async with _database(cli) as database:
            return [repr(diff) for diff in await database.run(migrations.schema_diffs)]

    diffs = cli.run(work)

    def human() -> None:
        if not diffs:
            cli.out.print("schema matches the models")
        for diff in diffs:
            cli.out.print(diff, soft_wrap=True, markup=False, highlight=False)

    cli.emit({"ok": not diffs, "diffs": diffs}, human)
    if diffs:
        raise SystemExit(EXIT_DRIFT)


@db.command()
@click.option("--dry-run", is_flag=True, help="Read everything and report; change nothing.")
@json_option
@pass_cli
def adopt(cli: Cli, dry_run: bool) -> None:
    """Convert a database that pywire-auth 0.4.0 made (stop the app and back it up first).

    Accounts whose emails differ only in case are listed, never merged: then nothing
    is changed and the exit code is 1. Running it on an adopted database does nothing.
    """

    async def work() -> AdoptionReport:
        try:
            return await adopt_v04(cli.url, dry_run=dry_run)
        except AdoptionError as err:
            found = err.report
            if found is not None:
                cli.emit(dataclasses.asdict(found), lambda: cli.err.print(str(found)))
            cli.fail(EXIT_FAILURE, err.code, str(err))

    report = cli.run(work)
    cli.emit(
        dataclasses.asdict(report),
        lambda: cli.out.print(str(report), soft_wrap=True, markup=False, highlight=False),
    )
