"""AuthActions called as pywire-auth's documentation calls them from a page.

``grant(self.user, self.request, "role", "admin")`` and friends: a page's
``self.user`` is the principal the middleware put in the scope and ``self.request``
the request, which is what the test route below hands over.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pywire.auth import ANONYMOUS, Claim
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pywire_auth import LocalIdP, MemoryAuthStore, UserNotFoundError
from tests.web.conftest import IDP_SECRET, SAME_ORIGIN, WebApp, login, register, signed_in_as

pytestmark = pytest.mark.asyncio
#: The call shapes sit above the store: one backend is enough.
MEMORY = pytest.mark.parametrize("web_backend", ["memory"])

ANN = "ann@example.com"


def add_action_route(web: WebApp) -> None:
    """``POST /_test/act/<name>``: runs one documented call for the signed-in user."""
    auth = web.app.state.auth

    async def act(request: Request) -> JSONResponse:
        user = request.scope["user"]
        name = request.path_params["name"]
        calls: dict[str, Any] = {
            "grant": lambda: auth.grant(user, request, "role", "admin"),
            "grant-editor": lambda: auth.grant(user, request, "role", "editor"),
            "revoke_claim": lambda: auth.revoke_claim(user, request, "role"),
            "update_claims": lambda: auth.update_claims(
                user, request, [Claim(type="role", value="admin"), Claim("tier", "beta")]
            ),
            "update_same": lambda: auth.update_claims(user, request, list(user.claims)),
            "revoke_session": lambda: auth.revoke_session(user, request),
        }
        result = await calls[name]()
        raw = getattr(result, "raw", None)
        return JSONResponse({"raw": raw})

    web.app.app.router.routes.insert(0, Route("/_test/act/{name}", act, methods=["POST"]))


async def act(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.post(f"/_test/act/{name}", headers=SAME_ORIGIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_claims(web: WebApp) -> dict[str, Any]:
    user = await web.user(ANN)
    assert user is not None
    return dict(user.claims)


@MEMORY
async def test_grant_and_revoke_claim_with_principal_and_request(web: WebApp) -> None:
    add_action_route(web)
    browser = web.client()
    await register(browser, ANN)
    assert (await act(browser, "grant"))["raw"]["role"] == "admin"
    await act(browser, "grant-editor")
    assert (await stored_claims(web))["role"] == ["admin", "editor"]
    await act(browser, "revoke_claim")
    assert "role" not in await stored_claims(web)


@MEMORY
async def test_update_claims_with_a_claim_list_replaces_them(web: WebApp) -> None:
    add_action_route(web)
    browser = web.client()
    await register(browser, ANN)
    user = await web.user(ANN)
    assert user is not None
    await web.app.state.auth.update_claims(user.user_id, {"plan": "pro", "verified": True})
    await act(browser, "update_claims")
    assert await stored_claims(web) == {"role": "admin", "tier": "beta"}


@MEMORY
async def test_the_principals_own_claims_round_trip_unchanged(web: WebApp) -> None:
    # update_claims(self.user, self.request, self.user.claims) changes nothing,
    # not even a boolean into the string PyWire shows it as.
    add_action_route(web)
    browser = web.client()
    await register(browser, ANN)
    user = await web.user(ANN)
    assert user is not None
    await web.app.state.auth.update_claims(user.user_id, {"verified": True, "role": ["a", "b"]})
    before = await stored_claims(web)
    await act(browser, "update_same")
    assert await stored_claims(web) == before


@MEMORY
async def test_revoke_session_signs_out_this_browser_only(web: WebApp) -> None:
    add_action_route(web)
    here, there = web.client(), web.client()
    await register(here, ANN)
    await login(there, ANN)
    await act(here, "revoke_session")
    assert await signed_in_as(here) is None
    assert await signed_in_as(there) == ANN


@MEMORY
async def test_anonymous_principal_is_refused_with_advice(web: WebApp) -> None:
    with pytest.raises(UserNotFoundError, match="not signed in"):
        await web.app.state.auth.grant(ANONYMOUS, None, "role", "admin")


async def test_local_idp_issuer() -> None:
    assert LocalIdP(store=MemoryAuthStore(), secret=IDP_SECRET).issuer == "pywire-auth-local"
    idp = LocalIdP(store=MemoryAuthStore(), secret=IDP_SECRET, issuer="https://shop.example")
    assert idp.issuer == "https://shop.example"
    assert idp.verify_id_token(idp.issue_id_token(user_id="u1"))["iss"] == idp.issuer  # type: ignore[index]
