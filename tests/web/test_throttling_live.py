"""Throttling over real HTTP: a uvicorn process, clients on many loopback addresses.

The lockout test runs on every store backend (with the throttle a deployment on
it would use); the client-address tests check what uvicorn itself does to
``scope["client"]`` (``--proxy-headers`` is on by default and trusts
``FORWARDED_ALLOW_IPS``, by default 127.0.0.1 and ::1) and that none of it lets a
client choose its throttle key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from pywire_auth._client_address import UNVERIFIED
from tests.web._live_server import LiveServer
from tests.web.conftest import error_code, location

pytestmark = pytest.mark.asyncio

OWNER = "ann@example.com"
PASSWORD = "correct horse battery"
ROOMY = [100, 60]


def spec(db: str | None = None, **policy: Any) -> dict[str, Any]:
    rules = {
        "failures_per_address": ROOMY,
        "emails_per_address": ROOMY,
        "failures_per_account": ROOMY,
        "failures_per_device": ROOMY,
        "registrations_per_address": ROOMY,
        **policy,
    }
    return {"db": db, "policy": rules}


async def post(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None, **form: str
) -> httpx.Response:
    return await client.post(
        path,
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )


async def login(
    client: httpx.AsyncClient, email: str, password: str, headers: dict[str, str] | None = None
) -> str:
    """The redirect's ``?error=`` code, or ``ok`` for a sign-in."""
    response = await post(
        client, "/auth/local/login", headers, email=email, password=password, next="/profile"
    )
    if location(response) == "/profile":
        return "ok"
    return error_code(response)


async def test_lockout_over_http_spares_the_owners_browser(
    backend_url: str | None, tmp_path: Path
) -> None:
    policy = spec(
        backend_url,
        failures_per_account=[5, 60],
        failures_per_address=[3, 60],
        failures_per_device=[5, 60],
    )
    async with LiveServer(policy, tmp_path) as server:
        owner = server.client("127.0.0.2")
        registered = await post(
            owner, "/auth/local/register", email=OWNER, password=PASSWORD, next="/profile"
        )
        assert location(registered) == "/profile", server.logs()
        await post(owner, "/auth/local/revoke")
        assert (await owner.get("/profile")).status_code == 303  # signed out
        # Ten guessers on ten addresses; only five guesses get through to a password check.
        answers = []
        for i in range(10, 20):
            guesser = server.client(f"127.0.0.{i}")
            answers += [await login(guesser, OWNER, "guess") for _ in range(2)]
        assert answers == ["invalid"] * 5 + ["throttled"] * 15
        # A guesser over its address limit is refused without touching anything.
        hammer = server.client("127.0.0.40")
        assert [await login(hammer, OWNER, "guess") for _ in range(5)] == ["throttled"] * 5
        # The account is locked for browsers it never signed in from ...
        assert await login(server.client("127.0.0.30"), OWNER, PASSWORD) == "throttled"
        # ... but not for the owner's own browser.
        assert await login(owner, OWNER, PASSWORD) == "ok"
        profile = await owner.get("/profile")
        assert profile.status_code == 200
        assert OWNER in profile.text
        # The server saw each client's own loopback address.
        assert (await server.seen("127.0.0.7"))["resolved"] == "127.0.0.7"


async def test_uvicorn_proxy_headers_cannot_pick_the_throttle_key(tmp_path: Path) -> None:
    async with LiveServer(spec(failures_per_address=[3, 60]), tmp_path) as server:
        # uvicorn trusts 127.0.0.1 by default and rewrites the client from the header:
        seen = await server.seen("127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"})
        assert seen["client"] == ["198.51.100.1", 0]
        assert seen["resolved"] == UNVERIFIED
        # ... but not for other peers.
        seen = await server.seen("127.0.0.5", **{"X-Forwarded-For": "198.51.100.1"})
        assert seen["client"][0] == "127.0.0.5"
        assert seen["resolved"] == "127.0.0.5"
        # A forged header per attempt is still one address.
        for peer in ("127.0.0.1", "127.0.0.5"):
            client = server.client(peer)
            answers = [
                await login(
                    client, f"u{i}@example.com", "x", {"X-Forwarded-For": f"198.51.100.{i}"}
                )
                for i in range(5)
            ]
            assert answers == ["invalid"] * 3 + ["throttled"] * 2, peer


async def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    proxy = {"client_address": {"trusted_proxies": ["127.0.0.1"]}}
    for env in ({}, {"FORWARDED_ALLOW_IPS": ""}):  # with and without uvicorn's rewrite
        server_spec = spec(failures_per_address=[3, 60], **proxy)
        async with LiveServer(server_spec, tmp_path, env=env) as server:
            xff = {"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}
            seen = await server.seen("127.0.0.1", **xff)
            assert seen["resolved"] == "198.51.100.1", seen
            rewritten = seen["client"] == ["198.51.100.1", 0]
            assert rewritten is (env == {})
            # Not the proxy: its header is ignored.
            assert (await server.seen("127.0.0.5", **xff))["resolved"] == "127.0.0.5"
            # Counted per forwarded client, whatever the client itself put in front.
            via_proxy = server.client("127.0.0.1")
            answers = [
                await login(via_proxy, OWNER, "x", {"X-Forwarded-For": f"6.6.6.{i}, 198.51.100.1"})
                for i in range(4)
            ]
            assert answers == ["invalid"] * 3 + ["throttled"]
            other = {"X-Forwarded-For": "198.51.100.2"}
            assert await login(via_proxy, OWNER, "x", other) == "invalid"


async def test_forwarded_behind_uvicorn_is_not_fooled_by_x_forwarded_for(
    tmp_path: Path,
) -> None:
    proxy = {"client_address": {"trusted_proxies": ["127.0.0.1"], "header": "forwarded"}}
    async with LiveServer(spec(**proxy), tmp_path) as server:
        forwarded = {"Forwarded": "for=198.51.100.1;proto=http"}
        assert (await server.seen("127.0.0.1", **forwarded))["resolved"] == "198.51.100.1"
        # A client-sent X-Forwarded-For that the proxy passed on made uvicorn
        # rewrite the peer; we cannot tell the real one, so we take none of it.
        forged = {**forwarded, "X-Forwarded-For": "6.6.6.6"}
        seen = await server.seen("127.0.0.1", **forged)
        assert seen["client"] == ["6.6.6.6", 0]
        assert seen["resolved"] == UNVERIFIED
