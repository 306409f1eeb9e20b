"""Shared fixtures: real database URLs for every backend the suite runs against.

PostgreSQL and MariaDB come from the servers that ``scripts/test`` starts; their
URLs arrive in ``PYWIRE_AUTH_TEST_POSTGRES_URL`` / ``PYWIRE_AUTH_TEST_MYSQL_URL``.
Outside CI a missing server skips its tests; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth.migrations import VERSION_TABLE
from pywire_auth.stores.sqlalchemy import metadata

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
