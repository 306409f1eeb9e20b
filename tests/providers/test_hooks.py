"""``connect_auth(on_login=)`` also runs after a sign-in with an OpenID Connect provider."""

from __future__ import annotations

import pytest
from pywire.auth import ClaimsPrincipal
from starlette.requests import Request

from tests.providers.conftest import ALICE, AppFactory, make_provider

pytestmark = pytest.mark.asyncio


async def test_on_login_runs_after_a_provider_sign_in(
    issuer: str, oidc_app_factory: AppFactory
) -> None:
    seen: list[tuple[ClaimsPrincipal, str]] = []

    async def on_login(principal: ClaimsPrincipal, request: Request) -> None:
        seen.append((principal, request.url.path))

    web = await oidc_app_factory(make_provider(issuer), on_login=on_login)
    browser = web.browser()
    response = await browser.sign_in(ALICE)
    assert response.status_code == 303
    user = await web.idp.store.get_user_by_link("oidc", "alice-0001")
    assert user is not None
    assert len(seen) == 1
    principal, path = seen[0]
    assert principal.user_id.endswith(user.user_id)
    assert principal.raw["email"] == ALICE
    assert path == "/auth/oidc/callback"
