"""The happy path the spec describes: register, profile, token, verify, sign out."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import (
    COOKIE,
    SAME_ORIGIN,
    VERIFY,
    WebApp,
    assert_cookie_cleared,
    cookie_attributes,
    location,
    register,
    revoke,
    session_set_cookie,
    signed_in_as,
    token,
)

pytestmark = pytest.mark.asyncio


async def test_spec_flow(web: WebApp, browser: httpx.AsyncClient) -> None:
    response = await register(browser, "Ann@Example.com", name="Ann", next="/profile")
    assert location(response) == "/profile"
    assert response.headers["cache-control"] == "no-store"
    header = session_set_cookie(response)
    assert header is not None
    attrs = cookie_attributes(header)
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert attrs["path"] == "/"
    assert "secure" not in attrs  # plain http: a Secure cookie would never come back

    profile = await browser.get("/profile")
    assert profile.status_code == 200
    assert "Signed in as Ann" in profile.text
    assert "Email: ann@example.com" in profile.text

    issued = await token(browser)
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    user = await web.user("ann@example.com")
    assert user is not None
    assert body["token_type"] == "Bearer"
    assert body["decoded"]["sub"] == user.user_id
    assert body["decoded"]["email"] == "ann@example.com"
    assert body["decoded"]["name"] == "Ann"
    assert body["decoded"]["exp"] - body["decoded"]["iat"] == body["expires_in"]

    verified = await browser.post(VERIFY, json={"token": body["token"]})
    assert verified.status_code == 200
    assert verified.headers["cache-control"] == "no-store"
    assert verified.json()["valid"] is True
    assert verified.json()["decoded"]["sub"] == user.user_id

    signed_out = await revoke(browser, next="/login_local")
    assert location(signed_out) == "/login_local"
    assert_cookie_cleared(signed_out)
    assert COOKIE not in browser.cookies
    assert await signed_in_as(browser) is None


async def test_login_after_register_signs_in_with_any_spelling(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    await register(browser, "bob@example.com", name="Bob")
    other = web.client()
    response = await other.post(
        "/auth/local/login",
        data={"email": "  BOB@EXAMPLE.COM ", "password": "correct horse battery"},
        headers=SAME_ORIGIN,
    )
    assert location(response) == "/"  # no next: default_next
    assert session_set_cookie(response) is not None
    assert await signed_in_as(other) == "bob@example.com"
