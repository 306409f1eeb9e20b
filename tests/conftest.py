"""Shared fixtures: real database URLs for every backend the suite runs against.

PostgreSQL and MariaDB come from the servers that ``scripts/test`` starts; their
URLs arrive in ``PYWIRE_AUTH_TEST_POSTGRES_URL`` / ``PYWIRE_AUTH_TEST_MYSQL_URL``.
Outside CI a missing server skips its tests; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth.migrations import VERSION_TABLE
from pywire_auth.stores.sqlalchemy import metadata
from tests._servers import ServerProcess

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session", autouse=True)
def private_hash_slots(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hashers (and the servers tests start) share this run's own machine hash slots.

    The default slots directory is shared by every process of the user on the host,
    so another test run or app hashing at the same time would make tests wait.
    """
    os.environ["PYWIRE_AUTH_HASH_SLOTS_DIR"] = str(tmp_path_factory.mktemp("hash-slots"))


SCRIPT = {"postgres": "postgres", "mysql": "mariadb"}

SERVER_ENV = {
    "postgres": "PYWIRE_AUTH_TEST_POSTGRES_URL",
    "mysql": "PYWIRE_AUTH_TEST_MYSQL_URL",
}


#: Directories whose tests share one outside party and so run on one xdist worker:
#: the OpenID provider (whose keys the tests rotate) and the browser, and the
#: ``pywire run`` servers (five workers each: two at once would only thrash).
SERIAL_GROUPS = {"providers": "oidc", "e2e": "oidc", "scale": "scale"}
REDIS_ENV = "PYWIRE_AUTH_TEST_REDIS_URL"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, give this worker databases of its own.

    Tests drop and recreate our tables, so two workers on one database would
    wipe each other's rows. Worker ``gwN`` gets ``<database>_gwN`` on each server
    (created here) and Redis database ``<n> + 1 + N``.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    for env in SERVER_ENV.values():
        if os.environ.get(env):
            os.environ[env] = asyncio.run(_own_database(os.environ[env], worker))
    if os.environ.get(REDIS_ENV):
        url = sa.make_url(os.environ[REDIS_ENV])
        number = int(url.database or 0) + 1 + int(worker.removeprefix("gw"))
        if number > 15:
            raise pytest.UsageError(f"{REDIS_ENV}: no Redis database {number} for {worker}")
        os.environ[REDIS_ENV] = url.set(database=str(number)).render_as_string(False)


async def _own_database(url: str, worker: str) -> str:
    base = sa.make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    admin_db = "postgres" if base.get_backend_name() == "postgresql" else ""
    engine = create_async_engine(base.set(database=admin_db), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if admin_db:
                exists = await conn.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": own.database},
                )
                if not exists:
                    await conn.execute(sa.text(f'CREATE DATABASE "{own.database}"'))
            else:
                await conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{own.database}`"))
    finally:
        await engine.dispose()
    return own.render_as_string(hide_password=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Pin the tests of :data:`SERIAL_GROUPS` to one worker each (``--dist loadgroup``)."""
    tests = Path(__file__).parent
    for item in items:
        top = item.path.relative_to(tests).parts[0]
        if top in SERIAL_GROUPS:
            item.add_marker(pytest.mark.xdist_group(SERIAL_GROUPS[top]))


def server_url(kind: str) -> str:
    """The URL of a test server, or skip (locally) / fail (in CI) without one."""
    url = os.environ.get(SERVER_ENV[kind], "")
    if not url:
        message = f"{SERVER_ENV[kind]} is not set: start it with scripts/services/{SCRIPT[kind]}.sh"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


async def reset_database(url: str) -> None:
    """Drop our tables and our migrations' version table: an empty database."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file that does not exist yet."""
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def sql_backend(request: pytest.FixtureRequest) -> str:
    """Name of each SQL backend in turn."""
    return str(request.param)


@pytest_asyncio.fixture
async def sql_url(sql_backend: str, sqlite_url: str) -> str:
    """A fresh, empty database URL for each SQL backend in turn."""
    if sql_backend == "sqlite":
        return sqlite_url
    url = server_url(sql_backend)
    await reset_database(url)
    return url


# Server logs ------------------------------------------------------------------------

#: The server processes a test used: their logs go into its report if it fails.
SERVER_LOGS = pytest.StashKey[list[ServerProcess]]()


def attach_server_log(request: pytest.FixtureRequest, server: ServerProcess) -> None:
    """Show ``server``'s log if the current test fails."""
    request.node.stash.setdefault(SERVER_LOGS, []).append(server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log of every server the failed test used (:func:`attach_server_log`)."""
    report: pytest.TestReport = yield
    if report.failed:
        for server in item.stash.get(SERVER_LOGS, []):
            report.sections.append((f"{server.name} log ({server.log_path})", server.log_text()))
    return report
