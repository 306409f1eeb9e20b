"""``POST /auth/<name>/unlink`` and ``POST /auth/logout``, against the real provider."""

from __future__ import annotations

import httpx
import pytest

from tests.providers.conftest import ALICE, OidcApp, error_of
from tests.web.conftest import HOST_COOKIE, PASSWORD, REGISTER, post_form

pytestmark = pytest.mark.asyncio

CROSS_SITE = {"sec-fetch-site": "cross-site"}


async def _alice_user_id(oidc_app: OidcApp) -> str:
    user = await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001")
    assert user is not None
    return user.user_id


async def test_unlink_of_the_last_way_in_is_refused(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    await browser.sign_in(ALICE)
    response = await browser.app.post("/auth/oidc/unlink", data={"next": "/profile"})
    # No password, no other provider: removing the link would lock the user out.
    assert error_of(response) == "last_sign_in"
    assert await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001") is not None
    assert await browser.signed_in_as() == ALICE


async def test_unlink_with_a_password_removes_the_link(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    await browser.sign_in(ALICE)
    user_id = await _alice_user_id(oidc_app)
    assert await oidc_app.idp.store.set_password_hash(user_id, "$argon2id$fake")
    response = await browser.app.post(
        "/auth/oidc/unlink", data={"next": "/profile", "error_next": "/account"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
    assert await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001") is None
    assert [link.provider for link in await oidc_app.idp.store.get_links(user_id)] == []


async def test_unlink_is_refused_from_another_site_and_by_get(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    await browser.sign_in(ALICE)
    user_id = await _alice_user_id(oidc_app)
    await oidc_app.idp.store.set_password_hash(user_id, "$argon2id$fake")
    # CSRF: a page on another site must not unlink the visitor's provider.
    response = await browser.app.post("/auth/oidc/unlink", headers=CROSS_SITE)
    assert response.status_code == 403
    assert (await browser.app.get("/auth/oidc/unlink")).status_code == 405
    assert await oidc_app.idp.store.get_user_by_link("oidc", "alice-0001") is not None


async def test_unlink_without_a_session_goes_to_the_login_page(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    response = await browser.app.post("/auth/oidc/unlink")
    assert response.status_code == 303
    assert response.headers["location"] == "/login_local"


async def test_logout_ends_every_session_of_a_provider_user(oidc_app: OidcApp) -> None:
    first, second = oidc_app.browser(), oidc_app.browser()
    await first.sign_in(ALICE)
    await second.sign_in(ALICE)
    response = await first.app.post("/auth/logout", data={"next": "/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "Max-Age=0" in response.headers["set-cookie"]
    # Same semantics as /local/revoke: the other browser is signed out too.
    assert await first.signed_in_as() is None
    assert await second.signed_in_as() is None


async def test_logout_is_refused_from_another_site(oidc_app: OidcApp) -> None:
    browser = oidc_app.browser()
    await browser.sign_in(ALICE)
    response = await browser.app.post("/auth/logout", headers=CROSS_SITE)
    assert response.status_code == 403
    assert (await browser.app.get("/auth/logout")).status_code == 405
    assert await browser.signed_in_as() == ALICE


async def test_logout_answers_unavailable_at_error_next(
    oidc_app: OidcApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pywire_auth.exceptions import StoreUnavailableError

    browser = oidc_app.browser()
    await browser.sign_in(ALICE)

    async def down(*_args: object, **_kwargs: object) -> None:
        raise StoreUnavailableError("store down")

    monkeypatch.setattr(oidc_app.idp.store, "delete_user_sessions", down)
    response = await browser.app.post("/auth/logout", data={"error_next": "/account"})
    assert response.headers["location"] == "/account?error=unavailable"
    assert "Max-Age=0" in response.headers["set-cookie"]


async def test_routes_find_the_https_session_cookie(oidc_app: OidcApp) -> None:
    # On https the session cookie is named __Host-...: /link and /unlink must
    # read that name, or a signed-in user is sent to the login page.
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=oidc_app.app, client=("127.0.0.1", 50001)),
        base_url="https://127.0.0.1:8443",
    )
    oidc_app.clients.append(client)
    await post_form(
        client,
        REGISTER,
        {"email": "ann@example.com", "password": PASSWORD},
        headers={"Origin": "https://127.0.0.1:8443"},
    )
    assert HOST_COOKIE in client.cookies
    link = await client.get("/auth/oidc/link", params={"next": "/account"})
    assert link.status_code == 302, link.headers.get("location")
    unlink = await client.post("/auth/oidc/unlink", data={"next": "/account"})
    assert unlink.headers["location"] == "/account"
