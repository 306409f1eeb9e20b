"""CSRF: state-changing routes refuse cross-site POSTs and change nothing."""

from __future__ import annotations

import pytest

from tests.web.conftest import (
    COOKIE,
    EVIL,
    ORIGIN,
    REVOKE,
    TOKEN,
    VERIFY,
    WebApp,
    assert_no_session_cookie,
    location,
    login,
    post_form,
    register,
    session_set_cookie,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

CROSS_SITE = {
    "origin-evil": {"Origin": EVIL},
    "origin-null": {"Origin": "null"},
    "origin-lookalike": {"Origin": "http://testserver.evil.example"},
    "origin-evil-with-same-referer": {"Origin": EVIL, "Referer": f"{ORIGIN}/register"},
    "fetch-cross-site": {"Sec-Fetch-Site": "cross-site"},
    "fetch-same-site": {"Sec-Fetch-Site": "same-site"},
    "fetch-cross-site-same-origin-header": {"Sec-Fetch-Site": "cross-site", "Origin": ORIGIN},
    "referer-only-evil": {"Referer": f"{EVIL}/page"},
    "referer-only-malformed": {"Referer": "http://[::1"},
    # Another port or scheme of the same host is another origin (RFC 6454).
    "origin-same-host-other-port": {"Origin": "http://testserver:8443"},
    "origin-same-host-https": {"Origin": "https://testserver"},
    "referer-only-same-host-other-port": {"Referer": "http://testserver:8080/register"},
}
SAME_SITE = {
    "origin-same": {"Origin": ORIGIN},
    "origin-same-default-port": {"Origin": "http://testserver:80"},
    "fetch-same-origin": {"Sec-Fetch-Site": "same-origin"},
    "fetch-same-origin-and-origin": {"Sec-Fetch-Site": "same-origin", "Origin": ORIGIN},
    "fetch-none": {"Sec-Fetch-Site": "none"},
    "referer-only-same": {"Referer": f"{ORIGIN}/register"},
    "no-browser-headers": {},
}

cross_site = pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
same_site = pytest.mark.parametrize("headers", SAME_SITE.values(), ids=SAME_SITE.keys())


@cross_site
async def test_cross_site_register_is_refused_and_creates_nothing(
    web: WebApp, headers: dict[str, str]
) -> None:
    victim = web.client()
    response = await post_form(
        victim,
        "/auth/local/register",
        {"email": "planted@example.com", "password": "attacker password", "next": "/profile"},
        headers=headers,
    )
    assert response.status_code == 403
    assert_no_session_cookie(response)
    assert await web.user("planted@example.com") is None
    assert await signed_in_as(victim) is None


@cross_site
async def test_cross_site_login_cannot_sign_the_victim_into_the_attackers_account(
    web: WebApp, headers: dict[str, str]
) -> None:
    await register(web.client(), "attacker@example.com")
    victim = web.client()
    response = await post_form(
        victim,
        "/auth/local/login",
        {"email": "attacker@example.com", "password": "correct horse battery"},
        headers=headers,
    )
    assert response.status_code == 403
    assert_no_session_cookie(response)
    assert await signed_in_as(victim) is None


@cross_site
async def test_cross_site_revoke_does_not_sign_the_victim_out(
    web: WebApp, headers: dict[str, str]
) -> None:
    victim = web.client()
    await register(victim, "victim@example.com")
    elsewhere = web.client()
    await login(elsewhere, "victim@example.com")
    response = await post_form(victim, REVOKE, {"next": "/"}, headers=headers)
    assert response.status_code == 403
    assert_no_session_cookie(response)
    assert COOKIE in victim.cookies
    assert await signed_in_as(victim) == "victim@example.com"
    assert await signed_in_as(elsewhere) == "victim@example.com"


@cross_site
async def test_cross_site_token_request_is_refused(web: WebApp, headers: dict[str, str]) -> None:
    victim = web.client()
    await register(victim, "victim@example.com")
    response = await victim.post(TOKEN, headers=headers)
    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"
    assert "token" not in response.json()


@same_site
async def test_same_origin_posts_work(web: WebApp, headers: dict[str, str]) -> None:
    browser = web.client()
    response = await post_form(
        browser,
        "/auth/local/register",
        {"email": "ann@example.com", "password": "correct horse battery"},
        headers=headers,
    )
    assert location(response) == "/"
    assert session_set_cookie(response) is not None
    assert (await browser.post(TOKEN, headers=headers)).status_code == 200
    assert location(await post_form(browser, REVOKE, {}, headers=headers)) == "/"
    assert await signed_in_as(browser) is None
    other = web.client()
    response = await post_form(
        other,
        "/auth/local/login",
        {"email": "ann@example.com", "password": "correct horse battery"},
        headers=headers,
    )
    assert location(response) == "/"
    assert await signed_in_as(other) == "ann@example.com"


async def test_forwarded_host_and_proto_count_as_this_site(web: WebApp) -> None:
    browser = web.client()
    proxy = {"X-Forwarded-Host": "public.example", "X-Forwarded-Proto": "https"}
    response = await post_form(
        browser,
        "/auth/local/register",
        {"email": "ann@example.com", "password": "correct horse battery"},
        headers={"Origin": "https://public.example", **proxy},
    )
    assert location(response) == "/"


async def test_forwarded_host_without_its_scheme_is_another_origin(web: WebApp) -> None:
    # The app sees http; without X-Forwarded-Proto an https page is another origin.
    response = await post_form(
        web.client(),
        "/auth/local/register",
        {"email": "ann@example.com", "password": "correct horse battery"},
        headers={"Origin": "https://public.example", "X-Forwarded-Host": "public.example"},
    )
    assert response.status_code == 403
    assert await web.user("ann@example.com") is None


@cross_site
async def test_verify_token_is_allowed_cross_site(web: WebApp, headers: dict[str, str]) -> None:
    issuer = web.client()
    await register(issuer, "ann@example.com")
    issued = (await issuer.post(TOKEN, headers={"Origin": ORIGIN})).json()["token"]
    response = await web.client().post(VERIFY, json={"token": issued}, headers=headers)
    assert response.status_code == 200
    assert response.json()["valid"] is True
