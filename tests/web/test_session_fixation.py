"""Session fixation and forged cookies: sign-in always issues a fresh token."""

from __future__ import annotations

import pytest

from pywire_auth import MemoryAuthStore
from tests.web.conftest import (
    COOKIE,
    AppFactory,
    WebApp,
    location,
    login,
    register,
    revoke,
    session_cookie_value,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio


async def _cookie_of_new_account(web: WebApp, email: str) -> str:
    response = await register(web.client(), email)
    value = session_cookie_value(response)
    assert value is not None
    return value


async def test_planted_session_of_another_user_is_replaced_and_ended_on_login(
    web: WebApp,
) -> None:
    await register(web.client(), "victim@example.com")
    planted = await _cookie_of_new_account(web, "attacker@example.com")
    victim = web.client(cookie=planted)
    assert await signed_in_as(victim) == "attacker@example.com"

    response = await login(victim, "victim@example.com")
    fresh = session_cookie_value(response)
    assert fresh is not None
    assert fresh != planted
    assert await signed_in_as(victim) == "victim@example.com"
    # The attacker still holds the planted token: it must not now be the victim,
    # nor anyone at all.
    assert await signed_in_as(web.client(cookie=planted)) is None
    assert await signed_in_as(web.client(cookie=fresh)) == "victim@example.com"


async def test_planted_session_is_replaced_on_register(web: WebApp) -> None:
    planted = await _cookie_of_new_account(web, "attacker@example.com")
    victim = web.client(cookie=planted)
    response = await register(victim, "victim@example.com")
    fresh = session_cookie_value(response)
    assert fresh is not None
    assert fresh != planted
    assert await signed_in_as(web.client(cookie=planted)) is None
    assert await signed_in_as(victim) == "victim@example.com"


async def test_signing_in_again_rotates_the_token(web: WebApp) -> None:
    browser = web.client()
    first = session_cookie_value(await register(browser, "ann@example.com"))
    second = session_cookie_value(await login(browser, "ann@example.com"))
    assert first is not None
    assert second is not None
    assert first != second
    assert await signed_in_as(web.client(cookie=first)) is None
    assert await signed_in_as(web.client(cookie=second)) == "ann@example.com"


@pytest.mark.parametrize(
    "garbage",
    ["garbage", "", "a.b", ".", "x" * 4000, '"quoted.value"'],
)
async def test_garbage_cookie_is_anonymous_and_replaced_on_login(web: WebApp, garbage: str) -> None:
    await register(web.client(), "ann@example.com")
    browser = web.client(cookie=garbage)
    assert await signed_in_as(browser) is None
    response = await login(browser, "ann@example.com")
    value = session_cookie_value(response)
    assert value is not None
    assert value != garbage
    assert await signed_in_as(browser) == "ann@example.com"


async def test_sign_out_kills_the_old_cookie(web: WebApp) -> None:
    browser = web.client()
    value = session_cookie_value(await register(browser, "ann@example.com"))
    assert value is not None
    assert location(await revoke(browser)) == "/"
    assert await signed_in_as(web.client(cookie=value)) is None


def _forgeries(valid: str) -> dict[str, str]:
    token, _, signature = valid.partition(".")
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return {
        "flipped-signature": f"{token}.{flipped}",
        "truncated-signature": f"{token}.{signature[:-1]}",
        "empty-signature": f"{token}.",
        "no-signature": token,
        "uppercase-signature": f"{token}.{signature.upper()}",
        "truncated-token": f"{token[:-1]}.{signature}",
        "signature-only": f".{signature}",
        "extra-part": f"{token}.{signature}.x",
        "other-token-same-signature": f"{'A' * len(token)}.{signature}",
    }


async def test_forged_or_truncated_cookies_are_anonymous_not_errors(web: WebApp) -> None:
    valid = await _cookie_of_new_account(web, "ann@example.com")
    for name, forged in _forgeries(valid).items():
        client = web.client(cookie=forged)
        page = await client.get("/")
        assert page.status_code == 200, name
        assert "You are not signed in" in page.text, name
        assert await signed_in_as(client) is None, name
        assert (await client.post("/auth/local/token")).status_code == 401, name
    # The real cookie still works: forgeries did not end it.
    assert await signed_in_as(web.client(cookie=valid)) == "ann@example.com"


@pytest.mark.parametrize(
    "cookie_header",
    [
        f'{COOKIE}="unterminated',
        f"{COOKIE}",
        f"{COOKIE}=;;;;",
        f"a=b; {COOKIE}=\x7f\x01",
        f"{COOKIE}=\u00e9\u00e9.\u00e9",
        "expires=1; " + COOKIE + "=x.y",
    ],
)
async def test_malformed_cookie_headers_are_anonymous(web: WebApp, cookie_header: str) -> None:
    client = web.client()
    page = await client.get("/", headers={b"Cookie": cookie_header.encode("utf-8")})
    assert page.status_code == 200
    assert "You are not signed in" in page.text


async def test_cookie_signed_with_another_secret_is_refused(
    app_factory: AppFactory, backend_url: str | None
) -> None:
    # Two apps share one database but not the session secret: a session that
    # exists in the store is still refused when its cookie carries the wrong
    # signature. (Apps of one test share the backend's database; memory stores
    # are shared by passing the same one.)
    shared = {"store": MemoryAuthStore()} if backend_url is None else {}
    first = await app_factory(**shared)
    second = await app_factory(**shared, session_secret="another-secret-" + "z" * 32)
    value = session_cookie_value(await register(first.client(), "ann@example.com"))
    assert value is not None
    assert await signed_in_as(first.client(cookie=value)) == "ann@example.com"
    assert await signed_in_as(second.client(cookie=value)) is None


@pytest.mark.parametrize(
    "other_cookie",
    [
        'prefs={"theme": "dark"}',  # JSON written by a script
        "greeting=hello world",
        "dir=C:\\Users",
        "version=2",  # a name SimpleCookie reserves for cookie attributes
        "name=J\u00fcrgen",
        'tracking="unterminated',
    ],
    ids=["json", "space", "backslash", "reserved-name", "non-ascii", "open-quote"],
)
async def test_an_unrelated_odd_cookie_does_not_hide_the_session(
    web: WebApp, other_cookie: str
) -> None:
    # Browsers send every cookie of the site, older ones first: analytics or
    # preference cookies (or ones tossed in from a sibling subdomain) come before
    # ours. An odd value in one of them must not sign the user out.
    value = await _cookie_of_new_account(web, "ann@example.com")
    client = web.client()
    header = f"{other_cookie}; {COOKIE}={value}".encode()
    response = await client.get("/profile", headers={b"Cookie": header})
    assert response.status_code == 200, "the session cookie was not seen"
    assert "Email: ann@example.com" in response.text
