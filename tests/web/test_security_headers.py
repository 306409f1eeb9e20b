"""Pages that take passwords cannot be framed by other sites (clickjacking).

Over HTTP through the real app: the spec's /login_local and /register pages and the
auth routes carry the anti-framing headers; other pages do not unless configured;
headers the app set itself are never replaced.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pywire_auth import ConfigurationError, SecurityHeaders
from tests.web.conftest import (
    LOGIN,
    REGISTER,
    REVOKE,
    TOKEN,
    VERIFY,
    AppFactory,
    WebApp,
    login,
    register,
)

pytestmark = pytest.mark.asyncio

EXPECTED = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'self'",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


# The auth routes under /auth/local/ also carry link tokens' stricter policy.
STRICTER = {"referrer-policy": "no-referrer"}


def assert_protected(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        allowed = [[value], [STRICTER[name]]] if name in STRICTER else [[value]]
        assert response.headers.get_list(name) in allowed, (name, response.headers)


def assert_unprotected(response: httpx.Response) -> None:
    for name in EXPECTED:
        assert name not in response.headers, (name, response.headers)


@pytest.fixture
def web_backend() -> str:
    # Headers do not depend on the store: memory only.
    return "memory"


@pytest.mark.parametrize("path", ["/login_local", "/register"])
async def test_password_pages_cannot_be_framed(web: WebApp, path: str) -> None:
    response = await web.client().get(path)
    assert response.status_code == 200
    assert "password" in response.text
    assert_protected(response)


async def test_password_pages_keep_the_headers_with_an_error_query(web: WebApp) -> None:
    assert_protected(await web.client().get("/login_local?error=invalid"))


async def test_a_trailing_slash_is_the_same_page(web: WebApp) -> None:
    assert_protected(await web.client().get("/register/"))


@pytest.mark.parametrize("path", ["/", "/profile", "/no-such-page"])
async def test_other_pages_are_left_alone(web: WebApp, path: str) -> None:
    response = await web.client().get(path)
    assert_unprotected(response)


async def test_auth_routes_carry_the_headers(web: WebApp) -> None:
    client = web.client()
    assert_protected(await register(client, "ann@example.com"))
    assert_protected(await login(client, "ann@example.com", "wrong password!"))
    assert_protected(await client.post(TOKEN, headers={"Origin": "http://testserver"}))
    assert_protected(await client.post(VERIFY, json={"token": "x"}))
    assert_protected(await client.get(LOGIN))  # 405
    assert_protected(await client.post(REVOKE, headers={"Sec-Fetch-Site": "cross-site"}))  # 403
    assert_protected(await web.client().post(REGISTER, data={}))


async def test_configured_login_and_register_pages_are_covered(app_factory: AppFactory) -> None:
    web = await app_factory(login_page="/signin", register_page="/signup")
    client = web.client()
    assert_protected(await client.get("/signin"))
    assert_protected(await client.get("/signup"))


async def test_more_paths_can_be_configured(app_factory: AppFactory) -> None:
    web = await app_factory(security_headers=SecurityHeaders(paths=("/profile", "/account/*")))
    client = web.client()
    assert_protected(await client.get("/profile"))
    assert_protected(await client.get("/account/password"))
    assert_protected(await client.get("/login_local"))
    assert_unprotected(await client.get("/"))


async def test_all_pages_can_be_configured(app_factory: AppFactory) -> None:
    web = await app_factory(security_headers=SecurityHeaders(all_pages=True))
    assert_protected(await web.client().get("/"))


async def test_the_header_set_can_be_changed(app_factory: AppFactory) -> None:
    custom = SecurityHeaders(headers={"Content-Security-Policy": "frame-ancestors 'none'"})
    web = await app_factory(security_headers=custom)
    response = await web.client().get("/login_local")
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "x-frame-options" not in response.headers


async def test_headers_the_app_set_are_never_replaced(app_factory: AppFactory) -> None:
    web = await app_factory(security_headers=SecurityHeaders(paths=("/embeddable",)))

    async def embeddable(request: Request) -> Response:
        return PlainTextResponse(
            "ok",
            headers={
                "X-Frame-Options": "SAMEORIGIN",
                "Content-Security-Policy": "default-src 'self'; frame-ancestors https://a.example",
            },
        )

    web.app.app.router.routes.insert(0, Route("/embeddable", embeddable))
    response = await web.client().get("/embeddable")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("content-security-policy") == [
        "default-src 'self'; frame-ancestors https://a.example"
    ]
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"paths": "/login"},
        {"paths": ("login",)},
        {"headers": {"X-Frame-Options": "DENY\r\nSet-Cookie: a=b"}},
        {"headers": {"": "x"}},
    ],
    ids=["string-paths", "relative-path", "crlf-value", "empty-name"],
)
async def test_bad_settings_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SecurityHeaders(**kwargs)  # type: ignore[arg-type]
