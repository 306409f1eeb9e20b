"""Sign-out ends every session of the user, in every browser, across restarts."""

from __future__ import annotations

import asyncio

import pytest

from tests.web.conftest import (
    COOKIE,
    PERSISTENT_BACKENDS,
    AppFactory,
    WebApp,
    assert_cookie_cleared,
    location,
    login,
    register,
    revoke,
    session_cookie_value,
    signed_in_as,
    token,
)

pytestmark = pytest.mark.asyncio

EVENT_TIMEOUT = 5.0  # generous: the event is dispatched before the response is sent


async def test_revoke_signs_out_every_browser_of_the_user(web: WebApp) -> None:
    laptop = web.client(address=("10.0.0.1", 1))
    phone = web.client(address=("10.0.0.2", 1))
    await register(laptop, "ann@example.com")
    await login(phone, "ann@example.com")
    bystander = web.client()
    await register(bystander, "bob@example.com")
    assert (await token(phone)).status_code == 200

    response = await revoke(laptop)
    assert location(response) == "/"
    assert_cookie_cleared(response)

    assert COOKIE in phone.cookies  # the phone still sends its cookie...
    refused = await token(phone)
    assert refused.status_code == 401  # ...but it no longer authenticates
    assert refused.json() == {"error": "not_authenticated"}
    assert await signed_in_as(phone) is None
    assert await signed_in_as(laptop) is None
    assert await signed_in_as(bystander) == "bob@example.com"


async def test_signing_in_again_after_revoke_works(web: WebApp) -> None:
    browser = web.client()
    await register(browser, "ann@example.com")
    await revoke(browser)
    assert location(await login(browser, "ann@example.com")) == "/"
    assert await signed_in_as(browser) == "ann@example.com"


async def test_anonymous_revoke_just_clears_the_cookie(web: WebApp) -> None:
    browser = web.client(cookie="forged.cookie")
    response = await revoke(browser, next="/login_local")
    assert location(response) == "/login_local"
    assert_cookie_cleared(response)


async def test_revoke_fires_the_channel(web: WebApp) -> None:
    browser = web.client()
    await register(browser, "ann@example.com")
    user = await web.user("ann@example.com")
    assert user is not None
    principal_id = f"local:{user.user_id}"
    async with web.app.state.auth_channel.subscribe(principal_id) as events:
        assert location(await revoke(browser)) == "/"
        event = await asyncio.wait_for(anext(events), EVENT_TIMEOUT)
    assert event.kind == "revoke"
    assert event.user_id == principal_id


@PERSISTENT_BACKENDS
async def test_revoke_survives_a_restart(app_factory: AppFactory) -> None:
    # Each app gets its own store on the test's database: a restarted server.
    first = await app_factory()
    laptop = first.client()
    cookie = session_cookie_value(await register(laptop, "ann@example.com"))
    assert cookie is not None
    other_cookie = session_cookie_value(await login(first.client(), "ann@example.com"))
    assert other_cookie is not None

    # "Restart": a new app, IdP and store on the same database, same secrets.
    second = await app_factory()
    restarted = second.client(cookie=cookie)
    assert await signed_in_as(restarted) == "ann@example.com"
    assert location(await revoke(restarted)) == "/"

    third = await app_factory()
    assert await signed_in_as(third.client(cookie=cookie)) is None
    assert await signed_in_as(third.client(cookie=other_cookie)) is None
    assert await signed_in_as(first.client(cookie=other_cookie)) is None
    # The account itself survives, only the sessions are gone.
    assert location(await login(third.client(), "ann@example.com")) == "/"


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {"Origin": "http://testserver"}),
        (b"{}", {"Origin": "http://testserver", "Content-Type": "application/json"}),
    ],
    ids=["no-body", "json-body"],
)
async def test_sign_out_without_a_form_body_still_signs_out(
    web: WebApp, content: bytes, headers: dict[str, str]
) -> None:
    # fetch("/auth/local/revoke", {method: "POST"}) sends no form; revoke needs no
    # field, so the user must not be left signed in behind a "?error=" redirect.
    browser = web.client()
    value = session_cookie_value(await register(browser, "ann@example.com"))
    response = await browser.post("/auth/local/revoke", content=content, headers=headers)
    assert response.status_code == 303
    assert_cookie_cleared(response)
    assert await signed_in_as(web.client(cookie=value)) is None
