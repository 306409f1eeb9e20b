"""connect_auth: configuration errors and what it leaves on the app."""

from __future__ import annotations

from typing import Any

import pytest
from pywire import PyWire
from pywire.auth import MemoryAuthChannel, PolicyEngine

from pywire_auth import (
    AuthActions,
    ConfigurationError,
    MemoryAuthStore,
    connect_auth,
)
from pywire_auth.channels.store import StoreAuthChannel
from tests.web.conftest import (
    PAGES_DIR,
    SESSION_SECRET,
    AppFactory,
    location,
    make_idp,
    post_form,
    register,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio


async def test_app_state_after_connect(app_factory: AppFactory) -> None:
    channel = MemoryAuthChannel()
    engine = PolicyEngine()
    web = await app_factory(auth_channel=channel, policy_engine=engine)
    state = web.app.state
    assert state.local_idp is web.idp
    assert state.auth_store is web.idp.store
    assert state.auth_channel is channel
    assert vars(web.app)["_auth_channel"] is channel  # where PyWire's WebSocket looks for it
    assert state.auth_providers == []  # names of external providers only
    assert state.auth_provider_map == {"local": web.idp}
    assert isinstance(state.auth, AuthActions)
    assert state.auth_engine is engine


async def test_connect_returns_the_policy_engine() -> None:
    app = PyWire(pages_dir=str(PAGES_DIR))
    idp = make_idp()
    try:
        engine = connect_auth(app, local_idp=idp, session_secret=SESSION_SECRET)
        assert isinstance(engine, PolicyEngine)
        assert app.state.auth_engine is engine
        # The default reaches live pages in every worker process: the store's event log.
        assert isinstance(vars(app)["_auth_channel"], StoreAuthChannel)
    finally:
        await idp.aclose()


async def test_connecting_twice_is_refused(app_factory: AppFactory) -> None:
    web = await app_factory()
    routes_before = list(web.app.app.router.routes)
    with pytest.raises(ConfigurationError):
        connect_auth(web.app, local_idp=make_idp(), session_secret=SESSION_SECRET)
    assert list(web.app.app.router.routes) == routes_before
    assert location(await register(web.client(), "ann@example.com")) == "/"


async def test_missing_session_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYWIRE_SESSION_SECRET", raising=False)
    app = PyWire(pages_dir=str(PAGES_DIR))
    idp = make_idp()
    try:
        with pytest.raises(ConfigurationError, match="PYWIRE_SESSION_SECRET"):
            connect_auth(app, local_idp=idp)
        with pytest.raises(ConfigurationError):
            connect_auth(app, local_idp=idp, session_secret="too short")
        assert not getattr(app, "_pywire_auth_connected", False)
        # A failed attempt leaves the app connectable.
        connect_auth(app, local_idp=idp, session_secret=SESSION_SECRET)
        assert vars(app)["_pywire_auth_connected"] is True
    finally:
        await idp.aclose()


@pytest.fixture
def env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYWIRE_SESSION_SECRET", "env-secret-" + "e" * 32)


@pytest.mark.usefixtures("env_secret")
async def test_session_secret_from_the_environment(app_factory: AppFactory) -> None:
    web = await app_factory(session_secret="")
    browser = web.client()
    await register(browser, "ann@example.com")
    assert await signed_in_as(browser) == "ann@example.com"


async def test_bad_throttle_is_refused(app_factory: AppFactory) -> None:
    with pytest.raises(ConfigurationError):
        await app_factory(throttle="20/minute")


async def test_custom_prefix_and_pages(app_factory: AppFactory) -> None:
    web = await app_factory(prefix="/account/", login_page="/signin", register_page="/signup")
    client = web.client()
    response = await post_form(
        client, "/account/local/register", {"email": "ann@example.com", "password": "short"}
    )
    assert location(response) == "/signup?error=weak_password"
    response = await post_form(
        client, "/account/local/login", {"email": "ann@example.com", "password": "wrong pass"}
    )
    assert location(response) == "/signin?error=invalid"
    # The default paths are not mounted: they fall through to PyWire.
    response = await post_form(
        client, "/auth/local/register", {"email": "ann@example.com", "password": "long enough"}
    )
    assert response.status_code != 303


class UsersOnlyStore:
    """An AuthStore that keeps no sessions (delegates user calls to a memory store)."""

    def __init__(self) -> None:
        self._inner = MemoryAuthStore()

    def __getattr__(self, name: str) -> Any:
        if name in _AUTH_STORE_METHODS:
            return getattr(self._inner, name)
        raise AttributeError(name)


_AUTH_STORE_METHODS = frozenset(
    {
        "create_user",
        "get_user",
        "get_user_by_link",
        "get_login",
        "get_password_hash",
        "set_password_hash",
        "update_user",
        "add_link",
        "get_links",
        "delete_user",
        "close",
    }
)


# A property of connect_auth, not of a database: checked once, not per backend.
@pytest.mark.parametrize("web_backend", ["memory"])
async def test_store_without_sessions_is_refused(app_factory: AppFactory) -> None:
    with pytest.raises(ConfigurationError, match="SessionStore"):
        await app_factory(idp=make_idp(UsersOnlyStore()))
