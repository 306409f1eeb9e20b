"""Registration is one transaction on every SQL backend: races and crashes leave no orphans."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from pywire_auth import LocalIdP, UserExistsError
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink, UserRecord
from tests.backends._servers import row_counts

pytestmark = pytest.mark.asyncio

SECRET = "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"


def _register_in_process(url: str, barrier: Any, results: Any) -> None:
    async def attempt() -> str:
        store = SQLAlchemyAuthStore(url)
        user_id = str(uuid.uuid4())
        user = UserRecord(user_id=user_id, email="race@example.com")
        link = ProviderLink(LOCAL_PROVIDER, "race@example.com", user_id)
        barrier.wait(timeout=60)
        try:
            await store.create_user(user, link=link, pw_hash=f"hash-{user_id}")
            return f"won:{user_id}"
        except UserExistsError:
            return "exists"
        finally:
            await store.close()

    try:
        results.put(asyncio.run(attempt()))
    except BaseException as exc:  # report, so the parent test fails with the reason
        results.put(f"error:{type(exc).__name__}:{exc}")


async def test_registrations_from_many_processes_have_one_winner(sql_url: str) -> None:
    # Every process also races to create the tables on an empty database.
    ctx = multiprocessing.get_context("spawn")
    workers = 6
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_register_in_process, args=(sql_url, barrier, results))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    outcomes = [await asyncio.to_thread(results.get, True, 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("won:")]
    assert len(winners) == 1, outcomes
    assert outcomes.count("exists") == workers - 1, outcomes
    assert await row_counts(sql_url) == (1, 1, 1)
    store = SQLAlchemyAuthStore(sql_url)
    try:
        login = await store.get_login(LOCAL_PROVIDER, "race@example.com")
        assert login is not None
        winner_id = winners[0].removeprefix("won:")
        assert (login.user.user_id, login.pw_hash) == (winner_id, f"hash-{winner_id}")
    finally:
        await store.close()


class InjectedCrash(RuntimeError):
    """Stands in for a process dying between two writes of one registration."""


async def test_crash_between_writes_leaves_nothing(sql_url: str) -> None:
    store = SQLAlchemyAuthStore(sql_url)
    idp = LocalIdP(store=store, secret=SECRET)

    def crash_on_credential(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PYWIRE_AUTH_CREDENTIALS"):
            raise InjectedCrash("crash after user and link rows were written")

    sync_engine = store.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", crash_on_credential)
    try:
        with pytest.raises(InjectedCrash):
            await idp.create_user(email="ann@example.com", password="pass-word-1234")
    finally:
        event.remove(sync_engine, "before_cursor_execute", crash_on_credential)
    try:
        assert await row_counts(sql_url) == (0, 0, 0)
        user_id = await idp.create_user(email="ann@example.com", password="pass-word-1234")
        principal = await idp.verify_credentials(email="ann@example.com", password="pass-word-1234")
        assert principal is not None
        assert principal.user_id == f"local:{user_id}"
    finally:
        await idp.aclose()


_RESTART_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pywire_auth import LocalIdP, SQLAlchemyAuthStore

    async def main(step):
        secret = "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"
        idp = LocalIdP(store=SQLAlchemyAuthStore(sys.argv[2]), secret=secret)
        try:
            if step == "create":
                print(await idp.create_user(email="Keep@Example.com", password="survives restart"))
            else:
                p = await idp.verify_credentials(
                    email="keep@example.com", password="survives restart"
                )
                print(p.user_id if p else "none")
        finally:
            await idp.aclose()

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_users_survive_a_process_restart_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "local-auth.db"
    url = f"sqlite+aiosqlite:///{db}"

    def run(step: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _RESTART_SCRIPT, step, url],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip()

    assert not db.exists()
    user_id = await asyncio.to_thread(run, "create")
    assert db.exists()
    assert await asyncio.to_thread(run, "verify") == f"local:{user_id}"
