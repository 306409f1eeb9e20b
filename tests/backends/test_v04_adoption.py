"""A database made by pywire-auth 0.4.0 (from PyPI, run for real) is adopted on every backend.

0.4.0 is installed once into a scratch venv under ``.cache/`` (kept between local
runs, gitignored; about 20 s to build). ``_v04_seed.py`` then runs under that venv's
python and writes users with 0.4.0's own code: its hashes, its un-normalized
emails, its claims and provider links. Our store must refuse that database until
:func:`adopt_v04` converted it, after which the same people sign in with their old
passwords and keep their claims and links.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth import AdoptionError, ConfigurationError, LocalIdP, UserExistsError, adopt_v04
from pywire_auth.stores._schema import credentials, provider_links, users
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from tests.conftest import IN_CI

pytestmark = pytest.mark.asyncio

REPO = Path(__file__).resolve().parents[2]
SEED = Path(__file__).with_name("_v04_seed.py")
VENV = REPO / ".cache" / "pywire-auth-0.4.0"
PACKAGES = ["pywire-auth[sqlalchemy]==0.4.0", "asyncpg", "aiomysql"]
PASSWORDS = {
    "alice": "alice-old-password-1",
    "bob": "bob-old-password-2",
    "dave": "dave-old-password-3",
}
BACKUPS = ("pywire_auth_v04_users", "pywire_auth_v04_credentials", "pywire_auth_v04_provider_links")


def _build_venv() -> Path:
    python = VENV / "bin" / "python"
    if (VENV / ".ready").exists():
        return python
    # Built beside its final place and renamed, so an interrupted build is never used.
    scratch = VENV.with_name(f"{VENV.name}.{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(scratch)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(scratch / "bin" / "python")]
    done = subprocess.run(
        [*pip, "install", "-q", "--no-compile", "--disable-pip-version-check", *PACKAGES],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        message = f"cannot install pywire-auth 0.4.0 from the package index:\n{done.stderr}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    (scratch / ".ready").touch()
    try:
        scratch.rename(VENV)
    except OSError:  # another run finished first
        shutil.rmtree(scratch, ignore_errors=True)
    return python


@pytest.fixture(scope="module")
def v04_python() -> Path:
    """The python of a venv with pywire-auth 0.4.0 and the async drivers."""
    return _build_venv()


async def _drop_backups(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for name in BACKUPS:
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def v04_url(sql_url: str) -> str:
    """An empty database for 0.4.0 to fill (no backup tables left from another test)."""
    await _drop_backups(sql_url)
    return sql_url


def _seed(python: Path, url: str, *extra: str) -> dict[str, str]:
    done = subprocess.run(
        # -I: isolated, so PYTHONPATH (which may point at our src/) cannot shadow 0.4.0.
        [str(python), "-I", str(SEED), url, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    made: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return made


def _idp(store: SQLAlchemyAuthStore) -> LocalIdP:
    return LocalIdP(store=store, secret=secrets.token_hex(32))


async def _refused(url: str) -> None:
    store = SQLAlchemyAuthStore(url)
    try:
        with pytest.raises(ConfigurationError, match="adopt_v04"):
            await store.get_user("anyone")
    finally:
        await store.close()


async def _rows(url: str) -> tuple[int, set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(sa.text("SELECT count(*) FROM pywire_auth_users"))
            names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    return int(count or 0), names & set(BACKUPS)


async def _report_case_duplicates(url: str, made: dict[str, str], backend: str) -> None:
    """Two accounts differing only in case stop the adoption, listed; then the operator fixes it."""
    if backend == "mysql":
        # MariaDB's default collation made 0.4.0 itself refuse the second account.
        assert "dave2" not in made
        assert "dave2_refused" in made
        return
    dry = await adopt_v04(url, dry_run=True)
    expected = tuple(sorted((made["dave"], made["dave2"])))
    assert [(p.kind, p.user_ids) for p in dry.problems] == [("same_email", expected)]
    with pytest.raises(AdoptionError, match="same_email") as raised:
        await adopt_v04(url)
    assert raised.value.report is not None
    assert raised.value.report.problems == dry.problems
    # Nothing was changed: still 0.4.0's database with both accounts, no backups.
    await _refused(url)
    assert await _rows(url) == (5, set())
    # The operator removes the stray account (0.4.0 has no call for it) and runs it again.
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for table in (provider_links, credentials, users):
                await conn.execute(table.delete().where(table.c.user_id == made["dave2"]))
    finally:
        await engine.dispose()


async def test_v04_database_is_adopted(v04_python: Path, v04_url: str, sql_backend: str) -> None:
    made = _seed(v04_python, v04_url, "--duplicates")
    await _refused(v04_url)
    await _report_case_duplicates(v04_url, made, sql_backend)

    checked = await adopt_v04(v04_url, dry_run=True)
    assert not checked.adopted
    assert not checked.problems
    report = await adopt_v04(v04_url)
    assert report.adopted
    assert (report.users, report.credentials) == (4, 3)
    assert (made["alice"], "Alice@Example.COM", "alice@example.com") in report.normalized
    assert (made["dave"], "Dave@Example.com", "dave@example.com") in report.normalized
    assert ("108004217368", "Carol@Gmail.com", "carol@gmail.com") in report.normalized
    assert report.backup_tables == BACKUPS
    assert (await _rows(v04_url))[0] == 4

    store = SQLAlchemyAuthStore(v04_url)
    idp = _idp(store)
    try:
        for typed in ("Alice@Example.COM", " alice@EXAMPLE.com"):
            principal = await idp.verify_credentials(email=typed, password=PASSWORDS["alice"])
            assert principal is not None, typed
            assert principal.user_id == f"local:{made['alice']}"
        assert principal.has_claim("role", "admin")
        assert principal.has_claim("email_verified", "true")
        assert principal.has_claim("email", "alice@example.com")
        assert principal.name == "Alice"
        alice = await store.get_user(made["alice"])
        assert alice is not None
        assert alice.extras == {"locale": "de"}
        assert "email" not in alice.claims  # our principal builds it from the record

        assert await idp.verify_credentials(email="alice@example.com", password="wrong") is None
        bob = await idp.verify_credentials(email="bob@example.com", password=PASSWORDS["bob"])
        assert bob is not None
        assert bob.has_claim("plan", "pro")
        dave = await idp.verify_credentials(email="dave@example.com", password=PASSWORDS["dave"])
        assert dave is not None

        links = {(link.provider, link.subject) for link in await store.get_links(made["alice"])}
        assert ("github", "4242") in links
        assert ("local", "alice@example.com") in links
        carol = await store.get_user_by_link("google", "108004217368")
        assert carol is not None
        assert (carol.email, carol.claims) == ("carol@gmail.com", {"hd": "example.org"})

        # The adopted address is taken, in any case; claims can be changed as usual.
        with pytest.raises(UserExistsError):
            await idp.create_user(email="ALICE@example.com", password="a-new-password-5")
        # ...and so are its look-alikes ("rn" for "m"), as for a registered address.
        with pytest.raises(UserExistsError):
            await idp.create_user(email="alice@exarnple.com", password="a-new-password-5")
        updated = await store.update_user(made["alice"], claims={**alice.claims, "team": "x"})
        assert updated is not None
        assert updated.claims["role"] == "admin"
    finally:
        await idp.aclose()
        await store.close()

    again = await adopt_v04(v04_url)
    assert again.already_adopted
