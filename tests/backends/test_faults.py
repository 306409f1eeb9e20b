"""Fault injection on every SQL backend: racing password changes, a database that is
down (PostgreSQL, MariaDB: a proxy cuts the line) or locked (SQLite: another
connection holds the write lock) while people sign in and register.

Crashing in the middle of a registration is covered by test_sql_atomicity.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from pywire import PyWire
from pywire.auth import ClaimsPrincipal

from pywire_auth import (
    LOCAL_PROVIDER,
    Argon2Hasher,
    LocalIdP,
    RateLimit,
    SQLAlchemyAuthStore,
    ThrottlePolicy,
)
from tests.backends._servers import (
    COOKIE,
    IDP_SECRET,
    LOGIN,
    NEXT,
    REGISTER,
    TcpProxy,
    build_app,
    describe,
    error_of,
    fast_hasher,
    post_form,
    profile_email,
    row_counts,
    session_cookie,
    timed,
)

pytestmark = pytest.mark.asyncio

OLD_PASSWORD = "the old password"
NEW_PASSWORD = "the brand new password"
LOGINS_PER_RACE = 10
RACES = 5
# Generous: a dead or locked database must be answered within seconds, not hang.
ANSWER_WITHIN = 20.0


# Password change racing sign-ins that rehash ------------------------------------------


@dataclass
class RehashSetup:
    store: SQLAlchemyAuthStore
    old: LocalIdP  # hashes with time_cost=1
    new: LocalIdP  # time_cost=2: every sign-in with an old hash rehashes it


@pytest_asyncio.fixture
async def rehash(sql_url: str) -> AsyncIterator[RehashSetup]:
    store = SQLAlchemyAuthStore(sql_url)
    old = LocalIdP(store=store, secret=IDP_SECRET, hasher=fast_hasher())
    new = LocalIdP(store=store, secret=IDP_SECRET, hasher=fast_hasher(time_cost=2))
    try:
        yield RehashSetup(store, old, new)
    finally:
        for idp in (old, new):
            idp.hasher.close()  # type: ignore[attr-defined]
        await store.close()


async def _assert_only_new_password_works(setup: RehashSetup, user_id: str, email: str) -> None:
    new = setup.new
    assert await new.verify_credentials(email=email, password=OLD_PASSWORD) is None
    principal = await new.verify_credentials(email=email, password=NEW_PASSWORD)
    assert principal is not None
    assert principal.user_id == f"local:{user_id}"
    stored = await setup.store.get_password_hash(user_id)
    assert stored is not None
    assert await new.hasher.verify(stored, NEW_PASSWORD)
    assert not await new.hasher.verify(stored, OLD_PASSWORD)


async def test_password_change_racing_rehashing_logins(rehash: RehashSetup) -> None:
    for race in range(RACES):
        email = f"racer{race}@example.com"
        user_id = await rehash.old.create_user(email=email, password=OLD_PASSWORD)
        assert rehash.new.hasher.needs_rehash(await rehash.store.get_password_hash(user_id) or "")
        calls: list[Awaitable[object]] = [
            rehash.new.verify_credentials(email=email, password=OLD_PASSWORD)
            for _ in range(LOGINS_PER_RACE)
        ]
        # The change starts first, last, and in between in different rounds.
        at = race * LOGINS_PER_RACE // (RACES - 1)
        calls.insert(
            at,
            rehash.new.change_password(
                user_id=user_id, old_password=OLD_PASSWORD, new_password=NEW_PASSWORD
            ),
        )
        results = await asyncio.gather(*calls)
        changed = results.pop(at)
        for principal in results:
            # A sign-in that read the hash before the change may still succeed.
            assert principal is None or (
                isinstance(principal, ClaimsPrincipal) and principal.user_id == f"local:{user_id}"
            )
        assert changed is True, f"race {race}: the password change was refused"
        await _assert_only_new_password_works(rehash, user_id, email)


class GatedHasher(Argon2Hasher):
    """Holds the hashing of one password until the test opens the gate."""

    def __init__(self, gated_password: str) -> None:
        super().__init__(time_cost=2, memory_cost=8192, parallelism=1)
        self.gated_password = gated_password
        self.waiting = asyncio.Event()
        self.gate = asyncio.Event()

    async def hash(self, password: str) -> str:
        if password == self.gated_password:
            self.waiting.set()
            await self.gate.wait()
        return await super().hash(password)


async def test_rehash_between_read_and_write_of_a_password_change(
    rehash: RehashSetup,
) -> None:
    """The ordering the race above may hit: a sign-in rehashes the old password after
    change_password read the hash and before it writes the new one. The rehash does
    not change the password, so the change must still go through."""
    email = "gated@example.com"
    user_id = await rehash.old.create_user(email=email, password=OLD_PASSWORD)
    hasher = GatedHasher(NEW_PASSWORD)
    idp = LocalIdP(store=rehash.store, secret=IDP_SECRET, hasher=hasher)
    try:
        change = asyncio.create_task(
            idp.change_password(
                user_id=user_id, old_password=OLD_PASSWORD, new_password=NEW_PASSWORD
            )
        )
        await asyncio.wait_for(hasher.waiting.wait(), ANSWER_WITHIN)
        before = await rehash.store.get_password_hash(user_id)
        assert await idp.verify_credentials(email=email, password=OLD_PASSWORD) is not None
        rehashed = await rehash.store.get_password_hash(user_id)
        assert rehashed != before, "the sign-in should have rehashed the old password"
        hasher.gate.set()
        changed = await asyncio.wait_for(change, ANSWER_WITHIN)
        assert changed is True, "a rehash of the same password made the change fail"
        await _assert_only_new_password_works(rehash, user_id, email)
    finally:
        hasher.gate.set()
        hasher.close()


# The database down or locked during sign-in and registration ---------------------------


@dataclass
class Outage:
    """An in-process app whose store can be cut off from its database."""

    app: PyWire
    idp: LocalIdP
    direct_url: str  # the database itself, bypassing the proxy
    proxy: TcpProxy | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(self, cookie: str | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("127.0.0.1", 50000)),
            base_url="http://testserver",
            cookies={COOKIE: cookie} if cookie else None,
            timeout=60,
        )
        self.clients.append(client)
        return client


@pytest_asyncio.fixture
async def outage(sql_backend: str, sql_url: str) -> AsyncIterator[Outage]:
    proxy = None
    store_url = sql_url
    if sql_backend != "sqlite":
        url = sa.make_url(sql_url)
        proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 0).start()
        store_url = proxy.url_for(sql_url)
    two = RateLimit(2, 60)
    policy = ThrottlePolicy(
        failures_per_address=two,
        emails_per_address=two,
        failures_per_account=two,
        failures_per_device=two,
        registrations_per_address=two,
    )
    app, idp = build_app(store_url, throttle_policy=policy)
    setup = Outage(app=app, idp=idp, direct_url=sql_url, proxy=proxy)
    try:
        yield setup
    finally:
        for client in setup.clients:
            await client.aclose()
        if proxy is not None:
            await proxy.close()  # first: nothing may wait on a stalled line any more
        await idp.aclose()


async def _register(client: httpx.AsyncClient, email: str) -> tuple[httpx.Response, float]:
    return await timed(post_form(client, REGISTER, email=email, password=OLD_PASSWORD))


async def _login(client: httpx.AsyncClient, email: str) -> tuple[httpx.Response, float]:
    return await timed(post_form(client, LOGIN, email=email, password=OLD_PASSWORD))


def _assert_unavailable(response: httpx.Response, seconds: float, page: str) -> None:
    assert error_of(response) == "unavailable", describe(response)
    assert response.headers["location"] == f"{page}?error=unavailable"
    assert session_cookie(response) is None, describe(response)
    assert seconds < ANSWER_WITHIN, f"answered after {seconds:.1f} s"


async def _registered_emails(url: str) -> list[str]:
    store = SQLAlchemyAuthStore(url)
    try:
        found = [
            await store.get_user_by_link(LOCAL_PROVIDER, email)
            for email in ("ann@example.com", "bob@example.com")
        ]
    finally:
        await store.close()
    return [user.email for user in found if user is not None]


@pytest.mark.parametrize("sql_backend", ["postgres", "mysql"])
async def test_database_down_during_login_and_register(outage: Outage) -> None:
    proxy = outage.proxy
    assert proxy is not None
    # Ann registers while all is well and keeps her signed-in browser.
    first = await post_form(
        outage.browser(), REGISTER, email="ann@example.com", password=OLD_PASSWORD
    )
    assert error_of(first) is None, describe(first)
    ann_cookie = session_cookie(first)
    assert ann_cookie

    proxy.cut()
    response, seconds = await _register(outage.browser(), "bob@example.com")
    _assert_unavailable(response, seconds, "/register")
    # Three sign-ins with the right password against a throttle of two per window:
    # none was a guess, so none may count.
    for attempt in range(3):
        response, seconds = await _login(outage.browser(), "ann@example.com")
        assert error_of(response) != "throttled", f"attempt {attempt}: {describe(response)}"
        _assert_unavailable(response, seconds, "/login_local")
    # Pages still render, anonymously, also for a browser with a session cookie.
    signed_in = outage.browser(ann_cookie)
    for path in ("/", "/login_local", "/register"):
        page, seconds = await timed(signed_in.get(path))
        assert page.status_code == 200, (path, page.status_code)
        assert seconds < ANSWER_WITHIN
    assert "You are not signed in" in (await signed_in.get("/")).text
    profile = await signed_in.get(NEXT)
    assert profile.status_code == 303, profile.status_code

    proxy.restore()
    assert await row_counts(outage.direct_url) == (1, 1, 2)
    assert await _registered_emails(outage.direct_url) == ["ann@example.com"]
    # Same app, same store: the pool reconnects by itself.
    assert profile_email(await signed_in.get(NEXT)) == "ann@example.com"
    response, _ = await _login(outage.browser(), "ann@example.com")
    assert error_of(response) is None, describe(response)
    assert response.headers["location"] == NEXT
    assert session_cookie(response)
    response, _ = await _register(outage.browser(), "bob@example.com")
    assert error_of(response) is None, describe(response)
    assert session_cookie(response)
    assert await row_counts(outage.direct_url) == (2, 2, 4)


@pytest.mark.parametrize("sql_backend", ["postgres", "mysql"])
async def test_database_black_holed_during_register(outage: Outage) -> None:
    """Beyond a refused connection: a server (or network) that swallows every byte.
    The store promises bounded waits, so this too must end in ``unavailable``."""
    proxy = outage.proxy
    assert proxy is not None
    first = await post_form(
        outage.browser(), REGISTER, email="ann@example.com", password=OLD_PASSWORD
    )
    assert error_of(first) is None, describe(first)

    proxy.stall()
    try:
        response, seconds = await asyncio.wait_for(
            _register(outage.browser(), "bob@example.com"), ANSWER_WITHIN
        )
    except TimeoutError:
        pytest.fail(f"no answer within {ANSWER_WITHIN:.0f} s while the database hangs")
    _assert_unavailable(response, seconds, "/register")

    proxy.restore()
    assert await _registered_emails(outage.direct_url) == ["ann@example.com"]
    response, _ = await _register(outage.browser(), "bob@example.com")
    assert error_of(response) is None, describe(response)
    assert await row_counts(outage.direct_url) == (2, 2, 4)


@pytest.mark.parametrize("sql_backend", ["sqlite"])
async def test_sqlite_locked_during_register(outage: Outage) -> None:
    """SQLite has no server to lose; its outage is another process holding the lock."""
    first = await post_form(
        outage.browser(), REGISTER, email="ann@example.com", password=OLD_PASSWORD
    )
    assert error_of(first) is None, describe(first)
    ann_cookie = session_cookie(first)
    assert ann_cookie

    path = sa.make_url(outage.direct_url).database
    assert path
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        response, seconds = await _register(outage.browser(), "bob@example.com")
        _assert_unavailable(response, seconds, "/register")
        signed_in = outage.browser(ann_cookie)
        for page_path in ("/", "/login_local", "/register"):
            page, seconds = await timed(signed_in.get(page_path))
            assert page.status_code == 200, (page_path, page.status_code)
            assert seconds < ANSWER_WITHIN
    finally:
        locker.rollback()
        locker.close()

    assert await row_counts(outage.direct_url) == (1, 1, 2)
    assert await _registered_emails(outage.direct_url) == ["ann@example.com"]
    response, _ = await _register(outage.browser(), "bob@example.com")
    assert error_of(response) is None, describe(response)
    assert session_cookie(response)
    response, _ = await _login(outage.browser(), "bob@example.com")
    assert error_of(response) is None, describe(response)
    assert await row_counts(outage.direct_url) == (2, 2, 4)
