"""Browser end-to-end test of external sign-in in ``examples/local_idp``.

A real Chromium clicks the example's "Sign in with ..." button (the provider is
configured in the app's ``.env`` only: ``main.py`` is the specification's,
verbatim), goes through the real oidc-provider's login and consent pages to
the profile, signs out, and signs in again.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import DevServer, copy_example, serve
from tests.e2e.test_local_idp_browser import NAV_TIMEOUT, expect_login_page, path_of
from tests.providers.conftest import ALICE, CLIENT_ID, CLIENT_SECRET, ISSUER_ENV, PASSWORD, _need

pytestmark = pytest.mark.asyncio

LABEL = "Sign in with Test IdP"


def serve_example(
    request: pytest.FixtureRequest, tmp_path: Path, extra_env: str = ""
) -> Generator[DevServer]:
    """The example app, with the test provider configured in its ``.env``."""
    issuer = _need(ISSUER_ENV)
    app_dir = tmp_path / "local_idp"
    app_dir.mkdir()
    # The test provider lets a loopback client come back to /auth/oidc/callback
    # on any port, so the provider's name here is "oidc".
    copy_example(
        app_dir,
        f"PYWIRE_AUTH_OIDC_OIDC_ISSUER={issuer}\n"
        f"PYWIRE_AUTH_OIDC_OIDC_CLIENT_ID={CLIENT_ID}\n"
        f"PYWIRE_AUTH_OIDC_OIDC_CLIENT_SECRET={CLIENT_SECRET}\n"
        "PYWIRE_AUTH_OIDC_OIDC_DISPLAY_NAME=Test IdP\n" + extra_env,
    )
    yield from serve(request, app_dir)


@pytest.fixture
def provider_server(request: pytest.FixtureRequest, tmp_path: Path) -> Generator[DevServer]:
    """The example app, with the test provider in its ``.env``."""
    yield from serve_example(request, tmp_path)


async def through_the_provider(page: Page, base_url: str, what: str) -> None:
    """From the example's home page, click the button and answer the provider's pages."""
    await page.goto(base_url + "/", timeout=NAV_TIMEOUT)
    async with page.expect_navigation(timeout=NAV_TIMEOUT):
        await page.get_by_role("link", name=LABEL).click()
    provider = urlsplit(os.environ[ISSUER_ENV]).netloc
    # The login page (skipped while the provider remembers the user), then consent.
    for _ in range(3):
        if urlsplit(page.url).netloc != provider:
            break
        button = "Allow"
        if await page.locator('input[name="login"]').count():
            await page.locator('input[name="login"]').fill(ALICE)
            await page.locator('input[name="password"]').fill(PASSWORD)
            button = "Sign in"
        async with page.expect_navigation(timeout=NAV_TIMEOUT):
            await page.get_by_role("button", name=button).click()
    await page.wait_for_url("**/profile", timeout=NAV_TIMEOUT)
    assert path_of(page) == "/profile", f"{what}: on {page.url}"
    await expect(page.locator("#email"), what).to_have_text(f"Email: {ALICE}")
    await expect(page.locator("#name"), what).to_have_text("Signed in as Alice Liddell")


async def test_sign_in_with_provider_sign_out_and_again(
    browser: Browser, provider_server: DevServer
) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        page.set_default_timeout(NAV_TIMEOUT)
        await through_the_provider(page, provider_server.base_url, "first sign-in")
        await page.get_by_role("button", name="Sign out everywhere").click()
        await page.wait_for_url("**/login_local", timeout=NAV_TIMEOUT)
        # A fresh tab of the same browser: the signed-out tab may still get the
        # live sign-out's pushed navigation, which would interrupt a goto.
        again = await context.new_page()
        again.set_default_timeout(NAV_TIMEOUT)
        await again.goto(provider_server.url("/profile"), timeout=NAV_TIMEOUT)
        await expect_login_page(again, "after signing out")
        # The home page offers the button again; the same link finds the same user.
        await through_the_provider(again, provider_server.base_url, "second sign-in")
    finally:
        await context.close()
