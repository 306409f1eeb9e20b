"""A signed-in user adds a provider to their account: GET {prefix}/{name}/link."""

from __future__ import annotations

import pytest

from pywire_auth import LOCAL_PROVIDER, normalize_email
from tests.providers.conftest import ALICE, APP_ORIGIN, CAROL, Browser, OidcApp, error_of
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.asyncio


async def password_sign_in(web: OidcApp, email: str) -> Browser:
    await web.idp.create_user(email=email, password=PASSWORD)
    browser = web.browser()
    response = await browser.app.post(
        "/auth/local/login",
        data={"email": email, "password": PASSWORD},
        headers={"Origin": APP_ORIGIN},
    )
    assert response.headers["location"] == "/", response.headers["location"]
    return browser


async def link(browser: Browser, email: str) -> str:
    """Start a link, sign in at the provider; return the callback URL (not opened)."""
    response = await browser.app.get("/auth/oidc/link", params={"next": "/profile"})
    assert response.status_code == 302, (response.status_code, response.text)
    return await browser.at_provider(response.headers["location"], email)


async def test_link_then_sign_in_with_the_provider(oidc_app: OidcApp) -> None:
    # The way forward after link_required: sign in with the password, then link.
    owner = await password_sign_in(oidc_app, ALICE)
    url = await link(owner, ALICE)
    response = await owner.callback(url)
    assert response.headers["location"] == "/profile"
    local = await oidc_app.idp.store.get_user_by_link(LOCAL_PROVIDER, normalize_email(ALICE))
    linked = await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001")
    assert local is not None
    assert linked is not None
    assert linked.user_id == local.user_id
    later = oidc_app.browser()
    assert (await later.sign_in(ALICE)).headers["location"] == "/profile"
    assert await later.signed_in_as() == ALICE


async def test_link_needs_a_session(oidc_app: OidcApp) -> None:
    response = await oidc_app.browser().app.get("/auth/oidc/link")
    assert response.status_code == 303
    assert response.headers["location"] == "/login_local"


async def test_link_started_by_another_site_is_refused(oidc_app: OidcApp) -> None:
    owner = await password_sign_in(oidc_app, ALICE)
    response = await owner.app.get("/auth/oidc/link", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


async def test_an_identity_linked_elsewhere_is_not_moved(oidc_app: OidcApp) -> None:
    first = oidc_app.browser()
    await first.sign_in(CAROL)  # carol's provider account now owns a user
    before = await oidc_app.idp.store.get_user_by_link("oidc", "carol-0003")
    other = await password_sign_in(oidc_app, "mallory@example.com")
    url = await link(other, CAROL)
    assert error_of(await other.callback(url)) == "exists"
    after = await oidc_app.idp.store.get_user_by_link("oidc", "carol-0003")
    assert before is not None
    assert after is not None
    assert after.user_id == before.user_id


async def test_link_after_sign_out_is_refused(oidc_app: OidcApp) -> None:
    owner = await password_sign_in(oidc_app, ALICE)
    url = await link(owner, ALICE)
    await owner.app.post("/auth/local/revoke", headers={"Origin": APP_ORIGIN})
    assert error_of(await owner.callback(url)) == "provider"
    assert await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001") is None
