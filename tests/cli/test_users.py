"""`pywire-auth users ...`, `claims ...`, `sessions ...` on a real SQLite file."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from pywire_auth import LocalIdP, SessionRecord
from pywire_auth.stores._schema import users as users_table
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from tests.cli.conftest import IDP_SECRET, PASSWORD, Run, run_async

NEW_PASSWORD = "another long passphrase"


async def _signs_in(url: str, email: str, password: str) -> bool:
    idp = LocalIdP(SQLAlchemyAuthStore(url), secret=IDP_SECRET)
    try:
        return await idp.verify_credentials(email=email, password=password) is not None
    finally:
        await idp.aclose()


async def _store_call(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
    store = SQLAlchemyAuthStore(url)
    try:
        return await getattr(store, method)(*args, **kwargs)
    finally:
        await store.close()


def test_create_list_show_set_password_delete(run: Run) -> None:
    created = run.json(
        "users",
        "create",
        "Ann@Example.com",
        "--name",
        "Ann",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert created["email"] == "ann@example.com"

    listed = run.json("users", "list")
    assert listed == [
        {
            "user_id": created["user_id"],
            "email": "ann@example.com",
            "name": "Ann",
            "claims": {},
            "disabled": False,
        }
    ]
    shown = run.json("users", "show", "ann@example.com")
    assert shown["user_id"] == created["user_id"]
    assert shown["has_password"] is True
    assert run.json("users", "show", created["user_id"])["email"] == "ann@example.com"
    assert run_async(_signs_in(run.url, "ann@example.com", PASSWORD))

    run("users", "set-password", "ann@example.com", "--password-stdin", stdin=NEW_PASSWORD)
    assert not run_async(_signs_in(run.url, "ann@example.com", PASSWORD))
    assert run_async(_signs_in(run.url, "ann@example.com", NEW_PASSWORD))

    run("users", "delete", "ann@example.com", "--yes")
    run("users", "show", "ann@example.com", code=3)
    assert run.json("users", "list") == []


def test_passwords_never_come_from_argv_and_follow_the_policy(run: Run) -> None:
    # No option takes a password value: click refuses it as a usage error.
    run("users", "create", "bob@example.com", "--password", PASSWORD, code=2)
    run("users", "create", "bob@example.com", "--password-stdin", stdin="short\n", code=1)
    run("users", "create", "bob@example.com", "--password-stdin", stdin=PASSWORD)
    run("users", "create", "BOB@example.com", "--password-stdin", stdin=PASSWORD, code=4)
    # The prompt asks twice and hides the input.
    prompted = run("users", "create", "cy@example.com", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert PASSWORD not in prompted.stdout
    assert run_async(_signs_in(run.url, "cy@example.com", PASSWORD))


def test_claims_change_and_reach_the_event_log(run: Run) -> None:
    user = run.json("users", "create", "dee@example.com", "--password-stdin", stdin=PASSWORD)
    run("claims", "grant", "dee@example.com", "role", "admin")
    assert run.json("claims", "grant", "dee@example.com", "role", "editor")["role"] == [
        "admin",
        "editor",
    ]
    run("claims", "revoke", "dee@example.com", "role", "admin")
    stored = run_async(_store_call(run.url, "get_user", user["user_id"]))
    assert stored.claims == {"role": "editor"}
    events = run_async(_store_call(run.url, "events_after", 0, 10))
    assert [e.payload["kind"] for e in events] == ["update", "update", "update"]
    run("claims", "grant", "nobody@example.com", "role", "admin", code=3)


def test_sessions_list_and_revoke(run: Run) -> None:
    user = run.json("users", "create", "eve@example.com", "--password-stdin", stdin=PASSWORD)
    now = int(time.time())
    for n in range(3):
        record = SessionRecord(f"{n:064x}", user["user_id"], now + n, now + 3600)
        run_async(_store_call(run.url, "create_session", record))
    listed = run.json("sessions", "list", "eve@example.com")
    assert [s["session_id"] for s in listed] == [f"{n:064x}" for n in (0, 1, 2)]

    run("sessions", "revoke", "eve@example.com", "--session", f"{1:064x}")
    assert len(run.json("sessions", "list", "eve@example.com")) == 2
    assert run.json("sessions", "revoke", "eve@example.com") == {"revoked": 2}
    assert run.json("sessions", "list", "eve@example.com") == []
    events = run_async(_store_call(run.url, "events_after", 0, 10))
    assert [e.payload["kind"] for e in events][-1] == "revoke"


def test_list_pages_through_many_users_in_order(run: Run) -> None:
    run("db", "upgrade")
    rows = [
        {
            "user_id": f"id-{n:05d}",
            "email": f"u{n:05d}@example.com",
            "name": "",
            "claims": {},
            "extras": {},
        }
        for n in range(1203)
    ]

    async def bulk() -> None:
        store = SQLAlchemyAuthStore(run.url)
        try:
            async with store.engine.begin() as conn:
                await conn.execute(sa.insert(users_table), rows)
        finally:
            await store.close()

    run_async(bulk())
    listed = run.json("users", "list")
    assert [u["email"] for u in listed] == [r["email"] for r in rows]
    assert len(run.json("users", "list", "--limit", "700")) == 700
