"""connect_auth's documented short options and the on_login/on_logout hooks."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pywire import PyWire
from pywire.auth import ANONYMOUS, ClaimsPrincipal
from starlette.requests import Request

from pywire_auth import ConfigurationError, MemoryAuthStore, SessionConfig, connect_auth
from tests.web.conftest import (
    HOST_COOKIE,
    PAGES_DIR,
    SESSION_SECRET,
    AppFactory,
    cookie_attributes,
    location,
    login,
    make_idp,
    post_form,
    register,
    revoke,
    session_cookie_value,
    session_set_cookie,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio
#: The options act above the store: one backend is enough.
MEMORY = pytest.mark.parametrize("web_backend", ["memory"])

ANN = "ann@example.com"
OTHER_SECRET = "another-session-secret-" + "0c7d1e4f9a2b6385c0d7e1f4a9b26385"


@MEMORY
async def test_secret_key_is_the_session_secret(app_factory: AppFactory) -> None:
    store = MemoryAuthStore()
    first = await app_factory(idp=make_idp(store), session_secret=OTHER_SECRET)
    cookie = session_cookie_value(await register(first.client(), ANN))
    assert cookie is not None
    # Another process of the same app, configured the documented way.
    second = await app_factory(idp=make_idp(store), session_secret="", secret_key=OTHER_SECRET)
    assert await signed_in_as(second.client(cookie=cookie)) == ANN


async def test_two_different_secrets_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="secret_key"):
        connect_auth(
            PyWire(pages_dir=str(PAGES_DIR)),
            local_idp=make_idp(),
            session_secret=SESSION_SECRET,
            secret_key=OTHER_SECRET,
        )


@MEMORY
async def test_session_ttl_sets_the_cookie_lifetime(app_factory: AppFactory) -> None:
    web = await app_factory(session_ttl=1800)
    header = session_set_cookie(await register(web.client(), ANN))
    assert header is not None
    assert cookie_attributes(header)["max-age"] == "1800"


@MEMORY
async def test_cookie_secure_makes_a_secure_cookie(app_factory: AppFactory) -> None:
    web = await app_factory(cookie_secure=True)
    header = session_set_cookie(await register(web.client(), ANN))
    assert header is not None
    assert header.startswith(HOST_COOKIE + "=")
    assert "secure" in cookie_attributes(header)


async def test_shortcuts_do_not_mix_with_session_config() -> None:
    with pytest.raises(ConfigurationError, match="session_config"):
        connect_auth(
            PyWire(pages_dir=str(PAGES_DIR)),
            local_idp=make_idp(),
            session_secret=SESSION_SECRET,
            session_config=SessionConfig(),
            session_ttl=600,
        )


class Recorder:
    """Hooks that remember how they were called."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, ClaimsPrincipal, Request]] = []
        self.fail = fail

    async def on_login(self, principal: ClaimsPrincipal, request: Request) -> None:
        self.calls.append(("login", principal, request))
        if self.fail:
            raise RuntimeError("analytics is down")

    def on_logout(self, principal: ClaimsPrincipal, request: Request) -> None:
        # A plain function works too.
        self.calls.append(("logout", principal, request))
        if self.fail:
            raise RuntimeError("analytics is down")


@MEMORY
async def test_hooks_run_after_sign_in_and_sign_out(app_factory: AppFactory) -> None:
    hooks = Recorder()
    web = await app_factory(on_login=hooks.on_login, on_logout=hooks.on_logout)
    browser = web.client()
    await register(browser, ANN, next="/profile")
    await login(web.client(), ANN)
    await revoke(browser)
    await revoke(web.client())  # no session: still a sign-out, by no one
    user = await web.user(ANN)
    assert user is not None
    kinds = [kind for kind, _, _ in hooks.calls]
    assert kinds == ["login", "login", "logout", "logout"]
    for _, principal, request in hooks.calls[:3]:
        assert principal.is_authenticated
        assert principal.user_id.endswith(user.user_id)
        assert isinstance(request, Request)
    assert hooks.calls[0][2].url.path == "/auth/local/register"
    assert hooks.calls[1][2].url.path == "/auth/local/login"
    assert hooks.calls[3][1] is ANONYMOUS


@MEMORY
async def test_a_failing_hook_never_breaks_the_sign_in(
    app_factory: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = Recorder(fail=True)
    web = await app_factory(on_login=hooks.on_login, on_logout=hooks.on_logout)
    browser = web.client()
    with caplog.at_level(logging.ERROR, "pywire_auth.hooks"):
        response = await register(browser, ANN, next="/profile")
        assert location(response) == "/profile"
        assert await signed_in_as(browser) == ANN
        signed_out = await revoke(browser)
    assert location(signed_out) == "/"
    assert await signed_in_as(browser) is None
    failures: list[Any] = [r for r in caplog.records if r.name == "pywire_auth.hooks"]
    assert len(failures) == 2
    assert all(r.exc_info is not None for r in failures)


@MEMORY
async def test_logout_route_runs_on_logout_and_takes_next_from_its_url(
    app_factory: AppFactory,
) -> None:
    hooks = Recorder()
    web = await app_factory(on_logout=hooks.on_logout)
    browser = web.client()
    await register(browser, ANN, next="/profile")
    response = await post_form(browser, "/auth/logout?next=/bye")
    assert location(response) == "/bye"
    assert await signed_in_as(browser) is None
    assert [(kind, principal.is_authenticated) for kind, principal, _ in hooks.calls] == [
        ("logout", True)
    ]
