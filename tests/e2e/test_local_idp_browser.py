"""Browser end-to-end test of ``examples/local_idp`` (the spec's LocalIdP example).

A real Chromium drives the real ``pywire dev`` server through the spec's pages:
register, profile, sign-out ("revoke"), the login form and its error messages, a
server restart on the same database, and the live sign-out of other tabs and
other browsers over PyWire's WebSocket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgpack
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

if TYPE_CHECKING:
    from .conftest import DevServer

pytestmark = pytest.mark.asyncio

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
NAME = "Ada Lovelace"

NAV_TIMEOUT = 15_000  # ms: one page load, form round trip or live push
LIVE_TIMEOUT = 15_000  # ms: the WebSocket connecting, or a pushed navigate arriving

# PyWire's dev bundle puts its client on ``window.pywire``; ``isConnected`` turns
# true when the socket opens and ``sessionId`` is set by the server's ``init_ack``,
# which is sent after the page was set up and subscribed to the auth channel.
_LIVE_JS = "() => !!(window.pywire && window.pywire.isConnected && window.pywire.sessionId)"


def path_of(page: Page) -> str:
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Frames:
    """WebSocket messages a page received, decoded, for assertions and diagnostics."""

    def __init__(self, page: Page) -> None:
        self.messages: list[Any] = []
        page.on("websocket", self._on_socket)

    def _on_socket(self, ws: Any) -> None:
        ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: bytes | str) -> None:
        try:
            raw = payload.encode() if isinstance(payload, str) else payload
            self.messages.append(msgpack.unpackb(raw))
        except Exception:
            self.messages.append(payload)

    def types(self) -> list[str]:
        return [m.get("type", "?") if isinstance(m, dict) else "?" for m in self.messages]

    def navigates(self) -> list[Any]:
        return [m for m in self.messages if isinstance(m, dict) and m.get("type") == "navigate"]


async def wait_live(page: Page, what: str) -> None:
    """Wait until the page's PyWire WebSocket is connected and initialised."""
    try:
        await page.wait_for_function(_LIVE_JS, timeout=LIVE_TIMEOUT)
    except Exception as exc:
        raise AssertionError(
            f"{what}: PyWire's WebSocket never became live on {page.url}: {exc}"
        ) from exc


async def submit(page: Page, button: str, url_glob: str, what: str) -> None:
    """Click a form's submit button and wait for the browser to land on ``url_glob``."""
    await page.get_by_role("button", name=button).click()
    try:
        await page.wait_for_url(url_glob, timeout=NAV_TIMEOUT)
    except Exception as exc:
        body = await page.locator("body").inner_text()
        raise AssertionError(
            f"{what}: expected to land on {url_glob}, still on {page.url}\npage text: {body!r}"
        ) from exc


async def fill_register(
    page: Page, server: DevServer, email: str, password: str, name: str
) -> None:
    await page.goto(server.url("/register"), timeout=NAV_TIMEOUT)
    form = page.locator('form[action="/auth/local/register"]')
    await form.locator('input[name="email"]').fill(email)
    await form.locator('input[name="password"]').fill(password)
    await form.locator('input[name="name"]').fill(name)


async def fill_login(page: Page, server: DevServer, email: str, password: str) -> None:
    await page.goto(server.url("/login_local"), timeout=NAV_TIMEOUT)
    form = page.locator('form[action="/auth/local/login"]')
    await form.locator('input[name="email"]').fill(email)
    await form.locator('input[name="password"]').fill(password)


async def sign_in(page: Page, server: DevServer, what: str) -> None:
    await fill_login(page, server, EMAIL, PASSWORD)
    await submit(page, "Log in", "**/profile", what)
    await expect_profile(page, what)


async def expect_profile(page: Page, what: str) -> None:
    assert path_of(page) == "/profile", f"{what}: on {page.url}, not /profile"
    await expect(page.locator("#name"), what).to_have_text(f"Signed in as {NAME}")
    await expect(page.locator("#email"), what).to_have_text(f"Email: {EMAIL}")


async def expect_refused(page: Page, what: str) -> None:
    """``/profile`` in this tab ends on the login page, showing no account data."""
    await page.goto(server_url_of(page, "/profile"), timeout=NAV_TIMEOUT)
    await expect_login_page(page, f"{what} (after opening /profile)")


async def expect_login_page(page: Page, what: str) -> None:
    assert urlsplit(page.url).path == "/login_local", f"{what}: on {page.url}, not /login_local"
    await expect(page.get_by_role("heading", name="Log in"), what).to_be_visible()
    await expect(page.locator("#name"), what).to_have_count(0)


def server_url_of(page: Page, path: str) -> str:
    parts = urlsplit(page.url)
    return f"{parts.scheme}://{parts.netloc}{path}"


async def new_page(context: BrowserContext) -> Page:
    page = await context.new_page()
    page.set_default_timeout(NAV_TIMEOUT)
    return page


async def with_context(browser: Browser, body: Callable[[BrowserContext], Awaitable[None]]) -> None:
    context = await browser.new_context()
    try:
        await body(context)
    finally:
        await context.close()


