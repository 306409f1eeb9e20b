"""Hostile or malformed form bodies: refused with an error redirect, nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Message

from tests.web.conftest import (
    PASSWORD,
    SAME_ORIGIN,
    WebApp,
    assert_no_session_cookie,
    error_code,
    location,
    login,
    register,
    session_set_cookie,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

REGISTER_FORM = "/auth/local/register"
LOGIN_FORM = "/auth/local/login"
URLENCODED = {**SAME_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
BOUNDARY = "----pywireAuthBoundary"
MULTIPART = {**SAME_ORIGIN, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart(*parts: tuple[str, bytes] | tuple[str, bytes, str]) -> bytes:
    """A multipart body; a third item makes the part a file upload with that filename."""
    out = b""
    for part in parts:
        name, value = part[0], part[1]
        disposition = f'form-data; name="{name}"'
        if len(part) == 3:
            disposition += f'; filename="{part[2]}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if len(part) == 3:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def assert_refused(
    web: WebApp, response: httpx.Response, email: str, code: str | None = None
) -> None:
    assert response.status_code == 303, (response.status_code, response.text)
    got = error_code(response)
    if code is not None:
        assert got == code
    assert_no_session_cookie(response)
    assert await web.user_count() == 0, f"a user was created for {email!r}"


# Field contents ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"email": "ann\x00@example.com"}, "invalid_email"),
        ({"email": "ann@example.com\x00"}, "invalid_email"),
        ({"email": "ann@exa\r\nmple.com"}, "invalid_email"),
        ({"email": "ann\u200d@example.com"}, "invalid_email"),  # zero-width joiner
        ({"email": "ann@example.com\u202e"}, "invalid_email"),  # bidi override
        ({"email": "a" * 250 + "@example.com"}, "invalid_email"),
        ({"name": "Ann\x00"}, "invalid"),
        ({"name": "Ann\x1b[31m"}, "invalid"),
        ({"name": "Ann\u202egnp.exe"}, "invalid"),
        ({"name": "A" * 201}, "invalid"),
        ({"password": "pass\x00word123"}, "weak_password"),
        ({"password": "x" * 10_000}, "weak_password"),
        ({"password": "x" * 257}, "weak_password"),
    ],
    ids=[
        "nul-in-email",
        "trailing-nul-in-email",
        "crlf-in-email",
        "zwj-in-email",
        "bidi-in-email",
        "long-email",
        "nul-in-name",
        "escape-in-name",
        "bidi-in-name",
        "long-name",
        "nul-in-password",
        "10k-password",
        "257-char-password",
    ],
)
async def test_register_refuses_bad_fields(
    web: WebApp, browser: httpx.AsyncClient, fields: dict[str, str], code: str
) -> None:
    data = {"email": "ann@example.com", "password": PASSWORD, "name": "Ann", **fields}
    response = await browser.post(REGISTER_FORM, data=data, headers=SAME_ORIGIN)
    await assert_refused(web, response, data["email"], code)


async def test_login_with_a_10k_password_is_invalid_not_hashed_forever(web: WebApp) -> None:
    await register(web.client(), "ann@example.com")
    client = web.client()
    response = await login(client, "ann@example.com", "x" * 10_000)
    assert error_code(response) == "invalid"
    assert_no_session_cookie(response)


async def test_login_with_nul_in_email_is_invalid(web: WebApp) -> None:
    await register(web.client(), "ann@example.com")
    response = await login(web.client(), "ann@example.com\x00")
    assert error_code(response) == "invalid"
    assert_no_session_cookie(response)


# Body encodings ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"email=%ff%fe%40example.com&password=correct+horse+battery",
        b"email=ann%40example.com&password=%c3%28%c3%28%c3%28%c3%28",
        b"email=\xff\xfe@example.com&password=correct+horse+battery",
        b"email=ann%40example.com&password=correct+horse+battery&name=\xc3",
        b"email=ann%40example.com&password=%ed%a0%80surrogate1",
    ],
    ids=["pct-ff-fe", "pct-bad-continuation", "raw-ff-fe", "raw-truncated", "pct-surrogate"],
)
async def test_invalid_utf8_in_a_urlencoded_body_is_refused(
    web: WebApp, browser: httpx.AsyncClient, body: bytes
) -> None:
    response = await browser.post(REGISTER_FORM, content=body, headers=URLENCODED)
    await assert_refused(web, response, "ann@example.com", "invalid")
    response = await browser.post(LOGIN_FORM, content=body, headers=URLENCODED)
    assert error_code(response) == "invalid"
    assert_no_session_cookie(response)


async def test_multipart_text_fields_work(web: WebApp, browser: httpx.AsyncClient) -> None:
    body = multipart(
        ("email", b"ann@example.com"),
        ("password", PASSWORD.encode()),
        ("name", "Ann \u00c5ngstr\u00f6m".encode()),
        ("next", b"/profile"),
    )
    response = await browser.post(REGISTER_FORM, content=body, headers=MULTIPART)
    assert location(response) == "/profile"
    assert session_set_cookie(response) is not None
    user = await web.user("ann@example.com")
    assert user is not None
    assert user.name == "Ann \u00c5ngstr\u00f6m"
    login_body = multipart(("email", b"ann@example.com"), ("password", PASSWORD.encode()))
    other = web.client()
    response = await other.post(LOGIN_FORM, content=login_body, headers=MULTIPART)
    assert location(response) == "/"
    assert await signed_in_as(other) == "ann@example.com"


async def test_multipart_with_a_file_part_is_refused_as_invalid(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    body = multipart(
        ("email", b"ann@example.com"),
        ("password", PASSWORD.encode()),
        ("avatar", b"\x89PNG...", "avatar.png"),
    )
    response = await browser.post(REGISTER_FORM, content=body, headers=MULTIPART)
    # A client error: "invalid", not "unavailable" (which tells users the server is down).
    await assert_refused(web, response, "ann@example.com", "invalid")


async def test_multipart_with_invalid_utf8_is_refused(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    body = multipart(("email", b"\xff\xfe@example.com"), ("password", PASSWORD.encode()))
    response = await browser.post(REGISTER_FORM, content=body, headers=MULTIPART)
    await assert_refused(web, response, "\xff\xfe@example.com", "invalid")


async def test_multipart_without_boundary_is_refused_as_invalid(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    body = multipart(("email", b"ann@example.com"), ("password", PASSWORD.encode()))
    headers = {**SAME_ORIGIN, "Content-Type": "multipart/form-data"}
    response = await browser.post(REGISTER_FORM, content=body, headers=headers)
    await assert_refused(web, response, "ann@example.com", "invalid")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/xml", None],
)
async def test_unsupported_content_type_is_refused(
    web: WebApp, browser: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = dict(SAME_ORIGIN)
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = b'{"email": "ann@example.com", "password": "correct horse battery"}'
    if content_type == "text/plain":
        body = b"email=ann%40example.com&password=correct+horse+battery"
    response = await browser.post(REGISTER_FORM, content=body, headers=headers)
    await assert_refused(web, response, "ann@example.com", "invalid")
    assert location(response) == "/register?error=invalid"


# Size and field-count limits -----------------------------------------------------------


# The padding goes in a field the routes ignore, so that the size cap is the only
# thing that can refuse these bodies (a long ``name`` would be refused anyway).
_VALID_FORM = b"email=ann%40example.com&password=correct+horse+battery&filler="


def _big_form(size: int) -> bytes:
    return _VALID_FORM + b"a" * size


def _padding_to(total: int) -> int:
    return total - len(_VALID_FORM)


async def test_a_body_at_the_cap_is_accepted(web: WebApp, browser: httpx.AsyncClient) -> None:
    # The control for the tests below: the ignored field itself refuses nothing.
    body = _big_form(_padding_to(64 * 1024))
    assert len(body) == 64 * 1024
    response = await browser.post(REGISTER_FORM, content=body, headers=URLENCODED)
    assert location(response) == "/"
    assert await web.user("ann@example.com") is not None


async def test_declared_oversized_body_is_refused(web: WebApp, browser: httpx.AsyncClient) -> None:
    body = _big_form(_padding_to(64 * 1024 + 1))
    response = await browser.post(REGISTER_FORM, content=body, headers=URLENCODED)
    assert response.request.headers["content-length"] == str(64 * 1024 + 1)
    await assert_refused(web, response, "ann@example.com", "invalid")


async def test_declared_oversized_body_is_refused_unread(web: WebApp) -> None:
    # The declared length alone decides: not one byte of the body is read (a
    # client must not make us buffer 64 KiB to learn that it sent too much).
    received: list[Message] = []

    async def receive() -> Message:
        message: Message = {"type": "http.request", "body": b"", "more_body": False}
        received.append(message)
        return message

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": REGISTER_FORM,
        "raw_path": REGISTER_FORM.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"origin", b"http://testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(64 * 1024 + 1).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await web.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 303
    assert headers["location"] == "/register?error=invalid"
    assert received == []


async def test_undeclared_chunked_oversized_body_is_refused(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield _VALID_FORM
        for _ in range(64):
            yield b"a" * 1024

    response = await browser.post(REGISTER_FORM, content=chunks(), headers=URLENCODED)
    assert "content-length" not in response.request.headers
    await assert_refused(web, response, "ann@example.com", "invalid")


async def test_small_chunked_body_is_accepted(web: WebApp, browser: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"email=ann%40example.com&"
        yield b"password=correct+horse+battery"

    response = await browser.post(REGISTER_FORM, content=chunks(), headers=URLENCODED)
    assert location(response) == "/"
    assert await web.user("ann@example.com") is not None


async def test_too_many_urlencoded_fields_are_refused(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    extra = "&".join(f"f{i}=x" for i in range(38))
    body = f"email=ann%40example.com&password=correct+horse+battery&{extra}".encode()
    response = await browser.post(REGISTER_FORM, content=body, headers=URLENCODED)
    await assert_refused(web, response, "ann@example.com", "invalid")


async def test_too_many_multipart_fields_are_refused_as_invalid(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    body = multipart(
        ("email", b"ann@example.com"),
        ("password", PASSWORD.encode()),
        *((f"f{i}", b"x") for i in range(38)),
    )
    response = await browser.post(REGISTER_FORM, content=body, headers=MULTIPART)
    await assert_refused(web, response, "ann@example.com", "invalid")


async def test_repeated_fields_use_the_first_value(web: WebApp, browser: httpx.AsyncClient) -> None:
    body = (
        b"email=ann%40example.com&email=admin%40example.com"
        b"&password=correct+horse+battery&next=%2Fprofile&next=%2F%2Fevil.example"
    )
    response = await browser.post(REGISTER_FORM, content=body, headers=URLENCODED)
    assert location(response) == "/profile"
    assert await web.user("ann@example.com") is not None
    assert await web.user("admin@example.com") is None


@pytest.mark.parametrize("declared", ["abc", "-1", "1e3", " 10"])
async def test_bad_content_length_is_refused(
    web: WebApp, browser: httpx.AsyncClient, declared: str
) -> None:
    body = b"email=ann%40example.com&password=correct+horse+battery"
    headers = {**URLENCODED, "Content-Length": declared}
    response = await browser.post(REGISTER_FORM, content=body, headers=headers)
    await assert_refused(web, response, "ann@example.com", "invalid")


async def test_understated_content_length_cannot_smuggle_a_big_body(
    web: WebApp, browser: httpx.AsyncClient
) -> None:
    headers = {**URLENCODED, "Content-Length": "10"}
    response = await browser.post(REGISTER_FORM, content=_big_form(70 * 1024), headers=headers)
    await assert_refused(web, response, "ann@example.com", "invalid")
