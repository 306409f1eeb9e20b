"""Two "machines": two ``pywire run --workers 2`` servers sharing PostgreSQL (and Redis).

Each server is its own folder with its own ``.env`` naming the same database and
the same secrets, as two hosts of one deployment would have. With Redis, the
test starts a private ``redis-server`` and kills it midway: sign-in, sign-out and
live sign-outs must go on through the database, and the fast path must come
back by itself when Redis does.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pywire_auth import SessionConfig
from tests.conftest import reset_database, server_url
from tests.scale._harness import (
    RedisServer,
    RunServer,
    is_navigate_to_login,
    make_app_dir,
    profile_signed_in,
    revoke,
    sign_in,
    spread_sockets,
    wait_all,
)
from tests.scale.conftest import attach

pytestmark = [pytest.mark.scale, pytest.mark.postgres]

PASSWORD = "correct horse battery staple"
DEADLINE = 10.0
RECONNECT_DEADLINE = 60.0
FAST_PATH_BACK = "auth channel: fast path is back"


async def _live_revoke(a: RunServer, b: RunServer, email: str) -> None:
    """Live pages of ``email`` on every worker of A; a sign-out on B sends them all away."""
    cookies = [await sign_in(a.base_url, email, PASSWORD, register=True)]
    cookies.append(await sign_in(b.base_url, email, PASSWORD))
    sockets, _owners = await spread_sockets(a, cookies, least=4, most=40)
    try:
        other = await sign_in(b.base_url, email, PASSWORD)
        response = await revoke(b.base_url, other)
        assert response.status_code == 303
        await wait_all(sockets, is_navigate_to_login, DEADLINE)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))


async def _sign_in_and_out(a: RunServer, b: RunServer, email: str) -> None:
    """Register on A, signed in on B; sign out on B, refused on A."""
    cookie = await sign_in(a.base_url, email, PASSWORD, register=True)
    assert await profile_signed_in(b.base_url, cookie)
    again = await sign_in(b.base_url, email, PASSWORD)
    assert await profile_signed_in(a.base_url, again)
    response = await revoke(b.base_url, again)
    assert response.status_code == 303
    # A's workers may serve their cached lookup for up to cache_ttl (docs/web.md).
    await asyncio.sleep(SessionConfig().cache_ttl)
    for base in (a.base_url, b.base_url) * 3:
        assert not await profile_signed_in(base, cookie)
        assert not await profile_signed_in(base, again)


def _count(servers: list[RunServer], text: str, offsets: list[int]) -> int:
    return sum(s.log_text()[o:].count(text) for s, o in zip(servers, offsets, strict=True))


@pytest.mark.asyncio
@pytest.mark.parametrize("with_redis", [True, False], ids=["pg+redis", "pg"])
async def test_two_servers_share_sessions_and_live_pages(
    request: pytest.FixtureRequest, tmp_path: Path, with_redis: bool
) -> None:
    db_url = server_url("postgres")
    await reset_database(db_url)
    redis = RedisServer(tmp_path) if with_redis else None
    env = {"REDIS_URL": redis.url} if redis is not None else {}
    dir_a = make_app_dir(tmp_path / "a", db_url)
    dir_b = make_app_dir(tmp_path / "b", db_url, secrets_from=dir_a)
    a = RunServer(dir_a, workers=2, extra_env=env, name="machine-a")
    b = RunServer(dir_b, workers=2, extra_env=env, name="machine-b")
    attach(request, a)
    attach(request, b)
    try:
        if redis is not None:
            redis.start()
        a.start()
        b.start()
        assert len(a.worker_pids()) == 2
        assert len(b.worker_pids()) == 2

        await _sign_in_and_out(a, b, "both@example.com")
        await _live_revoke(a, b, "live@example.com")
        if redis is None:
            return

        # Redis goes away: everything goes on through PostgreSQL.
        redis.kill()
        await _sign_in_and_out(a, b, "outage@example.com")
        await _live_revoke(a, b, "outage-live@example.com")

        # Redis comes back on the same port: every worker finds it by itself.
        offsets = [len(a.log_text()), len(b.log_text())]
        redis.start()
        deadline = time.monotonic() + RECONNECT_DEADLINE
        while _count([a, b], FAST_PATH_BACK, offsets) < 4:
            assert time.monotonic() < deadline, "the fast path did not come back in every worker"
            await asyncio.sleep(0.25)
        await _live_revoke(a, b, "back@example.com")
    finally:
        a.stop()
        b.stop()
        if redis is not None:
            redis.kill()
