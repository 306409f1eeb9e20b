"""Open redirects: ``next`` may only ever point at a path on this site."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import (
    AppFactory,
    WebApp,
    location,
    login,
    register,
    revoke,
    session_set_cookie,
    set_cookies,
)

pytestmark = pytest.mark.asyncio

UNSAFE_NEXT = [
    "https://evil.example",
    "http://evil.example/profile",
    "//evil.example",
    "//evil.example/profile",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/profile\\..\\\\evil.example",
    "/\t/evil.example",  # browsers drop tabs and newlines inside URLs: //evil.example
    "/\n/evil.example",
    "/\r\nSet-Cookie:x=y",
    "/\rSet-Cookie:x=y",
    "/\x00/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
    "/" + "a" * 5000,
]


def assert_no_header_injection(response: httpx.Response) -> None:
    target = location(response)
    assert "\r" not in target
    assert "\n" not in target
    assert not any(c.lower().startswith("x=") for c in set_cookies(response))


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_register_next_cannot_leave_the_site(web: WebApp, target: str) -> None:
    response = await register(web.client(), "ann@example.com", next=target)
    assert location(response) == "/"
    assert session_set_cookie(response) is not None
    assert_no_header_injection(response)


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_login_next_cannot_leave_the_site(web: WebApp, target: str) -> None:
    await register(web.client(), "ann@example.com")
    response = await login(web.client(), "ann@example.com", next=target)
    assert location(response) == "/"
    assert_no_header_injection(response)


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_revoke_next_cannot_leave_the_site(web: WebApp, target: str) -> None:
    browser = web.client()
    await register(browser, "ann@example.com")
    response = await revoke(browser, next=target)
    assert location(response) == "/"
    assert_no_header_injection(response)


@pytest.mark.parametrize("target", UNSAFE_NEXT[:6])
async def test_anonymous_revoke_next_cannot_leave_the_site(
    browser: httpx.AsyncClient, target: str
) -> None:
    response = await revoke(browser, next=target)
    assert location(response) == "/"


async def test_percent_encoded_crlf_stays_an_inert_local_path(web: WebApp) -> None:
    # "%0d%0a" is not a line break in a Location header; the browser asks this site
    # for that odd path. What matters: no second header, no other site.
    response = await register(web.client(), "ann@example.com", next="/%0d%0aSet-Cookie:x=y")
    target = location(response)
    assert target.startswith("/")
    assert not target.startswith(("//", "/\\"))
    assert_no_header_injection(response)


@pytest.mark.parametrize("target", ["/profile?tab=1", "/a/b?x=1&y=%2F#frag", "/"])
async def test_local_next_is_kept(web: WebApp, target: str) -> None:
    response = await register(web.client(), "ann@example.com", next=target)
    assert location(response) == target
    response = await login(web.client(), "ann@example.com", next=target)
    assert location(response) == target
    browser = web.client()
    await login(browser, "ann@example.com")
    assert location(await revoke(browser, next=target)) == target


async def test_default_next_is_configurable(app_factory: AppFactory) -> None:
    web = await app_factory(default_next="/welcome")
    response = await register(web.client(), "ann@example.com", next="//evil.example")
    assert location(response) == "/welcome"
    response = await register(web.client(), "bob@example.com")
    assert location(response) == "/welcome"


async def test_unsafe_default_next_falls_back_to_root(app_factory: AppFactory) -> None:
    web = await app_factory(default_next="https://evil.example/")
    response = await register(web.client(), "ann@example.com")
    assert location(response) == "/"
