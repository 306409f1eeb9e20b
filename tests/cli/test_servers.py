"""The command line on PostgreSQL and MariaDB, and a revoke reaching another process."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from pywire_auth import SessionRecord
from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.migrations import head_revision
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.testing.channel_contract import next_event
from tests.cli.conftest import PASSWORD, Run, run_async
from tests.conftest import reset_database, server_url

HEAD = head_revision()


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_commands_on_a_database_server(kind: str) -> None:
    url = server_url(kind)
    run_async(reset_database(url))
    run = Run(url)
    assert run.json("db", "upgrade")["to"] == HEAD
    run("users", "create", "Ann@Example.com", "--password-stdin", stdin=PASSWORD)
    # Exact identities: MariaDB's default collation would fold case.
    run("users", "show", "ANN@example.com")  # normalized like a sign-in
    run("users", "create", "ann@example.com", "--password-stdin", stdin=PASSWORD, code=4)
    listed = run.json("users", "list")
    assert [u["email"] for u in listed] == ["ann@example.com"]
    run("claims", "grant", "ann@example.com", "role", "admin")
    assert run.json("users", "show", "ann@example.com")["claims"] == {"role": "admin"}
    assert run.json("db", "check")["ok"] is True


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_sessions_revoke_reaches_a_running_apps_live_pages(
    kind: str, sqlite_file: str
) -> None:
    url = sqlite_file if kind == "sqlite" else server_url(kind)
    if kind != "sqlite":
        await reset_database(url)
    # Stands in for a running app's worker: its store, its channel, one live page.
    store = SQLAlchemyAuthStore(url)
    from pywire_auth import LocalIdP

    idp = LocalIdP(store, secret="cli-idp-secret-" + "3f9a1c7e5b2d4086c1e9a7f3b5d20c84")
    user_id = await idp.create_user(email="live@example.com", password=PASSWORD)
    now = int(time.time())
    await store.create_session(SessionRecord("a" * 64, user_id, now, now + 3600))
    channel = StoreAuthChannel(store, poll_interval=0.05)
    try:
        async with channel.subscribe(f"local:{user_id}") as page:
            env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
            command = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pywire_auth.cli", "--db", url,
                "sessions", "revoke", "live@example.com",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _out, err = await command.communicate()
            assert command.returncode == 0, err.decode()
            event = await next_event(page, within=30)
        assert (event.kind, event.user_id) == ("revoke", f"local:{user_id}")
        assert await store.get_session("a" * 64) is None
    finally:
        await channel.aclose()
        await idp.aclose()
