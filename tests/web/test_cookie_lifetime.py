"""Cookie expiry slides forward while the user is active; Secure follows HTTPS."""

from __future__ import annotations

import time

import pytest

from pywire_auth import SessionConfig
from pywire_auth.sessions import SessionManager
from tests.web.conftest import (
    HOST_COOKIE,
    PASSWORD,
    SESSION_SECRET,
    AppFactory,
    WebApp,
    cookie_attributes,
    post_form,
    register,
    revoke,
    session_cookie_value,
    session_set_cookie,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio


async def test_active_user_gets_a_refreshed_cookie(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(ttl=100, refresh_after=0))
    browser = web.client()
    first = await register(browser, "ann@example.com")
    value = session_cookie_value(first)
    header = session_set_cookie(first)
    assert header is not None
    assert cookie_attributes(header)["max-age"] == "100"

    page = await browser.get("/")
    assert page.status_code == 200
    refreshed = session_set_cookie(page)
    assert refreshed is not None, "a page GET by a signed-in user should slide the cookie"
    attrs = cookie_attributes(refreshed)
    assert attrs["max-age"] == "100"
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert session_cookie_value(page) == value  # same session, new expiry
    assert await signed_in_as(browser) == "ann@example.com"


async def test_no_refresh_before_refresh_after(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(ttl=100_000, refresh_after=99_999))
    browser = web.client()
    await register(browser, "ann@example.com")
    page = await browser.get("/")
    assert page.status_code == 200
    assert session_set_cookie(page) is None


async def test_anonymous_requests_get_no_cookie(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(ttl=100, refresh_after=0))
    anonymous = web.client(cookie="forged.value")
    page = await anonymous.get("/")
    assert session_set_cookie(page) is None


async def test_sign_out_wins_over_the_refresh(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(ttl=100, refresh_after=0))
    browser = web.client()
    await register(browser, "ann@example.com")
    response = await revoke(browser)
    assert response.headers.get_list("set-cookie") == [
        "pywire_auth_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    ]


async def test_configured_secure_flag_is_set_on_http(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(secure=True))
    response = await register(web.client(), "ann@example.com")
    header = session_set_cookie(response)
    assert header is not None
    assert "secure" in cookie_attributes(header)
    assert header.startswith(HOST_COOKIE + "=")


async def test_secure_flag_follows_https(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(ttl=100, refresh_after=0))
    browser = web.client(base_url="https://testserver")
    response = await post_form(
        browser,
        "/auth/local/register",
        {"email": "ann@example.com", "password": PASSWORD},
        headers={"Origin": "https://testserver"},
    )
    header = session_set_cookie(response)
    assert header is not None
    assert "secure" in cookie_attributes(header)
    assert header.startswith(HOST_COOKIE + "=")
    page = await browser.get("/")
    refreshed = session_set_cookie(page)
    assert refreshed is not None
    assert "secure" in cookie_attributes(refreshed)
    signed_out = await post_form(
        browser, "/auth/local/revoke", {}, headers={"Origin": "https://testserver"}
    )
    cleared = session_set_cookie(signed_out)
    assert cleared is not None
    assert "secure" in cookie_attributes(cleared)


async def test_secure_false_forces_no_secure_flag_even_on_https(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(secure=False))
    response = await post_form(
        web.client(base_url="https://testserver"),
        "/auth/local/register",
        {"email": "ann@example.com", "password": "correct horse battery"},
        headers={"Origin": "https://testserver"},  # same origin: scheme included
    )
    header = session_set_cookie(response)
    assert header is not None
    assert "secure" not in cookie_attributes(header)


async def test_custom_cookie_name_and_path(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(cookie_name="sid", path="/"))
    browser = web.client()
    response = await register(browser, "ann@example.com")
    assert any(c.startswith("sid=") for c in response.headers.get_list("set-cookie"))
    assert (await browser.get("/profile")).status_code == 200


async def _cookie_from_the_past(web: WebApp, email: str, *, started: float, ttl: int) -> str:
    """A correctly signed session cookie whose session began at ``started``."""
    user = await web.user(email)
    assert user is not None
    manager = SessionManager(
        web.store,  # type: ignore[arg-type]
        SESSION_SECRET,
        SessionConfig(ttl=ttl, refresh_after=0),
        clock=lambda: started,
    )
    token = await manager.start(user.user_id)
    return manager.cookie_header(token, https=False).split(";", 1)[0].split("=", 1)[1]


async def test_expired_session_cookie_is_anonymous(web: WebApp) -> None:
    await register(web.client(), "ann@example.com")
    now = time.time()
    expired = await _cookie_from_the_past(web, "ann@example.com", started=now - 1000, ttl=100)
    live = await _cookie_from_the_past(web, "ann@example.com", started=now - 1000, ttl=10**6)
    assert await signed_in_as(web.client(cookie=live)) == "ann@example.com"  # control
    client = web.client(cookie=expired)
    page = await client.get("/profile")
    assert page.status_code == 303
    assert session_set_cookie(page) is None


async def test_refreshed_cookie_keeps_the_full_ttl_when_the_clock_ticks_during_the_slide(
    web: WebApp,
) -> None:
    """The slide's database round trip can cross a second boundary (seen in CI)."""
    await register(web.client(), "ann@example.com")
    sessions = web.app.state.auth._state.sessions
    sessions.config = SessionConfig(ttl=100, refresh_after=0)
    browser = web.client(
        cookie=await _cookie_from_the_past(
            web, "ann@example.com", started=time.time() - 50, ttl=100
        )
    )
    ticks = iter(range(10**6))
    base = time.time()
    # Every reading of the clock is a second later than the one before.
    sessions._clock = lambda: base + next(ticks)
    page = await browser.get("/")
    refreshed = session_set_cookie(page)
    assert refreshed is not None
    assert cookie_attributes(refreshed)["max-age"] == "100"
