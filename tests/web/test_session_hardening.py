"""Session hardening (ASVS V3, RFC 6265bis): absolute lifetime, cookie names, secrets.

Runs on every store backend through ``app_factory``. Cookies are sent as raw
``Cookie`` headers where the test is about what a browser (or an attacker) sends.
"""

from __future__ import annotations

import time

import httpx
import pytest

from pywire_auth import ConfigurationError, SessionConfig
from pywire_auth.sessions import SessionManager
from tests.web.conftest import (
    COOKIE,
    HOST_COOKIE,
    IDP_SECRET,
    SESSION_SECRET,
    AppFactory,
    WebApp,
    cookie_attributes,
    post_form,
    register,
    session_cookie_value,
    session_set_cookie,
)

pytestmark = pytest.mark.asyncio

OLD_SECRET = "old-session-secret-0123456789abcdef"
NEW_SECRET = "new-session-secret-fedcba9876543210"


async def _session_from_the_past(
    web: WebApp, email: str, *, started: float, ttl: int, secret: str = SESSION_SECRET
) -> str:
    """A signed cookie value of a session of ``email`` that began at ``started``."""
    user = await web.user(email)
    assert user is not None
    manager = SessionManager(
        web.store,  # type: ignore[arg-type]
        secret,
        SessionConfig(ttl=ttl, refresh_after=0),
        clock=lambda: started,
    )
    token = await manager.start(user.user_id)
    return manager.cookie_header(token, https=False).split(";", 1)[0].split("=", 1)[1]


async def _profile(web: WebApp, cookie_header: str, *, https: bool = False) -> httpx.Response:
    """GET /profile from a jar-less client with exactly this ``Cookie`` header."""
    client = web.client(base_url="https://testserver" if https else "http://testserver")
    return await client.get("/profile", headers={"Cookie": cookie_header})


def _signed_in(response: httpx.Response) -> bool:
    return response.status_code == 200 and "Email: ann@example.com" in response.text


# 1. Absolute lifetime -------------------------------------------------------------


async def test_a_session_older_than_max_age_is_refused(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(max_age=500))
    await register(web.client(), "ann@example.com")
    now = time.time()
    # Idle expiry far ahead, but signed in 1000 s ago: past the 500 s absolute lifetime.
    old = await _session_from_the_past(web, "ann@example.com", started=now - 1000, ttl=10**6)
    young = await _session_from_the_past(web, "ann@example.com", started=now - 100, ttl=10**6)
    assert _signed_in(await _profile(web, f"{COOKIE}={young}"))  # control
    refused = await _profile(web, f"{COOKIE}={old}")
    assert refused.status_code == 303
    assert session_set_cookie(refused) is None


async def test_refresh_never_slides_past_the_absolute_lifetime(app_factory: AppFactory) -> None:
    config = SessionConfig(ttl=400, refresh_after=0, max_age=1100)
    web = await app_factory(session_config=config)
    await register(web.client(), "ann@example.com")
    started = int(time.time()) - 1000
    # Idle expiry 50 s ahead; a refresh would give now + 400, the cap is started + 1100.
    value = await _session_from_the_past(web, "ann@example.com", started=started, ttl=1050)
    page = await _profile(web, f"{COOKIE}={value}")
    assert _signed_in(page)
    header = session_set_cookie(page)
    assert header is not None, "an active session is still refreshed up to its cap"
    assert 0 < int(cookie_attributes(header)["max-age"]) <= 100
    token = value.split(".", 1)[0]
    record = await web.store.get_session(SessionManager.session_id(token))  # type: ignore[attr-defined]
    assert record is not None
    assert record.expires_at == started + 1100


async def test_a_new_cookie_never_outlives_max_age(app_factory: AppFactory) -> None:
    web = await app_factory(session_config=SessionConfig(ttl=1000, refresh_after=10, max_age=300))
    header = session_set_cookie(await register(web.client(), "ann@example.com"))
    assert header is not None
    assert cookie_attributes(header)["max-age"] == "300"


# 4. Cookie names ------------------------------------------------------------------


async def test_a_cookie_sent_twice_is_anonymous(web: WebApp) -> None:
    value = session_cookie_value(await register(web.client(), "ann@example.com"))
    assert value is not None
    assert _signed_in(await _profile(web, f"theme=dark; {COOKIE}={value}"))  # control
    for header in (
        f"{COOKIE}={value}; {COOKIE}={value}",
        f"{COOKIE}=forged.value; {COOKIE}={value}",
        f"{COOKIE}={value}; theme=dark; {COOKIE}=forged.value",
        f"{COOKIE}={value};{COOKIE}=",
    ):
        response = await _profile(web, header)
        assert response.status_code == 303, header


