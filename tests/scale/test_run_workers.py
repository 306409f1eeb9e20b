"""The example app under the real ``pywire run`` with its default worker processes.

Every request and live page may land in any of the workers, so these tests show
that sign-in state, live sign-outs, live claim changes and the throttle are
shared by all of them, not kept per process.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.scale._harness import (
    COOKIE,
    RunServer,
    error_of,
    post_form,
    profile_signed_in,
    session_cookie,
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
        for _ in range(6):
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
