"""SessionManager with an injected clock: expiry, sliding refresh, rotation, signing."""

from __future__ import annotations

import hashlib

import pytest

from pywire_auth import ConfigurationError, MemoryAuthStore, SessionConfig, UserRecord
from pywire_auth.sessions import SessionManager
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink
from tests.web.conftest import SESSION_SECRET

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _store_with_user(user_id: str = "u1") -> MemoryAuthStore:
    store = MemoryAuthStore()
    await store.create_user(
        UserRecord(user_id=user_id, email=f"{user_id}@example.com"),
        link=ProviderLink(LOCAL_PROVIDER, f"{user_id}@example.com", user_id),
    )
    return store


async def _manager(
    clock: Clock, ttl: int = 100, refresh_after: int = 10
) -> tuple[SessionManager, MemoryAuthStore]:
    store = await _store_with_user()
    config = SessionConfig(ttl=ttl, refresh_after=refresh_after)
    return SessionManager(store, SESSION_SECRET, config, clock=clock), store


async def test_session_expires_after_ttl_and_is_deleted() -> None:
    clock = Clock()
    sessions, store = await _manager(clock)
    token = await sessions.start("u1")
    clock.now += 99
    assert await sessions.load(token) is not None
    clock.now += 1
    assert await sessions.load(token) is None
    assert await store.get_session(sessions.session_id(token)) is None


async def test_refresh_slides_expiry_only_after_refresh_after() -> None:
    clock = Clock()
    sessions, _ = await _manager(clock)
    token = await sessions.start("u1")
    record = await sessions.load(token)
    assert record is not None
    clock.now += 9
    assert not sessions.needs_refresh(record)
    clock.now += 1
    assert sessions.needs_refresh(record)
    assert await sessions.refresh(record)
    refreshed = await sessions.load(token)
    assert refreshed is not None
    assert refreshed.expires_at == int(clock.now) + 100
    assert not sessions.needs_refresh(refreshed)
    # An active user outlives the original ttl.
    clock.now += 95
    assert await sessions.load(token) is not None


async def test_refresh_of_an_ended_session_fails() -> None:
    clock = Clock()
    sessions, _ = await _manager(clock)
    token = await sessions.start("u1")
    record = await sessions.load(token)
    assert record is not None
    await sessions.end(token)
    assert not await sessions.refresh(record)
    assert await sessions.load(token) is None


async def test_start_replacing_deletes_the_old_session() -> None:
    clock = Clock()
    sessions, _ = await _manager(clock)
    old = await sessions.start("u1")
    new = await sessions.start("u1", replacing=old)
    assert new != old
    assert await sessions.load(old) is None
    assert await sessions.load(new) is not None


async def test_end_all_ends_every_session_of_the_user_only() -> None:
    clock = Clock()
    sessions, store = await _manager(clock)
    await store.create_user(
        UserRecord(user_id="u2", email="u2@example.com"),
        link=ProviderLink(LOCAL_PROVIDER, "u2@example.com", "u2"),
    )
    mine = [await sessions.start("u1") for _ in range(3)]
    theirs = await sessions.start("u2")
    assert await sessions.end_all("u1") == 3
    for token in mine:
        assert await sessions.load(token) is None
    assert await sessions.load(theirs) is not None


async def test_store_keeps_the_hash_of_the_token_never_the_token() -> None:
    clock = Clock()
    sessions, store = await _manager(clock)
    token = await sessions.start("u1")
    assert await store.get_session(token) is None
    record = await store.get_session(hashlib.sha256(token.encode()).hexdigest())
    assert record is not None
    assert record.user_id == "u1"
    assert record.created_at == int(clock.now)
    assert record.expires_at == int(clock.now) + 100


async def test_cookie_round_trip_and_forgery() -> None:
    clock = Clock()
    sessions, _ = await _manager(clock)
    token = await sessions.start("u1")
    header = sessions.cookie_header(token, https=False)
    cookie = header.split(";", 1)[0]
    assert sessions.token_from_cookie_header(cookie) == token
    assert sessions.token_from_cookie_header(f"other=1; {cookie}; more=2") == token
    name, _, value = cookie.partition("=")
    tok, _, sig = value.partition(".")
    assert sessions.token_from_cookie_header(f"{name}={tok}.{sig[:-1]}") is None
    assert sessions.token_from_cookie_header(f"{name}={tok}x.{sig}") is None
    assert sessions.token_from_cookie_header(f"{name}={tok}") is None
    other = SessionManager(sessions.store, "another-secret-" + "z" * 32, sessions.config)
    assert other.token_from_cookie_header(cookie) is None


async def test_cookie_flags() -> None:
    clock = Clock()
    sessions, _ = await _manager(clock)
    header = sessions.cookie_header("tok", https=False)
    assert header.endswith("; Path=/; Max-Age=100; HttpOnly; SameSite=Lax")
    assert sessions.cookie_header("tok", https=True).endswith("; Secure")
    assert sessions.clear_cookie_header(https=False).startswith("pywire_auth_session=; ")
    assert "Max-Age=0" in sessions.clear_cookie_header(https=False)


@pytest.mark.parametrize(
    ("ttl", "refresh_after"), [(0, 0), (-1, 0), (100, 100), (100, 101), (100, -1)]
)
async def test_session_config_validation(ttl: int, refresh_after: int) -> None:
    with pytest.raises(ConfigurationError):
        SessionConfig(ttl=ttl, refresh_after=refresh_after)


async def test_secret_must_be_long_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYWIRE_SESSION_SECRET", raising=False)
    store = MemoryAuthStore()
    with pytest.raises(ConfigurationError):
        SessionManager(store, "short")
    with pytest.raises(ConfigurationError):
        SessionManager(store)
    monkeypatch.setenv("PYWIRE_SESSION_SECRET", "env-secret-" + "0123456789abcdef" + "e" * 16)
    assert SessionManager(store).config.cookie_name == "pywire_auth_session"