async def test_register_sign_out_sign_in_and_restart(
    browser: Browser, dev_server: DevServer
) -> None:
    context = await browser.new_context()
    try:
        page = await new_page(context)

        # Register with the spec's form: lands signed in on the profile.
        await fill_register(page, dev_server, EMAIL, PASSWORD, NAME)
        await submit(page, "Register", "**/profile", "register")
        await expect_profile(page, "after registering")
        await page.goto(dev_server.url("/"), timeout=NAV_TIMEOUT)
        await expect(page.locator("#who"), "home page").to_contain_text(f"Hello, {NAME}.")
        await page.goto(dev_server.url("/profile"), timeout=NAV_TIMEOUT)

        # The profile page's revoke form signs out; /profile is then refused.
        await submit(page, "Sign out everywhere", "**/login_local", "sign out")
        await expect_login_page(page, "after signing out")
        await expect_refused(page, "signed out")
        await page.goto(dev_server.url("/"), timeout=NAV_TIMEOUT)
        await expect(page.locator("#who"), "home page").to_contain_text("You are not signed in.")

        # Registering the same email again shows the spec's message.
        await fill_register(page, dev_server, EMAIL, "another long password", "Impostor")
        await submit(page, "Register", "**/register?error=exists", "duplicate registration")
        await expect(page.get_by_text("That email is already registered.")).to_be_visible()
        await expect_refused(page, "after the duplicate registration")

        # A wrong password shows the spec's message and signs nobody in.
        await fill_login(page, dev_server, EMAIL, "wrong password, clearly")
        await submit(page, "Log in", "**/login_local?error=invalid", "wrong password")
        await expect(page.get_by_text("Invalid email or password.")).to_be_visible()
        await expect_refused(page, "after a wrong password")

        # The right password signs in.
        await sign_in(page, dev_server, "sign in")

        # A new server process on the same .env and database file.
        dev_server.restart()
        # Cookies ignore the port, so this browser's session is still offered;
        # sessions live in the IdP's store and survive the restart.
        await page.goto(dev_server.url("/profile"), timeout=NAV_TIMEOUT)
        await expect_profile(page, "same browser after the restart")

        # The account survives too: a fresh browser signs in with its password.
        async def fresh_browser(other: BrowserContext) -> None:
            other_page = await new_page(other)
            await fill_login(other_page, dev_server, EMAIL, "wrong password, clearly")
            await submit(other_page, "Log in", "**/login_local?error=invalid", "wrong pw")
            await expect(other_page.get_by_text("Invalid email or password.")).to_be_visible()
            await sign_in(other_page, dev_server, "sign in after the restart")

        await with_context(browser, fresh_browser)

        # And the first browser can sign out and back in on the new process.
        await submit(page, "Sign out everywhere", "**/login_local", "sign out after restart")
        await expect_refused(page, "signed out after the restart")
        await sign_in(page, dev_server, "sign in again after the restart")
    finally:
        await context.close()


async def test_revoke_signs_out_other_tabs_and_browsers_live(
    browser: Browser, dev_server: DevServer
) -> None:
    context = await browser.new_context()
    other = await browser.new_context()
    try:
        # Tab 1 registers; tab 2 (same cookies) opens the profile too.
        tab1 = await new_page(context)
        await fill_register(tab1, dev_server, EMAIL, PASSWORD, NAME)
        await submit(tab1, "Register", "**/profile", "register in tab 1")
        tab2 = await new_page(context)
        tab2_frames = Frames(tab2)
        await tab2.goto(dev_server.url("/profile"), timeout=NAV_TIMEOUT)
        await expect_profile(tab2, "tab 2")

        # Another browser (its own cookies) signed in as the same user.
        elsewhere = await new_page(other)
        elsewhere_frames = Frames(elsewhere)
        await sign_in(elsewhere, dev_server, "sign in in the other browser")

        for page, what in ((tab1, "tab 1"), (tab2, "tab 2"), (elsewhere, "other browser")):
            await expect_profile(page, what)
            await wait_live(page, what)

        # Tab 1 signs out everywhere.
        await submit(tab1, "Sign out everywhere", "**/login_local", "sign out in tab 1")
        await expect_login_page(tab1, "tab 1 after signing out")

        # Without any action, the other live pages leave the protected page.
        for page, frames, what in (
            (tab2, tab2_frames, "tab 2"),
            (elsewhere, elsewhere_frames, "other browser"),
        ):
            try:
                await page.wait_for_url("**/login_local**", timeout=LIVE_TIMEOUT)
            except Exception as exc:
                raise AssertionError(
                    f"{what} stayed on {page.url} after the revoke; WebSocket messages "
                    f"received: {frames.types()}"
                ) from exc
            assert frames.navigates(), f"{what}: left /profile without a pushed navigate"
            await expect_login_page(page, f"{what} after the live sign-out")

        # The sessions are dead on the server, not just in the open pages.
        await tab2.reload(timeout=NAV_TIMEOUT)
        await expect_login_page(tab2, "tab 2 after reloading")
        await expect_refused(tab2, "tab 2")
        await expect_refused(elsewhere, "other browser")

        # The account itself is fine: the other browser can sign in again.
        await sign_in(elsewhere, dev_server, "sign in again in the other browser")
    finally:
        await other.close()
        await context.close()