async def test_https_cookie_is_host_prefixed_and_only_that_name_is_read(web: WebApp) -> None:
    browser = web.client(base_url="https://testserver")
    response = await post_form(
        browser,
        "/auth/local/register",
        {"email": "ann@example.com", "password": "correct horse battery"},
        headers={"Origin": "https://testserver"},
    )
    header = session_set_cookie(response)
    assert header is not None
    assert header.startswith(HOST_COOKIE + "=")
    attrs = cookie_attributes(header)
    assert "secure" in attrs
    assert attrs["path"] == "/"
    assert "domain" not in attrs  # __Host- forbids it
    value = session_cookie_value(response)
    assert _signed_in(await _profile(web, f"{HOST_COOKIE}={value}", https=True))
    # The unprefixed name could have been planted over plain HTTP or by a subdomain.
    assert (await _profile(web, f"{COOKIE}={value}", https=True)).status_code == 303
    # And over plain HTTP only the unprefixed name exists.
    assert (await _profile(web, f"{HOST_COOKIE}={value}")).status_code == 303


async def test_secure_true_behind_a_tls_proxy_uses_the_host_prefix_on_http(
    app_factory: AppFactory,
) -> None:
    # The proxy terminated TLS: the app sees http, the browser saw https.
    web = await app_factory(session_config=SessionConfig(secure=True))
    response = await register(web.client(), "ann@example.com")
    header = session_set_cookie(response)
    assert header is not None
    assert header.startswith(HOST_COOKIE + "=")
    assert "secure" in cookie_attributes(header)
    value = session_cookie_value(response)
    assert _signed_in(await _profile(web, f"{HOST_COOKIE}={value}"))
    assert (await _profile(web, f"{COOKIE}={value}")).status_code == 303


async def test_secure_cookie_on_a_sub_path_uses_the_secure_prefix() -> None:
    from pywire_auth import MemoryAuthStore

    manager = SessionManager(MemoryAuthStore(), SESSION_SECRET, SessionConfig(path="/app"))
    assert manager.cookie_name_for(https=True) == "__Secure-" + COOKIE
    assert manager.cookie_header("t", https=True).startswith("__Secure-" + COOKIE + "=")
    assert manager.cookie_name_for(https=False) == COOKIE
    with pytest.raises(ConfigurationError):
        SessionConfig(cookie_name="__Host-sid")


# 5. Secrets -----------------------------------------------------------------------


async def test_session_and_idp_secret_must_differ(app_factory: AppFactory) -> None:
    with pytest.raises(ConfigurationError, match="differ"):
        await app_factory(session_secret=IDP_SECRET)
    with pytest.raises(ConfigurationError, match="differ"):
        await app_factory(session_secret=NEW_SECRET, session_secret_fallbacks=[IDP_SECRET])


async def test_weak_session_secret_is_refused(app_factory: AppFactory) -> None:
    for weak in ("a" * 40, "abcd" * 10, "0123456789" * 4, "correct horse battery staple x9"):
        with pytest.raises(ConfigurationError, match="not a usable secret"):
            await app_factory(session_secret=weak)


async def test_cookie_signed_with_a_fallback_secret_is_accepted_and_resigned(
    app_factory: AppFactory,
) -> None:
    old_app = await app_factory(session_secret=OLD_SECRET)
    value = session_cookie_value(await register(old_app.client(), "ann@example.com"))
    assert value is not None
    # The same store, the app restarted with a new secret.
    strict = await app_factory(store=old_app.store, session_secret=NEW_SECRET)
    assert (await _profile(strict, f"{COOKIE}={value}")).status_code == 303  # control
    rotated = await app_factory(
        store=old_app.store, session_secret=NEW_SECRET, session_secret_fallbacks=[OLD_SECRET]
    )
    page = await _profile(rotated, f"{COOKIE}={value}")
    assert _signed_in(page)
    resigned = session_cookie_value(page)
    assert resigned is not None
    assert resigned != value
    assert resigned.split(".")[0] == value.split(".")[0]  # same session, new signature
    assert _signed_in(await _profile(strict, f"{COOKIE}={resigned}"))


async def test_fallbacks_come_from_the_environment(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_app = await app_factory(session_secret=OLD_SECRET)
    value = session_cookie_value(await register(old_app.client(), "ann@example.com"))
    monkeypatch.setenv("PYWIRE_SESSION_SECRET_FALLBACKS", f" {OLD_SECRET} , ")
    rotated = await app_factory(store=old_app.store, session_secret=NEW_SECRET)
    assert _signed_in(await _profile(rotated, f"{COOKIE}={value}"))
    monkeypatch.setenv("PYWIRE_SESSION_SECRET_FALLBACKS", "a" * 40)
    with pytest.raises(ConfigurationError, match="PYWIRE_SESSION_SECRET_FALLBACKS"):
        await app_factory(session_secret=NEW_SECRET)
