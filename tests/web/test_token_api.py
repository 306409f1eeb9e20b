"""The JSON routes: token (signed-in users only) and verify-token (anyone may ask)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import OctKey

from pywire_auth import TokenIssuer
from tests.web.conftest import (
    IDP_SECRET,
    SAME_ORIGIN,
    TOKEN,
    VERIFY,
    WebApp,
    register,
    session_set_cookie,
    token,
)

pytestmark = pytest.mark.asyncio


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")


async def test_anonymous_token_request_is_401(browser: httpx.AsyncClient) -> None:
    response = await token(browser)
    assert response.status_code == 401
    assert_no_store(response)
    assert response.json() == {"error": "not_authenticated"}


async def test_forged_cookie_token_request_is_401(web: WebApp) -> None:
    response = await token(web.client(cookie="forged.value"))
    assert response.status_code == 401
    assert_no_store(response)


async def test_cross_site_token_request_is_403(web: WebApp) -> None:
    browser = web.client()
    await register(browser, "ann@example.com")
    response = await browser.post(TOKEN, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert_no_store(response)
    assert response.json() == {"error": "cross_site"}


async def test_issued_token_verifies_and_carries_no_session_secret(web: WebApp) -> None:
    browser = web.client()
    await register(browser, "ann@example.com", name="Ann")
    response = await token(browser)
    assert response.status_code == 200
    assert_no_store(response)
    assert session_set_cookie(response) is None
    body = response.json()
    assert set(body) == {"token", "token_type", "expires_in", "decoded"}
    assert body["expires_in"] == 600
    assert TokenIssuer(IDP_SECRET).verify(body["token"]) == body["decoded"]


async def _post_raw(
    client: httpx.AsyncClient, body: bytes | AsyncIterator[bytes]
) -> httpx.Response:
    return await client.post(VERIFY, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "malformed"),
        (b"", "malformed"),
        (b"[]", "malformed"),
        (b'["token"]', "malformed"),
        (b'"a string"', "malformed"),
        (b"null", "malformed"),
        (b"42", "malformed"),
        (b'{"token": 42}', "missing"),
        (b'{"token": null}', "missing"),
        (b'{"token": ["a"]}', "missing"),
        (b'{"token": {"a": 1}}', "missing"),
        (b'{"token": "   "}', "missing"),
        (b"{}", "missing"),
        (b'{"jwt": "abc"}', "missing"),
        (b'{"token": "\xff\xfe"}', "malformed"),
        (b"\xef\xbb\xbf{}", "malformed"),
        (b"[" * 10_000, "malformed"),
        (b'{"token": "' + b"\\ud800" + b'"}', None),
    ],
    ids=[
        "invalid-json",
        "empty",
        "empty-array",
        "array",
        "string",
        "null",
        "number",
        "int-token",
        "null-token",
        "list-token",
        "object-token",
        "blank-token",
        "no-token",
        "other-key",
        "bad-utf8",
        "utf8-bom",
        "deep-nesting",
        "lone-surrogate-token",
    ],
)
async def test_verify_token_refuses_bad_bodies_with_400(
    browser: httpx.AsyncClient, body: bytes, error: str | None
) -> None:
    response = await _post_raw(browser, body)
    assert_no_store(response)
    if error is None:
        # A parseable string that cannot be a token: simply not valid.
        assert response.status_code == 200
        assert response.json() == {"valid": False}
        return
    assert response.status_code == 400
    assert response.json() == {"valid": False, "error": error}


async def test_verify_token_refuses_a_declared_oversized_body_with_413(
    browser: httpx.AsyncClient,
) -> None:
    body = b'{"token": "' + b"a" * (17 * 1024) + b'"}'
    response = await _post_raw(browser, body)
    assert response.status_code == 413
    assert_no_store(response)
    assert response.json() == {"valid": False, "error": "too_large"}


async def test_verify_token_refuses_an_undeclared_oversized_body_with_413(
    browser: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"token": "'
        for _ in range(20):
            yield b"a" * 1024
        yield b'"}'

    response = await _post_raw(browser, chunks())
    assert response.status_code == 413
    assert_no_store(response)


@pytest.mark.parametrize(
    "bad_token",
    [
        "not.a.jwt",
        "abc",
        "a" * 9000,
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ],
    ids=["three-parts", "one-part", "huge", "alg-none"],
)
async def test_verify_token_answers_invalid_tokens_with_valid_false(
    browser: httpx.AsyncClient, bad_token: str
) -> None:
    response = await browser.post(VERIFY, json={"token": bad_token})
    assert response.status_code == 200
    assert_no_store(response)
    assert response.json() == {"valid": False}


def _signed(payload: dict[str, object], secret: str = IDP_SECRET) -> str:
    """A token signed with the IdP's key and kid but with a hand-made payload."""
    header = {"alg": "HS256", "typ": "JWT", "kid": TokenIssuer(secret).kid}
    key = OctKey.import_key(secret.encode())
    return jws.serialize_compact(header, json.dumps(payload).encode(), key, algorithms=["HS256"])


GOOD_CLAIMS = {"iss": "pywire-auth-local", "aud": "pywire-auth-local", "sub": "user-1"}


async def test_verify_token_refuses_expired_and_foreign_tokens(web: WebApp) -> None:
    browser = web.client()
    await register(web.client(), "ann@example.com")
    ann = await web.user("ann@example.com")
    assert ann is not None
    now = int(time.time())
    bad_tokens = {
        "expired": _signed({**GOOD_CLAIMS, "iat": 1000, "exp": 1600}),
        "no-exp": _signed({**GOOD_CLAIMS, "iat": now}),
        "bool-exp": _signed({**GOOD_CLAIMS, "exp": True}),
        "not-yet-valid": _signed({**GOOD_CLAIMS, "nbf": now + 10**6, "exp": now + 2 * 10**6}),
        "other-audience": _signed({**GOOD_CLAIMS, "aud": "other", "exp": now + 600}),
        "foreign-key": TokenIssuer("another-secret-" + "y" * 32).issue("user-1", ttl=600),
        "other-issuer": TokenIssuer(IDP_SECRET, issuer="someone-else").issue("user-1", ttl=600),
    }
    for name, bad in bad_tokens.items():
        response = await browser.post(VERIFY, json={"token": bad})
        assert response.status_code == 200, name
        assert_no_store(response)
        assert response.json() == {"valid": False}, name
    # Over HTTP a token without a session is valid while its user exists.
    control = _signed({**GOOD_CLAIMS, "sub": ann.user_id, "exp": now + 600})
    response = await browser.post(VERIFY, json={"token": f"  {control}\n"})
    assert response.json()["valid"] is True
    assert response.json()["decoded"]["sub"] == ann.user_id


async def test_verify_token_does_not_need_a_session_or_same_origin(web: WebApp) -> None:
    browser = web.client()
    await register(browser, "ann@example.com")
    issued = (await browser.post(TOKEN, headers=SAME_ORIGIN)).json()["token"]
    stranger = web.client(address=("203.0.113.9", 4444))
    response = await stranger.post(VERIFY, json={"token": issued}, headers={"Origin": "null"})
    assert response.status_code == 200
    assert response.json()["valid"] is True


@pytest.mark.parametrize("declared", ["abc", "-1"])
async def test_verify_token_refuses_a_bad_content_length(
    browser: httpx.AsyncClient, declared: str
) -> None:
    response = await browser.post(VERIFY, content=b"{}", headers={"Content-Length": declared})
    assert response.status_code == 400
    assert_no_store(response)
    assert response.json() == {"valid": False, "error": "bad_length"}
