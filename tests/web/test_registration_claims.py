"""Self-granted roles: posted sign-up fields grant nothing unless the app says so."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest

from tests.web.conftest import (
    AppFactory,
    WebApp,
    error_code,
    location,
    register,
    session_set_cookie,
    token,
)

pytestmark = pytest.mark.asyncio

SELF_GRANT = {
    "role": "admin",
    "email_verified": "on",
    "claims": '{"role": "admin"}',
    "is_admin": "true",
    "sub": "someone-else",
    "iss": "evil",
}


def editor_only(form: Mapping[str, str]) -> dict[str, str]:
    return {"role": form["role"]} if form.get("role") in {"editor"} else {}


async def _token_claims(client: httpx.AsyncClient) -> dict[str, object]:
    response = await token(client)
    assert response.status_code == 200
    decoded: dict[str, object] = response.json()["decoded"]
    return decoded


async def _principal_claim_types(web: WebApp, email: str) -> set[str]:
    user = await web.user(email)
    assert user is not None
    principal = await web.idp.principal_for_user(user.user_id)
    assert principal is not None
    return {claim.type for claim in principal.claims}


async def test_posted_role_and_email_verified_grant_nothing(web: WebApp) -> None:
    browser = web.client()
    response = await register(browser, "mallory@example.com", **SELF_GRANT)
    assert location(response) == "/"
    user = await web.user("mallory@example.com")
    assert user is not None
    assert dict(user.claims) == {}
    # No name was posted: the principal carries exactly sub and email.
    assert await _principal_claim_types(web, "mallory@example.com") == {"sub", "email"}
    decoded = await _token_claims(browser)
    for claim in ("role", "email_verified", "is_admin", "claims"):
        assert claim not in decoded
    assert decoded["sub"] == user.user_id
    assert decoded["iss"] != "evil"


async def test_registration_claims_grant_only_allowed_values(app_factory: AppFactory) -> None:
    web = await app_factory(registration_claims=editor_only)
    editor = web.client()
    assert location(await register(editor, "ed@example.com", role="editor")) == "/"
    assert (await _token_claims(editor))["role"] == "editor"
    ed = await web.user("ed@example.com")
    assert ed is not None
    assert dict(ed.claims) == {"role": "editor"}

    mallory = web.client()
    assert location(await register(mallory, "mallory@example.com", role="admin")) == "/"
    assert "role" not in await _token_claims(mallory)
    user = await web.user("mallory@example.com")
    assert user is not None
    assert dict(user.claims) == {}


async def test_async_registration_claims_are_awaited(app_factory: AppFactory) -> None:
    async def verified(form: Mapping[str, str]) -> dict[str, bool]:
        return {"newsletter": form.get("newsletter") == "on"}

    web = await app_factory(registration_claims=verified)
    browser = web.client()
    await register(browser, "ann@example.com", newsletter="on")
    assert (await _token_claims(browser))["newsletter"] is True


async def test_registration_claims_cannot_set_owned_claims(app_factory: AppFactory) -> None:
    # The IdP refuses them (ReservedClaimError), which the route maps to "invalid".
    def hostile(form: Mapping[str, str]) -> dict[str, str]:
        return {"sub": form.get("sub", ""), "email": "admin@example.com"}

    web = await app_factory(registration_claims=hostile)
    browser = web.client()
    response = await register(browser, "ann@example.com", sub="admin-id")
    assert error_code(response) == "invalid"
    assert session_set_cookie(response) is None
    assert await web.user("ann@example.com") is None


async def test_a_failing_registration_claims_hook_is_not_a_500(app_factory: AppFactory) -> None:
    def broken(form: Mapping[str, str]) -> dict[str, str]:
        raise RuntimeError("bug in the app's hook")

    web = await app_factory(registration_claims=broken)
    response = await register(web.client(), "ann@example.com")
    assert error_code(response) == "unavailable"
    assert session_set_cookie(response) is None
    assert await web.user("ann@example.com") is None
