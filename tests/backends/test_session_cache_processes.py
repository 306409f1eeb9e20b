"""Two real server processes on one SQLite file: a revocation in one reaches the other.

Each process caches the sessions it looked up for ``cache_ttl`` (1 s by default).
Nothing tells server B that server A revoked a session, so B must still refuse it
once ``cache_ttl`` has passed: the cache may delay a revocation, never lose it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from pywire_auth import SessionConfig
from tests.backends._servers import (
    COOKIE,
    NEXT,
    REGISTER,
    ServerFleet,
    post_form,
    profile_email,
    session_cookie,
)

pytestmark = pytest.mark.asyncio

EMAIL = "ann@example.com"
REVOKE = "/auth/local/revoke"
CACHE_TTL = SessionConfig().cache_ttl  # what the servers run with
MARGIN = 1.0


def _browser(base_url: str, cookie: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, headers={"Cookie": f"{COOKIE}={cookie}"})


async def test_a_session_revoked_on_one_server_is_refused_by_another(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with ServerFleet(2, sqlite_url, tmp_path) as fleet:
        server_a, server_b = fleet.urls
        async with httpx.AsyncClient(base_url=server_a) as client:
            cookie = session_cookie(
                await post_form(client, REGISTER, email=EMAIL, password="correct horse battery")
            )
        assert cookie, fleet.logs()

        async with _browser(server_a, cookie) as on_a, _browser(server_b, cookie) as on_b:
            # B looks the session up (and keeps it for cache_ttl); so does A.
            for browser in (on_b, on_a, on_b):
                assert profile_email(await browser.get(NEXT)) == EMAIL, fleet.logs()

            revoked = await post_form(on_a, REVOKE, next="/")
            assert revoked.status_code == 303, fleet.logs()
            # The process that revoked refuses at once...
            refused = await on_a.get(NEXT)
            assert refused.status_code == 303, fleet.logs()
            assert refused.headers["location"] == "/login_local"

            # ...and the other one once its cached lookup is older than cache_ttl.
            await asyncio.sleep(CACHE_TTL + MARGIN)
            refused = await on_b.get(NEXT)
            assert refused.status_code == 303, fleet.logs()
            assert refused.headers["location"] == "/login_local"
            assert profile_email(await on_b.get(NEXT)) is None
