"""Browser end-to-end: forgot password -> real mail -> link -> new password -> signed in.

The example app runs unchanged under the real ``pywire dev`` with only
``PYWIRE_AUTH_SMTP_URL`` and ``PYWIRE_AUTH_MAIL_FROM`` added to its ``.env``; mail
goes to a real SMTP server (aiosmtpd) on loopback. Another browser signed in as
the same user leaves its live page the moment the password is reset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import DevServer, copy_example, serve
from tests.e2e.test_local_idp_browser import (
    EMAIL,
    LIVE_TIMEOUT,
    NAME,
    NAV_TIMEOUT,
    PASSWORD,
    expect_login_page,
    expect_profile,
    fill_register,
    new_page,
    path_of,
    sign_in,
    submit,
    wait_live,
)
from tests.web._smtp import SMTPServer, link_in

pytestmark = pytest.mark.asyncio

NEW_PASSWORD = "a completely new passphrase"
MAIL_TIMEOUT = 15.0


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_server_app(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: SMTPServer
) -> Iterator[DevServer]:
    """The example app with mail set up through ``.env`` only (main.py untouched)."""
    app_dir = tmp_path / "local_idp"
    app_dir.mkdir()
    copy_example(
        app_dir,
        f"PYWIRE_AUTH_SMTP_URL={smtp.url}\nPYWIRE_AUTH_MAIL_FROM=Example <no-reply@example.com>\n",
    )
    yield from serve(request, app_dir)


async def wait_for_mail(smtp: SMTPServer, subject_start: str) -> EmailMessage:
    """The first message whose subject starts so (sent after the response: poll)."""
    deadline = asyncio.get_running_loop().time() + MAIL_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        for message in smtp.messages:
            if str(message["Subject"]).startswith(subject_start):
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail {subject_start!r}; got {[m['Subject'] for m in smtp.messages]}")


async def test_forgot_password_by_mail_signs_in_and_signs_out_the_other_browser_live(
    browser: Browser, mail_server_app: DevServer, smtp: SMTPServer
) -> None:
    server = mail_server_app
    first, second, third = [await browser.new_context() for _ in range(3)]
    try:
        registered = await new_page(first)
        await fill_register(registered, server, EMAIL, PASSWORD, NAME)
        await submit(registered, "Register", "**/profile", "register")
        # Signing up mailed a verification link already.
        await wait_for_mail(smtp, "Confirm your email address")

        elsewhere = await new_page(second)
        await sign_in(elsewhere, server, "sign in in the other browser")
        await wait_live(elsewhere, "other browser")

        forgetful = await new_page(third)
        await forgetful.goto(server.url("/forgot_password"), timeout=NAV_TIMEOUT)
        await forgetful.locator('input[name="email"]').fill(EMAIL)
        await submit(forgetful, "Send me a link", "**/forgot_password?sent=1", "forgot")
        await expect(forgetful.locator("#sent")).to_be_visible()

        message = await wait_for_mail(smtp, "Reset your")
        link = link_in(message)
        # No base URL is configured: under `pywire dev` the loopback host is used.
        assert link.startswith(server.url("/reset_password?token="))
        response = await forgetful.goto(link, timeout=NAV_TIMEOUT)
        assert response is not None
        assert response.headers["referrer-policy"] == "no-referrer"
        await forgetful.locator('input[name="password"]').fill(NEW_PASSWORD)
        await submit(forgetful, "Set password and sign in", "**/profile", "reset")
        await expect_profile(forgetful, "after the reset")

        await wait_signed_out_live(elsewhere, "other browser")
        await registered.goto(server.url("/profile"), timeout=NAV_TIMEOUT)
        await expect_login_page(registered, "the first browser's old session")

        # The link worked once.
        await forgetful.goto(link, timeout=NAV_TIMEOUT)
        await forgetful.locator('input[name="password"]').fill("yet another passphrase")
        await submit(forgetful, "Set password and sign in", "**error=token_invalid*", "reuse")
    finally:
        for context in (first, second, third):
            await context.close()


async def wait_signed_out_live(page: Page, what: str) -> None:
    try:
        await page.wait_for_url("**/login_local**", timeout=LIVE_TIMEOUT)
    except Exception as exc:
        raise AssertionError(f"{what} stayed on {path_of(page)} after the reset") from exc
    await expect_login_page(page, f"{what} after the live sign-out")
