"""In a real browser, a live page whose session ends leaves the protected page.

The example's pages with pywire-auth, served by uvicorn in the test's event loop (so
the test can shorten the session and change passwords directly), driven by
Chromium. The server closes the page's WebSocket with 4401; PyWire's client
reconnects without the session and the page's ``!auth`` guard sends it to the
sign-in page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from pywire import PyWire

from pywire_auth import Argon2Hasher, LocalIdP, MemoryAuthStore, SessionConfig, connect_auth
from tests.web._uvicorn import serving

from .test_local_idp_browser import LIVE_TIMEOUT, NAV_TIMEOUT, Frames, new_page

pytestmark = pytest.mark.asyncio

PAGES_DIR = Path(__file__).resolve().parents[2] / "examples" / "local_idp" / "src" / "pages"
PASSWORD = "correct horse battery staple"
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}


@pytest_asyncio.fixture
async def make_server() -> AsyncIterator[Any]:
    """``await make_server(SessionConfig(...)) -> (base_url, app)``, stopped afterwards."""
    stack: list[Any] = []

    async def make(config: SessionConfig) -> tuple[str, PyWire]:
        app = PyWire(pages_dir=str(PAGES_DIR))
        idp = LocalIdP(
            store=MemoryAuthStore(),
            secret="e2e-idp-secret-7c41a9d03be2f586a1b2",
            hasher=Argon2Hasher(**FAST_ARGON2),
        )
        connect_auth(
            app,
            local_idp=idp,
            session_secret="e2e-session-secret-2d8b6f91ac4e7d0c35",
            session_config=config,
        )
        context = serving(app)
        url = await context.__aenter__()
        stack.append(context)
        return url, app

    yield make
    for context in reversed(stack):
        await context.__aexit__(None, None, None)


async def wait_live(frames: Frames, what: str) -> None:
    """Wait for the server's ``init_ack``: the page's socket is live and subscribed.

    (Served without ``pywire dev`` there is no ``window.pywire`` to ask.)
    """
    for _ in range(LIVE_TIMEOUT // 50):
        if "init_ack" in frames.types():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: no init_ack; WebSocket messages: {frames.types()}")


async def _register(page: Any, url: str, email: str) -> None:
    await page.goto(url + "/register", timeout=NAV_TIMEOUT)
    form = page.locator('form[action="/auth/local/register"]')
    await form.locator('input[name="email"]').fill(email)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.locator('input[name="name"]').fill("Ada")
    await page.get_by_role("button", name="Register").click()
    await page.wait_for_url("**/profile", timeout=NAV_TIMEOUT)


async def _lands_on_login(page: Any, what: str) -> None:
    try:
        await page.wait_for_url("**/login_local**", timeout=LIVE_TIMEOUT + 10_000)
    except Exception as exc:
        raise AssertionError(f"{what}: stayed on {page.url}") from exc
    await expect(page.get_by_role("heading", name="Log in"), what).to_be_visible()


async def test_a_live_page_leaves_when_its_session_expires(
    browser: Browser, make_server: Any
) -> None:
    url, _ = await make_server(SessionConfig(ttl=5, refresh_after=1, cache_ttl=0.5))
    context = await browser.new_context()
    try:
        page = await new_page(context)
        frames = Frames(page)
        await _register(page, url, "ada@example.com")
        await wait_live(frames, "profile")
        # No request is made: only the server can notice the expiry.
        await _lands_on_login(page, "after the session expired")
    finally:
        await context.close()


async def test_a_password_change_elsewhere_signs_out_other_browsers_live(
    browser: Browser, make_server: Any
) -> None:
    url, app = await make_server(SessionConfig())
    mine, theirs = await browser.new_context(), await browser.new_context()
    try:
        page = await new_page(mine)
        my_frames = Frames(page)
        await _register(page, url, "ada@example.com")
        other = await new_page(theirs)
        other_frames = Frames(other)
        await other.goto(url + "/login_local", timeout=NAV_TIMEOUT)
        form = other.locator('form[action="/auth/local/login"]')
        await form.locator('input[name="email"]').fill("ada@example.com")
        await form.locator('input[name="password"]').fill(PASSWORD)
        await other.get_by_role("button", name="Log in").click()
        await other.wait_for_url("**/profile", timeout=NAV_TIMEOUT)
        await wait_live(my_frames, "my page")
        await wait_live(other_frames, "the other browser")

        cookies = {c["name"]: c["value"] for c in await mine.cookies()}
        user = await app.state.local_idp.store.get_user_by_link("local", "ada@example.com")
        assert await app.state.auth.change_password(
            user.user_id,
            PASSWORD,
            "a brand new passphrase",
            keep_session=cookies["pywire_auth_session"].split(".")[0],
        )
        await _lands_on_login(other, "the other browser")
        await page.reload(timeout=NAV_TIMEOUT)
        await expect(page.locator("#email")).to_have_text("Email: ada@example.com")
    finally:
        await mine.close()
        await theirs.close()
