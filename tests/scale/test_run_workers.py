"""The example app under the real ``pywire run`` with its default worker processes.

Every request and live page may land in any of the workers, so these tests show
that sign-in state, live sign-outs, live claim changes and the throttle are
shared by all of them, not kept per process.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import httpx
import pytest

from pywire_auth import SessionConfig, SQLAlchemyAuthStore
from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.local.principal import principal_for
from pywire_auth.throttles.policy import ThrottlePolicy
from tests.scale._harness import (
    COOKIE,
    RunServer,
    error_of,
    is_navigate_to_login,
    post_form,
    profile_signed_in,
    revoke,
    session_cookie,
    sign_in,
    spread_sockets,
    wait_all,
)

pytestmark = pytest.mark.scale

PASSWORD = "correct horse battery staple"
DEADLINE = 10.0


def test_default_worker_count(run_server: RunServer) -> None:
    """``pywire run`` without ``--workers`` starts ``(cpu_count * 2) + 1`` workers."""
    expected = (os.cpu_count() or 1) * 2 + 1
    assert len(run_server.worker_pids()) == expected, run_server.worker_pids()


@pytest.mark.asyncio
async def test_spec_flow(run_server: RunServer) -> None:
    """register -> profile signed in -> sign out -> refused -> sign in, across workers."""
    base = run_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await post_form(
            client, "/auth/local/register", email="flow@example.com", password=PASSWORD, name="Flo"
        )
        assert error_of(response) is None, response.headers
        assert response.headers["location"] == "/profile"
        cookie = session_cookie(response)
        assert cookie
        # Several GETs, so several workers (most likely) read the one session.
        for _ in range(6):
            assert await profile_signed_in(base, cookie)

        response = await post_form(client, "/auth/local/revoke", cookie, next="/login_local")
        assert response.status_code == 303
        assert response.headers["location"] == "/login_local"
        # Other workers may answer from their session cache for up to cache_ttl
        # after the revocation committed (docs/web.md, "The session cache"); the
        # bound is kept whatever the load, since an entry's age counts from the
        # start of its store read. Past it, every worker must refuse.
        await asyncio.sleep(SessionConfig().cache_ttl)
        for _ in range(10):
            assert not await profile_signed_in(base, cookie)
        refused = await client.get("/profile", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert refused.status_code in (302, 303, 307)
        assert refused.headers["location"].startswith("/login_local")

        response = await post_form(
            client, "/auth/local/login", email="flow@example.com", password=PASSWORD
        )
        assert error_of(response) is None
        fresh = session_cookie(response)
        assert fresh
        assert fresh != cookie
        assert await profile_signed_in(base, fresh)
        assert not await profile_signed_in(base, cookie)


async def _user_sessions(base: str, email: str, count: int = 3) -> list[str]:
    """Register ``email`` and sign it in ``count - 1`` more times: its session cookies."""
    cookies = [await sign_in(base, email, PASSWORD, register=True)]
    for _ in range(count - 1):
        cookies.append(await sign_in(base, email, PASSWORD))
    return cookies


def _report(title: str, latencies: list[float], owners: dict[int, int]) -> None:
    ordered = sorted(latencies)
    print(
        f"\n{title}: {len(ordered)} sockets on {len(set(owners.values()))} workers; "
        f"min {ordered[0] * 1000:.0f} ms, median {statistics.median(ordered) * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


@pytest.mark.asyncio
async def test_revoke_reaches_every_worker(run_server: RunServer) -> None:
    """A sign-out in one worker sends every live page of the user, in every worker, away."""
    base = run_server.base_url
    cookies = await _user_sessions(base, "live-revoke@example.com")
    sockets, owners = await spread_sockets(run_server, cookies)
    try:
        other = await sign_in(base, "live-revoke@example.com", PASSWORD)
        assert not any(s.find(is_navigate_to_login) is not None for s in sockets)
        started = time.monotonic()
        response = await revoke(base, other)
        assert response.status_code == 303
        arrived = await wait_all(sockets, is_navigate_to_login, DEADLINE)
        _report("revoke -> navigate", [t - started for t in arrived], owners)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    assert not await profile_signed_in(base, cookies[0])


@pytest.mark.asyncio
async def test_claim_update_reaches_every_worker(run_server: RunServer) -> None:
    """Claims changed by another process re-render every live page of the user."""
    base = run_server.base_url
    cookies = await _user_sessions(base, "live-claims@example.com")
    sockets, owners = await spread_sockets(run_server, cookies)
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{run_server.app_dir / 'local-auth.db'}")
    channel = StoreAuthChannel(store)
    try:
        user = await store.get_user_by_link("local", "live-claims@example.com")
        assert user is not None
        updated = await store.update_user(
            user.user_id, name="Renamed Ann", claims={**user.claims, "role": "editor"}
        )
        assert updated is not None
        since = [len(s.messages) for s in sockets]
        started = time.monotonic()
        principal = principal_for(updated)
        await channel.update_principal(principal.user_id, principal=principal)

        def renamed(message: dict[str, object]) -> bool:
            return message.get("type") == "update" and "Renamed Ann" in repr(message)

        arrived = await wait_all(sockets, renamed, DEADLINE, since)
        _report("claim update -> re-render", [t - started for t in arrived], owners)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
        await channel.aclose()
        await store.close()
    # The pages stay signed in: an update is not a sign-out.
    assert not any(s.find(is_navigate_to_login) is not None for s in sockets)


@pytest.mark.asyncio
async def test_throttle_is_shared_by_workers(run_server: RunServer) -> None:
    """100 wrong passwords at one account, on fresh connections spread over the workers.

    The clients come from ten loopback addresses, so no address reaches its own
    limit and the account limit is what trips. Per-process counters would let up
    to ``workers x limit`` guesses through.
    """
    policy = ThrottlePolicy()
    account_limit = policy.failures_per_account.limit
    attempts = 100
    addresses = [f"127.0.0.{10 + i}" for i in range(10)]
    per_address = attempts // len(addresses)
    assert per_address < policy.failures_per_address.limit
    assert len(addresses) * per_address == attempts
    base = run_server.base_url
    email = "guessed@example.com"
    await sign_in(base, email, PASSWORD, register=True)
    gate = asyncio.Semaphore(10)

    async def attempt(index: int) -> str | None:
        transport = httpx.AsyncHTTPTransport(local_address=addresses[index % len(addresses)])
        async with (
            gate,
            httpx.AsyncClient(base_url=base, timeout=60, transport=transport) as client,
        ):
            response = await post_form(
                client, "/auth/local/login", email=email, password=f"wrong-{index}"
            )
        return error_of(response)

    answers = await asyncio.gather(*(attempt(i) for i in range(attempts)))
    counts = {code: answers.count(code) for code in set(answers)}
    print(f"\n{attempts} wrong passwords: {counts} (account limit {account_limit})")
    assert set(counts) <= {"invalid", "throttled"}, counts
    assert 1 <= counts.get("invalid", 0) <= account_limit, counts
    assert counts.get("invalid", 0) + counts.get("throttled", 0) == attempts
