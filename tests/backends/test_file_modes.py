"""Files holding secrets are created readable by their owner only (0600).

The SQLite database (and the -wal and -shm files SQLite derives from it) holds
password hashes and session digests; the example's ``.env`` holds the signing
secrets. Checked with ``os.stat`` on real files, under the common umask 022 that
would otherwise leave them world-readable.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pywire_auth.stores._sql_engine import create_private_sqlite_file
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.throttles.sql import SQLAlchemyThrottle
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink, UserRecord

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def common_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def _write_a_user(store: SQLAlchemyAuthStore) -> None:
    user = UserRecord(str(uuid.uuid4()), "ann@example.com")
    await store.create_user(
        user, link=ProviderLink(LOCAL_PROVIDER, user.email, user.user_id), pw_hash="x"
    )


@pytest.mark.asyncio
async def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "auth.db"
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{db}")
    try:
        await _write_a_user(store)
        # The store is still open: the write-ahead log and its index exist now.
        files = [db, tmp_path / "auth.db-wal", tmp_path / "auth.db-shm"]
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_sqlite_uri_database_file_is_0600(tmp_path: Path) -> None:
    db = tmp_path / "uri.db"
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///file:{db}?uri=true")
    try:
        await _write_a_user(store)
        assert mode(db) == 0o600
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_sql_throttle_creates_its_own_sqlite_file_0600(tmp_path: Path) -> None:
    db = tmp_path / "throttle.db"
    throttle = SQLAlchemyThrottle(f"sqlite+aiosqlite:///{db}")
    try:
        assert await throttle.hit("k", limit=5, window=60)
        assert mode(db) == 0o600
        assert mode(tmp_path / "throttle.db-wal") == 0o600
    finally:
        await throttle.close()


@pytest.mark.asyncio
async def test_an_existing_database_keeps_its_mode_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The owner chose this mode (say, a group that runs backups): we do not
    # change it, but we say that others can read it.
    db = tmp_path / "shared.db"
    db.touch()
    db.chmod(0o640)
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{db}")
    try:
        with caplog.at_level(logging.WARNING, "pywire_auth.stores.sqlalchemy"):
            await _write_a_user(store)
        assert mode(db) == 0o640
        assert [r.getMessage() for r in caplog.records if "chmod 600" in r.getMessage()]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("cargs", "cparams"),
    [([":memory:"], {}), (["file:mem?mode=memory"], {"uri": True}), ([""], {})],
    ids=["memory", "uri-memory", "temporary"],
)
def test_an_in_memory_database_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cargs: list[str], cparams: dict[str, bool]
) -> None:
    monkeypatch.chdir(tmp_path)
    create_private_sqlite_file(None, None, cargs, cparams)
    assert list(tmp_path.iterdir()) == []


def test_the_example_env_file_is_0600(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "example_env.py"), str(env)],
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert mode(env) == 0o600
    text = env.read_text(encoding="utf-8")
    assert "PYWIRE_SESSION_SECRET=" in text
    assert "LOCAL_IDP_SECRET=" in text


def test_the_example_never_overwrites_an_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("MINE=1\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "example_env.py"), str(env)],
        capture_output=True,
        check=False,
    )
    assert result.returncode != 0
    assert env.read_text(encoding="utf-8") == "MINE=1\n"


def test_scripts_example_writes_the_env_with_that_script() -> None:
    # The shell script must not grow its own writer again (one that would not set the mode).
    script = (ROOT / "scripts" / "example").read_text(encoding="utf-8")
    assert "scripts/example_env.py .env" in script
    assert "open(" not in script
