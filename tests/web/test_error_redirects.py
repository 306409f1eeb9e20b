"""Where a failed form POST sends the browser: Referer page, else error_next, else the form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.web.conftest import (
    EVIL,
    ORIGIN,
    SAME_ORIGIN,
    WebApp,
    error_code,
    location,
    post_form,
    register,
)

pytestmark = pytest.mark.asyncio

REGISTER_FORM = "/auth/local/register"
LOGIN_FORM = "/auth/local/login"
BAD_LOGIN = {"email": "nobody@example.com", "password": "wrong password"}
BAD_REGISTER = {"email": "not-an-email", "password": "long enough password"}


def _query(target: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(target).query)


@pytest.mark.parametrize(
    ("route", "fields", "default_page"),
    [(REGISTER_FORM, BAD_REGISTER, "/register"), (LOGIN_FORM, BAD_LOGIN, "/login_local")],
    ids=["register", "login"],
)
async def test_error_without_referer_or_error_next_goes_to_the_route_form(
    browser: httpx.AsyncClient, route: str, fields: dict[str, str], default_page: str
) -> None:
    response = await post_form(browser, route, fields)
    error_code(response)
    assert urlsplit(location(response)).path == default_page


async def test_error_goes_back_to_the_same_origin_referer_page_keeping_its_query(
    browser: httpx.AsyncClient,
) -> None:
    referer = f"{ORIGIN}/signin/embedded?tab=2&error=old&lang=de"
    response = await post_form(
        browser,
        LOGIN_FORM,
        {**BAD_LOGIN, "error_next": "/elsewhere"},
        headers={**SAME_ORIGIN, "Referer": referer},
    )
    target = location(response)
    assert urlsplit(target).path == "/signin/embedded"
    query = _query(target)
    assert query == {"tab": ["2"], "lang": ["de"], "error": ["invalid"]}  # old error replaced


async def test_referer_wins_over_error_next_for_register(browser: httpx.AsyncClient) -> None:
    response = await post_form(
        browser,
        REGISTER_FORM,
        {**BAD_REGISTER, "error_next": "/elsewhere"},
        headers={**SAME_ORIGIN, "Referer": f"{ORIGIN}/register"},
    )
    assert location(response) == "/register?error=invalid_email"


async def test_error_next_is_used_without_a_referer(browser: httpx.AsyncClient) -> None:
    response = await post_form(
        browser, LOGIN_FORM, {**BAD_LOGIN, "error_next": "/custom/login?x=1&error=stale"}
    )
    target = location(response)
    assert urlsplit(target).path == "/custom/login"
    assert _query(target) == {"x": ["1"], "error": ["invalid"]}


@pytest.mark.parametrize(
    "referer",
    [
        f"{EVIL}/phish?x=1",
        "https://testserver.evil.example/page",
        "ftp://testserver/page",
        "not a url",
    ],
)
async def test_foreign_referer_is_ignored(browser: httpx.AsyncClient, referer: str) -> None:
    # Same-origin Origin header: the POST itself is allowed, only the Referer is foreign.
    response = await post_form(
        browser,
        LOGIN_FORM,
        {**BAD_LOGIN, "error_next": "/fallback"},
        headers={**SAME_ORIGIN, "Referer": referer},
    )
    assert location(response) == "/fallback?error=invalid"


@pytest.mark.parametrize(
    "error_next",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
async def test_unsafe_error_next_is_ignored(browser: httpx.AsyncClient, error_next: str) -> None:
    response = await post_form(browser, LOGIN_FORM, {**BAD_LOGIN, "error_next": error_next})
    assert location(response) == "/login_local?error=invalid"


async def test_exists_goes_back_to_the_register_page(web: WebApp) -> None:
    await register(web.client(), "ann@example.com")
    response = await post_form(
        web.client(),
        REGISTER_FORM,
        {"email": "ann@example.com", "password": "other password"},
        headers={**SAME_ORIGIN, "Referer": f"{ORIGIN}/register?next=%2Fprofile"},
    )
    target = location(response)
    assert urlsplit(target).path == "/register"
    assert _query(target) == {"next": ["/profile"], "error": ["exists"]}


@pytest.mark.parametrize(
    "referer",
    [f"{ORIGIN}//evil.example/x", f"{ORIGIN}/\\evil.example", f"{ORIGIN}/" + "a" * 3000],
    ids=["double-slash-path", "backslash-path", "huge"],
)
async def test_same_host_referer_with_an_unsafe_path_is_ignored(
    browser: httpx.AsyncClient, referer: str
) -> None:
    response = await post_form(
        browser, LOGIN_FORM, BAD_LOGIN, headers={**SAME_ORIGIN, "Referer": referer}
    )
    assert location(response) == "/login_local?error=invalid"
