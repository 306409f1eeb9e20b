"""`pywire-auth users disable|enable`: the app refuses a disabled account everywhere."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pywire import PyWire

from pywire_auth import LocalIdP, connect_auth
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.testing.channel_contract import next_event
from tests.cli.conftest import IDP_SECRET, PASSWORD, Run

PAGES_DIR = Path(__file__).resolve().parents[2] / "examples" / "local_idp" / "src" / "pages"
SESSION_SECRET = "cli-session-secret-" + "9c1e5a7b3d2f4086e1c9b7a5f3d20e48"
ORIGIN = {"Origin": "http://testserver"}


class App:
    """The specification's app on the command line's database, driven through httpx."""

    def __init__(self, url: str) -> None:
        self.app = PyWire(pages_dir=str(PAGES_DIR))
        self.idp = LocalIdP(store=SQLAlchemyAuthStore(url), secret=IDP_SECRET)
        connect_auth(
            self.app, local_idp=self.idp, session_secret=SESSION_SECRET, throttle=None, mailer=None
        )

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def sign_in(self, client: httpx.AsyncClient, password: str) -> str | None:
        """The ``?error=`` code of a sign-in, or ``None`` when it succeeded."""
        response = await client.post(
            "/auth/local/login",
            data={"email": "ann@example.com", "password": password, "next": "/"},
            headers=ORIGIN,
        )
        assert response.status_code == 303
        errors = parse_qs(urlsplit(response.headers["location"]).query).get("error")
        return errors[0] if errors else None

    async def verify(self, client: httpx.AsyncClient, token: str) -> bool:
        response = await client.post("/auth/local/verify-token", json={"token": token})
        return bool(response.json()["valid"])

    async def signed_in(self, client: httpx.AsyncClient) -> bool:
        response = await client.post("/auth/local/token", headers=ORIGIN)
        return response.status_code == 200


@pytest.mark.asyncio
async def test_disabled_account_cannot_sign_in_and_loses_its_sessions_and_tokens(
    run: Run,
) -> None:
    # The command runs its own event loop: in a thread, as beside a running app.
    async def cli(*args: str, stdin: str | None = None, code: int = 0) -> str:
        result = await asyncio.to_thread(run, *args, stdin=stdin, code=code)
        return result.stdout

    await cli("users", "create", "ann@example.com", "--password-stdin", stdin=PASSWORD)
    token = (await cli("token", "issue", "--user", "ann@example.com")).strip()
    user_id = json.loads(await cli("users", "show", "ann@example.com", "--json"))["user_id"]
    app = App(run.url)
    channel = app.app.state.auth_channel
    try:
        async with app.client() as client, channel.subscribe(f"local:{user_id}") as page:
            assert await app.sign_in(client, PASSWORD) is None
            assert await app.signed_in(client)
            assert await app.verify(client, token)

            disabled = json.loads(await cli("users", "disable", "ann@example.com", "--json"))
            assert disabled["disabled"] is True
            # The app's live page hears it through the event table, as in another process.
            assert (await next_event(page, within=30)).kind == "revoke"
            assert not await app.signed_in(client)  # the old session is gone
            assert not await app.verify(client, token)
            await cli("token", "issue", "--user", "ann@example.com", code=1)
            # Only the right password learns why; a wrong one looks like any other.
            assert await app.sign_in(client, PASSWORD) == "disabled"
            assert await app.sign_in(client, "not the password") == "invalid"
            assert not await app.signed_in(client)

            enabled = json.loads(await cli("users", "enable", "ann@example.com", "--json"))
            assert enabled["disabled"] is False
            assert await app.sign_in(client, PASSWORD) is None
            assert await app.signed_in(client)
            assert await app.verify(client, token)
        await cli("users", "disable", "nobody@example.com", code=3)
    finally:
        await channel.aclose()
        await app.idp.aclose()
