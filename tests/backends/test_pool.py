"""No call holds one pooled connection while it waits for another.

The store runs on an engine with a single pooled connection and no overflow. A
request that checked out a second connection while holding the first would wait
for itself until the pool timeout and answer ``unavailable``; under load, every
concurrent request would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from pywire import PyWire
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pywire_auth import LOCAL_PROVIDER, LocalIdP, SQLAlchemyAuthStore
from pywire_auth.sessions import SessionManager
from pywire_auth.types import SessionRecord
from tests.backends._servers import (
    COOKIE,
    LOGIN,
    NEXT,
    REGISTER,
    SESSION_SECRET,
    build_app,
    describe,
    error_of,
    fast_hasher,
    post_form,
    profile_email,
    session_cookie,
)

pytestmark = pytest.mark.asyncio

CONCURRENT = 100
EMAIL = "pool@example.com"
PASSWORD = "one connection is enough"
POOL_TIMEOUT = 5


@dataclass
class TinyPool:
    engine: AsyncEngine
    store: SQLAlchemyAuthStore
    app: PyWire
    idp: LocalIdP


@pytest_asyncio.fixture
async def tiny_pool(sql_url: str) -> AsyncIterator[TinyPool]:
    engine = create_async_engine(
        sql_url, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT, pool_pre_ping=True
    )
    store = SQLAlchemyAuthStore(engine)
    # max_pending above CONCURRENT: the hashing queue must not refuse the burst.
    app, idp = build_app(store, hasher=fast_hasher(max_pending=4 * CONCURRENT), throttle=None)
    try:
        yield TinyPool(engine, store, app, idp)
    finally:
        await idp.aclose()  # a store given an engine leaves it alone...
        await engine.dispose()  # ...so the test disposes it


def _browser(app: PyWire, index: int, cookie: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000 + index)),
        base_url="http://testserver",
        cookies={COOKIE: cookie} if cookie else None,
        timeout=60,
    )


async def test_hundred_concurrent_logins_on_one_connection(tiny_pool: TinyPool) -> None:
    assert tiny_pool.engine.pool.size() == 1  # type: ignore[attr-defined]
    async with _browser(tiny_pool.app, 0) as first:
        registered = await post_form(first, REGISTER, email=EMAIL, password=PASSWORD)
    assert error_of(registered) is None, describe(registered)

    async def login(index: int) -> httpx.Response:
        async with _browser(tiny_pool.app, index) as browser:
            return await post_form(browser, LOGIN, email=EMAIL, password=PASSWORD)

    started = time.monotonic()
    logins = await asyncio.gather(*(login(i) for i in range(CONCURRENT)))
    report = "\n".join(f"#{i}: {describe(r)}" for i, r in enumerate(logins))
    assert all(error_of(r) is None for r in logins), report
    assert all(r.headers["location"] == NEXT for r in logins), report
    cookies = [session_cookie(r) for r in logins]
    assert all(cookies), report
    assert len(set(cookies)) == CONCURRENT, "two sign-ins got the same session"

    async def profile(index: int, cookie: str) -> httpx.Response:
        async with _browser(tiny_pool.app, index, cookie) as browser:
            return await browser.get(NEXT)

    pages = await asyncio.gather(*(profile(i, c) for i, c in enumerate(cookies) if c))
    statuses = [page.status_code for page in pages]
    assert statuses == [200] * CONCURRENT, statuses
    assert [profile_email(page) for page in pages] == [EMAIL] * CONCURRENT
    assert time.monotonic() - started < 60


async def test_hundred_concurrent_store_calls_on_one_connection(tiny_pool: TinyPool) -> None:
    store = tiny_pool.store
    user_id = await tiny_pool.idp.create_user(email=EMAIL, password=PASSWORD)
    sessions = SessionManager(store, SESSION_SECRET)
    now = sessions.now()

    async def sign_in(index: int) -> str:
        login = await store.get_login(LOCAL_PROVIDER, EMAIL)
        assert login is not None
        assert login.pw_hash
        session_id = SessionManager.session_id(f"token-{index}")
        await store.create_session(SessionRecord(session_id, login.user.user_id, now, now + 600))
        return session_id

    ids = await asyncio.wait_for(
        asyncio.gather(*(sign_in(i) for i in range(CONCURRENT))), timeout=60
    )
    found = await asyncio.gather(*(store.get_session(session_id) for session_id in ids))
    assert [record.user_id if record else None for record in found] == [user_id] * CONCURRENT
