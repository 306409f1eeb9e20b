"""Capture the example app's pages as PNGs into docs/screenshots/.

Boots ``examples/local_idp`` under the real ``pywire dev`` from a temporary copy
with a fresh ``.env`` (as tests/e2e/conftest.py does), registers a user through
the register form with Debian's Chromium driven by Playwright, and saves one
800x600 PNG per page. Then it boots a second copy with the admin pages mounted
(``admin=AdminOptions(...)``, the e2e test's one change to ``main.py``), makes an
operator and a few accounts, and captures the accounts list and an account page.
Run from the repository root with the project's venv::

    PYTHONPATH=$PWD/src .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

``$PYWIRE_AUTH_CHROMIUM`` overrides ``/usr/bin/chromium``; Playwright never
downloads a browser of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from playwright.async_api import Browser, Page

ROOT = Path(__file__).resolve().parents[1]
# The server and browser helpers live with the tests: run from anywhere.
sys.path.insert(0, str(ROOT))

from tests._chromium import chromium_executable, chromium_missing, launch_chromium  # noqa: E402
from tests._servers import EXAMPLE, PywireServer, ServerError, copy_example  # noqa: E402

DEFAULT_OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 800, "height": 600}
NAV_TIMEOUT_MS = 15_000

EMAIL = "ann@example.com"
NAME = "Ann Example"
PASSWORD = "a long and quiet passphrase"  # noqa: S105 - a throwaway user in a temp database

#: (file name, path, signed in?) in the order they are captured.
SHOTS = (
    ("register", "/register", False),
    ("login_local", "/login_local?error=invalid", False),
    ("forgot_password", "/forgot_password?sent=1", False),
    ("reset_password", "/reset_password?token=example&error=token_expired", False),
    ("verify_email", "/verify_email?token=example", False),
    ("profile", "/profile", True),
    ("account", "/account?error=wrong_password", True),
)


#: (file name, path) of the admin pages, captured by the operator.
ADMIN_SHOTS = (
    ("admin_accounts", "/auth/admin"),
    ("admin_search", "/auth/admin?q=an"),
    ("admin_account", None),  # Ann's account page, found through the list
)
ADMIN_EMAIL = "root@example.com"
ADMIN_ACCOUNTS = (
    ("ann@example.com", "Ann Example"),
    ("anders@example.org", "Anders Berg"),
    ("bob@example.com", "Bob <b>Builder</b>"),
)


@contextlib.contextmanager
def dev_server(app_dir: Path) -> Iterator[str]:
    """``pywire dev`` on a free loopback port; yields its base URL, stops it after."""
    server = PywireServer(app_dir, "dev", options=["--no-tui"], log_path=app_dir / "server.log")
    try:
        server.start()
    except ServerError as exc:
        sys.exit(str(exc))
    try:
        yield server.base_url
    finally:
        server.stop()


async def _register(page: Page, base: str) -> None:
    await _sign_up(page, base, EMAIL, NAME)
    if not page.url.endswith("/profile"):
        sys.exit(f"registration did not land on /profile but on {page.url}")


async def _capture(browser: Browser, base: str, out: Path) -> list[Path]:
    anonymous = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    signed_in = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    written: list[Path] = []
    try:
        user_page = await signed_in.new_page()
        user_page.set_default_timeout(NAV_TIMEOUT_MS)
        await _register(user_page, base)
        guest_page = await anonymous.new_page()
        guest_page.set_default_timeout(NAV_TIMEOUT_MS)
        for name, path, needs_user in SHOTS:
            page = user_page if needs_user else guest_page
            await page.goto(base + path, wait_until="networkidle")
            target = out / f"{name}.png"
            await page.screenshot(path=str(target))
            written.append(target)
    finally:
        await anonymous.close()
        await signed_in.close()
    return written


def _with_admin(main_py: str) -> str:
    # The same one-line change tests/e2e/test_admin_browser.py makes.
    return main_py.replace(
        "connect_auth(app, local_idp=idp)",
        'connect_auth(app, local_idp=idp, admin=AdminOptions(path="/auth/admin", policy="admin"))',
    ).replace("from pywire_auth import ", "from pywire_auth import AdminOptions, ")


async def _sign_up(page: Page, base: str, email: str, name: str) -> None:
    await page.goto(base + "/register")
    form = page.locator('form[action="/auth/local/register"]')
    await form.locator('input[name="email"]').fill(email)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.locator('input[name="name"]').fill(name)
    async with page.expect_navigation():
        await form.locator('button[type="submit"]').click()


async def _make_admin(app_dir: Path) -> None:
    from pywire_auth import LOCAL_PROVIDER
    from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{app_dir / 'local-auth.db'}")
    try:
        user = await store.get_user_by_link(LOCAL_PROVIDER, ADMIN_EMAIL)
        if user is None:
            sys.exit("the operator's registration did not reach the database")
        await store.update_user(user.user_id, claims={"role": "admin"})
        ann = await store.get_user_by_link(LOCAL_PROVIDER, ADMIN_ACCOUNTS[0][0])
        if ann is not None:
            await store.update_user(ann.user_id, claims={"role": ["editor", "billing"]})
    finally:
        await store.close()


async def _capture_admin(browser: Browser, base: str, app_dir: Path, out: Path) -> list[Path]:
    written: list[Path] = []
    for email, name in ADMIN_ACCOUNTS:
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            await _sign_up(await context.new_page(), base, email, name)
        finally:
            await context.close()
    operator = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        page = await operator.new_page()
        page.set_default_timeout(NAV_TIMEOUT_MS)
        await _sign_up(page, base, ADMIN_EMAIL, "Root Operator")
        await _make_admin(app_dir)
        # A new sign-in: the claim is read when the session is looked up.
        await page.goto(base + "/login_local")
        form = page.locator('form[action="/auth/local/login"]')
        await form.locator('input[name="email"]').fill(ADMIN_EMAIL)
        await form.locator('input[name="password"]').fill(PASSWORD)
        async with page.expect_navigation():
            await form.locator('button[type="submit"]').click()
        for name, path in ADMIN_SHOTS:
            if path is None:
                await page.goto(base + "/auth/admin")
                async with page.expect_navigation():
                    await page.get_by_role("link", name=ADMIN_ACCOUNTS[0][0]).click()
            else:
                await page.goto(base + path, wait_until="networkidle")
            target = out / f"{name}.png"
            await page.screenshot(path=str(target), full_page=path is None)
            written.append(target)
    finally:
        await operator.close()
    return written


async def _shoot(chromium: str, base: str, out: Path) -> list[Path]:
    async with launch_chromium(chromium) as browser:
        return await _capture(browser, base, out)


async def _shoot_admin(chromium: str, base: str, app_dir: Path, out: Path) -> list[Path]:
    async with launch_chromium(chromium) as browser:
        return await _capture_admin(browser, base, app_dir, out)


def main(out: Path) -> None:
    """Boot the example, capture every page of :data:`SHOTS` into ``out``."""
    chromium = chromium_executable()
    missing = chromium_missing(chromium)
    if missing is not None:
        sys.exit(missing)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pywire-shots-") as tmp:
        app_dir = Path(tmp) / "local_idp"
        app_dir.mkdir()
        copy_example(app_dir)
        with dev_server(app_dir) as base:
            written = asyncio.run(_shoot(chromium, base, out))
        admin_dir = Path(tmp) / "local_idp_admin"
        admin_dir.mkdir()
        copy_example(admin_dir, main_py=_with_admin((EXAMPLE / "main.py").read_text()))
        with dev_server(admin_dir) as base:
            written += asyncio.run(_shoot_admin(chromium, base, admin_dir, out))
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs")
    main(parser.parse_args().out.resolve())
