"""A live page (PyWire WebSocket) never outlives its session.

A real uvicorn server (in the test's loop) on a loopback socket, real WebSocket
clients speaking PyWire's msgpack protocol: connect to ``/_pywire/ws`` with the
session cookie and a same-origin ``Origin``, receive ``init``, send
``{"type": "init", "path": "/profile"}``. A signed-in page gets ``init_ack``; an
anonymous one is sent to ``/login_local`` by the page's ``!auth`` guard.

When the session ends (expiry, password change elsewhere, row deleted straight in
the database) the server closes the socket with 4401; a revoke (sign-out
everywhere, user deleted) is PyWire's own pushed navigate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgpack
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from pywire_auth import SessionConfig
from pywire_auth.live_sessions import SESSION_GONE_CLOSE_CODE
from pywire_auth.sessions import SessionManager
from tests.web._uvicorn import serving
from tests.web.conftest import COOKIE, PASSWORD, AppFactory

pytestmark = pytest.mark.asyncio

# Generous: only a broken watch ever waits this long (the test then fails).
CLOSE_TIMEOUT = 20.0
NEW_PASSWORD = "a brand new passphrase"


async def _sign_in(url: str, *, register: bool) -> str:
    """A session cookie value for ann, from a real HTTP sign-up or sign-in."""
    path = "/auth/local/register" if register else "/auth/local/login"
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            path,
            data={"email": "ann@example.com", "password": PASSWORD},
            headers={"Origin": url},
        )
    value = response.cookies.get(COOKIE)
    assert value is not None, response.headers
    return value


@asynccontextmanager
async def _live_page(url: str, cookie: str, path: str = "/profile") -> AsyncIterator[Any]:
    """An open PyWire page on ``path``; yields the socket and the reply to its init."""
    async with websockets.connect(
        url.replace("http", "ws", 1) + "/_pywire/ws",
        additional_headers={"Cookie": f"{COOKIE}={cookie}", "Origin": url},
    ) as ws:
        hello = msgpack.unpackb(await ws.recv())
        assert hello["type"] == "init"
        await ws.send(msgpack.packb({"type": "init", "path": path}))
        reply = msgpack.unpackb(await asyncio.wait_for(ws.recv(), CLOSE_TIMEOUT))
        yield ws, reply


async def _close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""

    async def drain() -> int | None:
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    return await asyncio.wait_for(drain(), CLOSE_TIMEOUT)


async def _next_navigate(ws: ClientConnection) -> str:
    """The path of the next ``navigate`` message the server pushes."""

    async def wait() -> str:
        while True:
            message = msgpack.unpackb(await ws.recv())
            if message.get("type") == "navigate":
                return str(message["path"])

    return await asyncio.wait_for(wait(), CLOSE_TIMEOUT)


async def _comes_back_signed_out(url: str, cookie: str) -> None:
    async with _live_page(url, cookie) as (_, reply):
        assert reply == {"type": "navigate", "path": "/login_local"}


async def test_live_page_is_closed_at_its_sessions_expiry(app_factory: AppFactory) -> None:
    # A 30 s tick could never close it within the timeout: the exact-expiry check does.
    config = SessionConfig(ttl=2, refresh_after=1, cache_ttl=0.5, live_check_interval=30)
    web = await app_factory(session_config=config)
    async with serving(web.app) as url:
        cookie = await _sign_in(url, register=True)
        async with _live_page(url, cookie) as (ws, reply):
            assert reply["type"] == "init_ack"  # signed in
            assert await _close_code(ws) == SESSION_GONE_CLOSE_CODE
        await _comes_back_signed_out(url, cookie)


async def test_live_page_is_closed_when_the_password_changes_elsewhere(
    app_factory: AppFactory,
) -> None:
    web = await app_factory()
    async with serving(web.app) as url:
        mine = await _sign_in(url, register=True)
        other = await _sign_in(url, register=False)
        user = await web.user("ann@example.com")
        assert user is not None
        async with _live_page(url, mine) as (my_ws, _), _live_page(url, other) as (ws, reply):
            assert reply["type"] == "init_ack"
            assert await web.app.state.auth.change_password(
                user.user_id, PASSWORD, NEW_PASSWORD, keep_session=mine.split(".")[0]
            )
            # No tick within the timeout: the channel's update makes the page look.
            assert await _close_code(ws) == SESSION_GONE_CLOSE_CODE
            assert my_ws.state is State.OPEN  # the session that made the change stays
        await _comes_back_signed_out(url, other)
        async with _live_page(url, mine) as (_, reply):
            assert reply["type"] == "init_ack"


async def test_live_page_is_closed_when_the_user_is_deleted(app_factory: AppFactory) -> None:
    web = await app_factory()
    async with serving(web.app) as url:
        cookie = await _sign_in(url, register=True)
        user = await web.user("ann@example.com")
        assert user is not None
        async with _live_page(url, cookie) as (ws, reply):
            assert reply["type"] == "init_ack"
            assert await web.app.state.auth.delete_user(user.user_id)
            # A revoke: PyWire's own live-auth loop pushes the guard's navigate, and
            # the socket is left open for it (closing would cut the navigate short).
            assert await _next_navigate(ws) == "/login_local"
            assert ws.state is State.OPEN
        await _comes_back_signed_out(url, cookie)


async def test_a_session_deleted_straight_in_the_store_is_noticed_on_the_tick(
    app_factory: AppFactory,
) -> None:
    web = await app_factory(session_config=SessionConfig(live_check_interval=0.2, cache_ttl=0.1))
    async with serving(web.app) as url:
        cookie = await _sign_in(url, register=True)
        async with _live_page(url, cookie) as (ws, reply):
            assert reply["type"] == "init_ack"
            # No channel event, no forget: only the periodic check can see this.
            session_id = SessionManager.session_id(cookie.split(".")[0])
            assert await web.store.delete_session(session_id)  # type: ignore[attr-defined]
            assert await _close_code(ws) == SESSION_GONE_CLOSE_CODE
