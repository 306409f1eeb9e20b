"""``POST /auth/logout`` in an app with only the local IdP: the same as revoke."""

from __future__ import annotations

import pytest

from tests.web.conftest import (
    WebApp,
    assert_cookie_cleared,
    login,
    post_form,
    register,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

LOGOUT = "/auth/logout"


@pytest.mark.parametrize("web_backend", ["memory"], indirect=True)
async def test_logout_ends_every_session_of_a_password_user(web: WebApp) -> None:
    first, second = web.client(), web.client()
    await register(first, "ann@example.com")
    await login(second, "ann@example.com")
    response = await post_form(first, LOGOUT, {"next": "/login_local"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login_local"
    assert_cookie_cleared(response)
    assert await signed_in_as(first) is None
    assert await signed_in_as(second) is None
    # CSRF and method checks, as on the other form routes.
    await login(first, "ann@example.com")
    refused = await post_form(first, LOGOUT, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert (await first.get(LOGOUT)).status_code == 405
    assert await signed_in_as(first) == "ann@example.com"
