"""AuthMiddleware: the principal every page and route sees, and store outages."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pywire.auth import ANONYMOUS, ClaimsPrincipal
from pywire.auth.context import get_auth_context
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from pywire_auth import MemoryAuthStore, SessionConfig
from pywire_auth.middleware import SESSION_SCOPE_KEY, AuthMiddleware
from tests.web.conftest import (
    OUTAGE_BACKENDS,
    AppFactory,
    Outage,
    WebApp,
    assert_cookie_cleared,
    error_code,
    location,
    login,
    register,
    revoke,
    session_cookie_value,
    session_set_cookie,
    signed_in_as,
    token,
)

pytestmark = pytest.mark.asyncio


def add_whoami(web: WebApp) -> None:
    """A test-only route that reports what the middleware put in the scope."""

    async def whoami(request: Request) -> JSONResponse:
        user = request.scope.get("user", "missing")
        ctx = get_auth_context()
        return JSONResponse(
            {
                "is_none": user is None,
                "is_anonymous_singleton": user is ANONYMOUS,
                "is_principal": isinstance(user, ClaimsPrincipal),
                "authenticated": getattr(user, "is_authenticated", None),
                "user_id": getattr(user, "user_id", None),
                "has_session_token": request.scope.get(SESSION_SCOPE_KEY) is not None,
                "context_matches": ctx is not None and ctx.principal is user,
                "context_engine": ctx is not None and ctx.engine is web.app.state.auth_engine,
            }
        )

    web.app.app.router.routes.insert(0, Route("/_test/whoami", whoami))


async def test_auth_page_redirects_anonymous_to_login(web: WebApp) -> None:
    response = await web.client().get("/profile")
    assert location(response) == "/login_local"


async def test_anonymous_user_is_the_anonymous_principal_not_none(web: WebApp) -> None:
    add_whoami(web)
    client = web.client()
    body = (await client.get("/_test/whoami")).json()
    assert body["is_none"] is False
    assert body["is_anonymous_singleton"] is True
    assert body["authenticated"] is False
    assert body["has_session_token"] is False
    assert body["context_matches"] is True
    assert body["context_engine"] is True
    page = await client.get("/")
    assert page.status_code == 200
    assert "You are not signed in" in page.text


async def test_signed_in_user_is_their_principal(web: WebApp) -> None:
    add_whoami(web)
    client = web.client()
    await register(client, "ann@example.com", name="Ann")
    user = await web.user("ann@example.com")
    assert user is not None
    body = (await client.get("/_test/whoami")).json()
    assert body["is_principal"] is True
    assert body["authenticated"] is True
    assert body["user_id"] == f"local:{user.user_id}"
    assert body["has_session_token"] is True
    assert body["context_matches"] is True
    page = await client.get("/")
    assert "Hello, Ann." in page.text


async def test_deleted_user_session_is_anonymous(web: WebApp) -> None:
    client = web.client()
    await register(client, "ann@example.com")
    user = await web.user("ann@example.com")
    assert user is not None
    await web.store.delete_user(user.user_id)
    assert await signed_in_as(client) is None
    assert (await token(client)).status_code == 401


@OUTAGE_BACKENDS
async def test_store_outage_during_a_page_get_is_anonymous_not_500(
    app_factory: AppFactory, outage: Outage
) -> None:
    web = await app_factory(store=outage.store)
    client = web.client()
    cookie = session_cookie_value(await register(client, "ann@example.com"))
    assert cookie is not None

    outage.down()
    page = await client.get("/")
    assert page.status_code == 200
    assert "You are not signed in" in page.text
    assert session_set_cookie(page) is None  # the cookie is kept, not cleared
    profile = await client.get("/profile")
    assert location(profile) == "/login_local"
    assert session_set_cookie(profile) is None
    assert (await token(client)).status_code == 401

    outage.up()
    assert await signed_in_as(client) == "ann@example.com"


@OUTAGE_BACKENDS
async def test_revoke_during_a_store_outage_reports_unavailable(
    app_factory: AppFactory, outage: Outage
) -> None:
    # The user asked to end every session; when the store is down that cannot
    # happen, and the answer must say so instead of looking like success.
    web = await app_factory(store=outage.store)
    laptop, phone = web.client(), web.client()
    await register(laptop, "ann@example.com")
    await login(phone, "ann@example.com")

    outage.down()
    response = await revoke(laptop)
    assert error_code(response) == "unavailable"
    assert_cookie_cleared(response)  # this browser is signed out regardless
    outage.up()
    # Nothing was revoked: the phone is still signed in, as the answer said.
    assert await signed_in_as(phone) == "ann@example.com"


@OUTAGE_BACKENDS
async def test_refresh_failure_during_outage_is_not_500(
    app_factory: AppFactory, outage: Outage
) -> None:
    config = SessionConfig(ttl=100, refresh_after=0)
    web = await app_factory(store=outage.store, session_config=config)
    client = web.client()
    await register(client, "ann@example.com")
    outage.down()
    page = await client.get("/")
    assert page.status_code == 200
    assert session_set_cookie(page) is None


async def _run_middleware(web: WebApp, scope_type: str, headers: list[tuple[bytes, bytes]]) -> Any:
    """Run AuthMiddleware (as connect_auth configured it) around a stub app; return the user."""
    seen: dict[str, Any] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen["user"] = scope.get("user")

    configured: Any = next(
        m for m in web.app.app.user_middleware if getattr(m, "cls", None) is AuthMiddleware
    )
    wrapped = AuthMiddleware(inner, **configured.kwargs)
    scope = {
        "type": scope_type,
        "path": "/_pywire/ws",
        "headers": [(b"host", b"testserver"), *headers],
        "scheme": "ws" if scope_type == "websocket" else "http",
    }

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        return None

    await wrapped(scope, receive, send)
    return seen["user"]


@pytest.mark.parametrize(
    "headers",
    [
        [(b"origin", b"http://evil.example")],
        [(b"sec-fetch-site", b"cross-site")],
        [(b"origin", b"http://testserver:8080")],
        [(b"origin", b"https://testserver")],
    ],
    ids=["origin", "sec-fetch-site", "origin-other-port", "origin-other-scheme"],
)
async def test_cross_site_websocket_is_anonymous(
    web: WebApp, headers: list[tuple[bytes, bytes]]
) -> None:
    # Cross-site WebSocket hijacking: the victim's cookie rides along, but the
    # socket must not be authenticated as the victim.
    cookie = session_cookie_value(await register(web.client(), "ann@example.com"))
    cookie_header = (b"cookie", f"pywire_auth_session={cookie}".encode())
    same = await _run_middleware(
        web, "websocket", [cookie_header, (b"origin", b"http://testserver")]
    )
    assert same.is_authenticated  # control
    user = await _run_middleware(web, "websocket", [cookie_header, *headers])
    assert user is ANONYMOUS


class ThirdPartyStore(MemoryAuthStore):
    """A store from outside this package: it fails with its own errors, not AuthError."""

    broken = False

    async def get_session_user(self, session_id: str) -> Any:
        if self.broken:
            raise RuntimeError("vendor driver: connection reset")
        return await super().get_session_user(session_id)


@pytest.mark.parametrize("web_backend", ["memory"])
async def test_a_foreign_store_error_is_anonymous_and_logged_once(
    app_factory: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    store = ThirdPartyStore()
    web = await app_factory(store=store, session_config=SessionConfig(cache_ttl=0))
    client = web.client()
    assert session_cookie_value(await register(client, "ann@example.com")) is not None

    store.broken = True
    with caplog.at_level(logging.DEBUG, "pywire_auth.middleware"):
        for _ in range(3):
            page = await client.get("/")
            assert page.status_code == 200
            assert "You are not signed in" in page.text
            assert session_set_cookie(page) is None  # the cookie is kept
        profile = await client.get("/profile")
        assert location(profile) == "/login_local"
    errors = [
        r
        for r in caplog.records
        if r.name == "pywire_auth.middleware" and r.levelno >= logging.WARNING
    ]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "RuntimeError" in errors[0].getMessage()
    assert errors[0].exc_info is not None

    store.broken = False
    assert await signed_in_as(client) == "ann@example.com"
