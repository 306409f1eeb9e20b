"""Browser end-to-end: the admin pages in Chromium, on the example app under ``pywire dev``.

The example's ``main.py`` gets one change, ``admin=AdminOptions(...)`` in its
``connect_auth`` call. An operator grants ``role=admin`` straight in the app's
SQLite database (as a script would), signs in, finds an account by searching,
grants it a claim, signs it out everywhere (its open live page leaves at once)
and deletes it: plain forms, no JavaScript of ours. A signed-in non-admin gets
403 and an anonymous visitor the sign-in page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from pywire_auth import LOCAL_PROVIDER
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from tests.e2e.conftest import DevServer, _copy_example, serve
from tests.e2e.test_account_browser import wait_signed_out_live
from tests.e2e.test_local_idp_browser import (
    NAV_TIMEOUT,
    PASSWORD,
    fill_login,
    fill_register,
    new_page,
    path_of,
    submit,
    wait_live,
)

pytestmark = pytest.mark.asyncio

ROOT_EMAIL = "root@example.com"
ANN_EMAIL = "ann@example.com"
ADMIN = "/auth/admin"


def with_admin(main_py: str) -> str:
    """The example's main.py with the admin pages mounted (the only change)."""
    call = "connect_auth(app, local_idp=idp)"
    assert call in main_py
    return main_py.replace(
        call,
        'connect_auth(app, local_idp=idp, admin=AdminOptions(path="/auth/admin", policy="admin"))',
    ).replace("from pywire_auth import ", "from pywire_auth import AdminOptions, ")


@pytest.fixture
def admin_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DevServer]:
    """The example app with the admin pages mounted, under ``pywire dev``."""
    app_dir = tmp_path / "local_idp"
    app_dir.mkdir()
    _copy_example(app_dir)
    main = app_dir / "main.py"
    main.write_text(with_admin(main.read_text()))
    yield from serve(request, app_dir)


async def make_admin(app_dir: Path, email: str) -> None:
    """What an operator's script does: set the claim in the app's database."""
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{app_dir / 'local-auth.db'}")
    try:
        user = await store.get_user_by_link(LOCAL_PROVIDER, email)
        assert user is not None
        await store.update_user(user.user_id, claims={"role": "admin"})
    finally:
        await store.close()


async def register(page: Page, server: DevServer, email: str, name: str) -> None:
    await fill_register(page, server, email, PASSWORD, name)
    await submit(page, "Register", "**/profile", f"register {email}")


async def test_an_operator_manages_an_account_in_the_admin_pages(
    browser: Browser, admin_app: DevServer
) -> None:
    server = admin_app
    operator, user, guest = [await browser.new_context() for _ in range(3)]
    try:
        root = await new_page(operator)
        await register(root, server, ROOT_EMAIL, "Root Operator")
        # Not an admin yet: signed in, refused.
        response = await root.goto(server.url(ADMIN), timeout=NAV_TIMEOUT)
        assert response is not None
        assert response.status == 403
        assert response.headers["x-frame-options"] == "DENY"
        await expect(root.get_by_role("heading", name="Not allowed")).to_be_visible()

        ann = await new_page(user)
        await register(ann, server, ANN_EMAIL, "Ann <b>Example</b>")
        await wait_live(ann, "ann's profile")

        anonymous = await new_page(guest)
        await anonymous.goto(server.url(ADMIN), timeout=NAV_TIMEOUT)
        assert path_of(anonymous) == "/login_local?next=%2Fauth%2Fadmin"

        await make_admin(server.app_dir, ROOT_EMAIL)
        await fill_login(root, server, ROOT_EMAIL, PASSWORD)
        await submit(root, "Log in", "**/profile", "operator signs in again")

        response = await root.goto(server.url(ADMIN), timeout=NAV_TIMEOUT)
        assert response is not None
        assert response.status == 200
        assert response.headers["cache-control"] == "no-store"
        rows = root.locator("tbody tr")
        await expect(rows).to_have_count(2)
        # The hostile-looking name is shown as text, not markup.
        await expect(rows.nth(0)).to_contain_text("Ann <b>Example</b>")

        await root.get_by_label("Email starts with").fill("an")
        await root.get_by_role("button", name="Search").click()
        await root.wait_for_url("**/auth/admin?q=an", timeout=NAV_TIMEOUT)
        await expect(rows).to_have_count(1)
        await root.get_by_role("link", name=ANN_EMAIL).click()
        await root.wait_for_url("**/auth/admin/users/**", timeout=NAV_TIMEOUT)
        await expect(root.get_by_role("heading", name=ANN_EMAIL)).to_be_visible()
        await expect(root.locator("td", has_text="active")).to_have_count(1)

        await root.get_by_label("Claim").fill("team")
        await root.get_by_label("Value").fill("red")
        await submit(root, "Grant", "**?done=granted", "grant")
        await expect(root.get_by_role("status")).to_have_text("Claim granted.")
        await expect(root.locator("td", has_text="red")).to_be_visible()

        await submit(root, "Sign out everywhere", "**?done=sessions_revoked", "revoke")
        await wait_signed_out_live(ann, "ann's live profile page")
        await expect(root.get_by_text("No sessions.")).to_be_visible()

        await root.get_by_label("Delete this account, its links and sessions").check()
        await submit(root, "Delete account", "**/auth/admin?done=deleted", "delete")
        await expect(root.get_by_role("status")).to_have_text("The account was deleted.")
        await expect(rows).to_have_count(1)
        await expect(rows.nth(0)).to_contain_text(ROOT_EMAIL)
    finally:
        for context in (operator, user, guest):
            await context.close()
