"""The per-process session cache: served within cache_ttl, dropped at once on every change.

A store that counts its per-request reads shows whether a lookup was answered from
memory; a fake clock moves time. Changes "made by another process" are made straight
in the store, which is what another worker's write looks like from here.
"""

from __future__ import annotations

import asyncio

import pytest
from pywire.auth import MemoryAuthChannel, PolicyEngine

from pywire_auth import AuthActions, ConfigurationError, MemoryAuthStore, SessionConfig, UserRecord
from pywire_auth._state import AuthState
from pywire_auth.session_cache import CachedSession, SessionCache
from pywire_auth.sessions import SessionManager
from pywire_auth.types import LOCAL_PROVIDER, ProviderLink, SessionRecord
from tests.web.conftest import SESSION_SECRET

pytestmark = pytest.mark.asyncio

START = 1_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryAuthStore):
    """A memory store that counts session lookups and can hold one mid-read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def get_session_user(self, session_id: str) -> tuple[SessionRecord, UserRecord] | None:
        self.reads += 1
        found = await super().get_session_user(session_id)
        if self.gate is not None:
            # The row is read; the answer is still on its way back (a slow query).
            self.reading.set()
            await self.gate.wait()
        return found

    async def add(self, user_id: str, name: str = "") -> None:
        await self.create_user(
            UserRecord(user_id=user_id, email=f"{user_id}@example.com", name=name),
            link=ProviderLink(LOCAL_PROVIDER, f"{user_id}@example.com", user_id),
        )


async def _setup(
    *, cache_ttl: float = 1.0, cache_size: int = 100, ttl: int = 1000, refresh_after: int = 100
) -> tuple[SessionManager, CountingStore, Clock]:
    store = CountingStore()
    await store.add("u1", "Ann")
    await store.add("u2", "Bob")
    clock = Clock()
    config = SessionConfig(
        ttl=ttl, refresh_after=refresh_after, cache_ttl=cache_ttl, cache_size=cache_size
    )
    return SessionManager(store, SESSION_SECRET, config, clock=clock), store, clock


async def _name(sessions: SessionManager, token: str) -> str | None:
    found = await sessions.lookup(token)
    return found.principal.name if found else None


async def test_lookups_within_cache_ttl_are_served_from_memory() -> None:
    sessions, store, clock = await _setup(cache_ttl=1.0)
    token = await sessions.start("u1")
    first = await sessions.lookup(token)
    assert first is not None
    assert first.principal.user_id == "local:u1"
    assert first.principal.name == "Ann"
    clock.now += 0.9
    again = await sessions.lookup(token)
    assert store.reads == 1
    # The same principal object: it is built once per store read, not per request.
    assert again is first
    clock.now += 0.1  # cache_ttl after the read began: asked again
    assert await sessions.lookup(token) is not None
    assert store.reads == 2


async def test_a_change_made_elsewhere_shows_within_cache_ttl() -> None:
    sessions, store, clock = await _setup(cache_ttl=1.0)
    token = await sessions.start("u1")
    assert await _name(sessions, token) == "Ann"
    await store.update_user("u1", name="Ann B.")  # another process, no hook called
    assert await _name(sessions, token) == "Ann"
    clock.now += 1.0
    assert await _name(sessions, token) == "Ann B."


async def test_a_session_revoked_elsewhere_is_refused_after_cache_ttl() -> None:
    sessions, store, clock = await _setup(cache_ttl=1.0)
    token = await sessions.start("u1")
    assert await sessions.lookup(token) is not None
    await store.delete_user_sessions("u1")  # another process, no hook called
    clock.now += 1.0
    assert await sessions.lookup(token) is None


async def test_cache_ttl_zero_reads_the_store_every_time() -> None:
    sessions, store, _ = await _setup(cache_ttl=0)
    token = await sessions.start("u1")
    for _ in range(3):
        assert await sessions.lookup(token) is not None
    assert store.reads == 3
    await store.delete_session(sessions.session_id(token))
    assert await sessions.lookup(token) is None


async def test_a_clock_going_backwards_makes_entries_stale() -> None:
    sessions, store, clock = await _setup(cache_ttl=1.0)
    token = await sessions.start("u1")
    await sessions.lookup(token)
    clock.now -= 5.0
    await sessions.lookup(token)
    assert store.reads == 2


async def test_end_refuses_the_session_at_once() -> None:
    sessions, _, _ = await _setup(cache_ttl=60)
    token = await sessions.start("u1")
    assert await sessions.lookup(token) is not None
    await sessions.end(token)
    assert await sessions.lookup(token) is None
    assert await sessions.load(token) is None


async def test_end_all_refuses_every_session_of_the_user_at_once() -> None:
    sessions, store, _ = await _setup(cache_ttl=60)
    mine = [await sessions.start("u1") for _ in range(3)]
    theirs = await sessions.start("u2")
    for token in [*mine, theirs]:
        assert await sessions.lookup(token) is not None
    reads = store.reads
    assert await sessions.end_all("u1") == 3
    for token in mine:
        assert await sessions.lookup(token) is None
    assert await sessions.lookup(theirs) is not None
    # Only u1's entries went: u2's session is still answered from memory.
    assert store.reads == reads + len(mine)


async def test_signing_in_over_an_old_session_refuses_the_old_one_at_once() -> None:
    sessions, _, _ = await _setup(cache_ttl=60)
    old = await sessions.start("u1")
    assert await sessions.lookup(old) is not None
    new = await sessions.start("u1", replacing=old)
    assert await sessions.lookup(old) is None
    assert await sessions.lookup(new) is not None


async def test_refresh_drops_the_entry_so_the_new_expiry_is_read() -> None:
    sessions, store, clock = await _setup(cache_ttl=60, ttl=1000, refresh_after=100)
    token = await sessions.start("u1")
    clock.now += 150
    found = await sessions.lookup(token)
    assert found is not None
    assert sessions.needs_refresh(found.record)
    assert await sessions.refresh(found.record)
    refreshed = await sessions.lookup(token)
    assert refreshed is not None
    assert refreshed.record.expires_at == int(clock.now) + 1000
    assert not sessions.needs_refresh(refreshed.record)
    assert store.reads == 2


async def test_a_cached_session_is_refused_at_its_expiry() -> None:
    sessions, store, clock = await _setup(cache_ttl=60, ttl=100, refresh_after=50)
    token = await sessions.start("u1")
    clock.now += 99
    assert await sessions.lookup(token) is not None  # cached, fresh for 60 more seconds
    clock.now += 1
    assert await sessions.lookup(token) is None
    assert await store.get_session(sessions.session_id(token)) is None  # and deleted


async def test_an_expired_entry_refreshed_elsewhere_is_read_again() -> None:
    sessions, store, clock = await _setup(cache_ttl=60, ttl=100, refresh_after=50)
    token = await sessions.start("u1")
    clock.now += 99
    assert await sessions.lookup(token) is not None
    # Another worker slid the expiry forward meanwhile.
    await store.touch_session(sessions.session_id(token), int(clock.now) + 100)
    clock.now += 1
    found = await sessions.lookup(token)
    assert found is not None
    assert found.record.expires_at == int(clock.now) + 99


async def test_forget_session_hook_drops_one_session() -> None:
    sessions, store, _ = await _setup(cache_ttl=60)
    token = await sessions.start("u1")
    other = await sessions.start("u1")
    assert await sessions.lookup(token) is not None
    assert await sessions.lookup(other) is not None
    await store.delete_session(sessions.session_id(token))  # another process ended it...
    assert await sessions.lookup(token) is not None  # ...unannounced: still served
    sessions.forget_session(sessions.session_id(token))  # the channel announces it
    assert await sessions.lookup(token) is None
    reads = store.reads
    assert await sessions.lookup(other) is not None
    assert store.reads == reads


async def test_forget_user_hook_drops_every_session_of_the_user() -> None:
    sessions, store, _ = await _setup(cache_ttl=60)
    mine = [await sessions.start("u1") for _ in range(2)]
    theirs = await sessions.start("u2")
    for token in [*mine, theirs]:
        await sessions.lookup(token)
    await store.update_user("u1", name="Ann B.")
    sessions.forget_user("u1")
    assert [await _name(sessions, token) for token in mine] == ["Ann B.", "Ann B."]
    reads = store.reads
    assert await _name(sessions, theirs) == "Bob"
    assert store.reads == reads


async def test_a_forget_during_a_store_read_keeps_that_read_out_of_the_cache() -> None:
    sessions, store, _ = await _setup(cache_ttl=60)
    token = await sessions.start("u1")
    store.gate = asyncio.Event()
    lookup = asyncio.create_task(sessions.lookup(token))
    await store.reading.wait()  # the row was read before the revocation below
    await store.delete_user_sessions("u1")
    sessions.forget_user("u1")
    store.gate.set()
    store.gate = None
    assert await lookup is not None  # that request began before the revocation
    assert await sessions.lookup(token) is None  # but nothing stale was kept


async def test_the_cache_keeps_at_most_cache_size_sessions() -> None:
    sessions, store, _ = await _setup(cache_ttl=60, cache_size=2)
    tokens = [await sessions.start("u1") for _ in range(3)]
    for token in tokens:
        await sessions.lookup(token)
    assert len(sessions._cache) == 2
    reads = store.reads
    await sessions.lookup(tokens[2])
    await sessions.lookup(tokens[1])
    assert store.reads == reads
    await sessions.lookup(tokens[0])  # the least recently used went first
    assert store.reads == reads + 1


async def test_claim_changes_through_actions_show_at_once() -> None:
    sessions, store, _ = await _setup(cache_ttl=60)
    actions = AuthActions(
        AuthState(
            store=store, sessions=sessions, engine=PolicyEngine(), channel=MemoryAuthChannel()
        )
    )
    token = await sessions.start("u1")
    found = await sessions.lookup(token)
    assert found is not None
    assert not found.principal.has_claim("role", "editor")
    await actions.grant("local:u1", "role", "editor")
    found = await sessions.lookup(token)
    assert found is not None
    assert found.principal.has_claim("role", "editor")
    await actions.revoke_claim("u1", "role", "editor")
    found = await sessions.lookup(token)
    assert found is not None
    assert not found.principal.has_claim("role")
    await actions.update_claims("u1", {"plan": "pro"})
    found = await sessions.lookup(token)
    assert found is not None
    assert found.principal.claim_value("plan") == "pro"


async def test_revoke_through_actions_refuses_at_once() -> None:
    sessions, store, _ = await _setup(cache_ttl=60)
    actions = AuthActions(
        AuthState(
            store=store, sessions=sessions, engine=PolicyEngine(), channel=MemoryAuthChannel()
        )
    )
    token, other = await sessions.start("u1"), await sessions.start("u1")
    await sessions.lookup(token)
    await sessions.lookup(other)
    await actions.revoke_session(token)
    assert await sessions.lookup(token) is None
    assert await sessions.lookup(other) is not None
    await actions.revoke_sessions("local:u1")
    assert await sessions.lookup(other) is None


async def test_remembered_cookie_headers_give_the_same_answers() -> None:
    sessions, _, _ = await _setup(cache_size=2)
    tokens = [await sessions.start("u1") for _ in range(3)]
    headers = [sessions.cookie_header(t, https=False).split(";", 1)[0] for t in tokens]
    for _ in range(2):
        for header, token in zip(headers, tokens, strict=True):
            assert sessions.token_from_cookie_header(header) == token
            assert sessions.token_from_cookie_header(f"a=1; {header}") == token
            name, _, value = header.partition("=")
            assert sessions.token_from_cookie_header(f"{name}={value[:-1]}") is None
    assert len(sessions._verified) == 2  # bounded by cache_size


async def test_session_cache_unit() -> None:
    clock = Clock(10.0)
    cache = SessionCache(ttl=1.0, max_entries=10, clock=clock)
    user = UserRecord("u1", "u1@example.com")
    record = SessionRecord("s" * 64, "u1", 0, 100)
    entry = CachedSession(record, user, principal=None)  # type: ignore[arg-type]
    stale = cache.generation
    cache.forget_session("unrelated")
    cache.put(entry, read_at=10.0, generation=stale)  # a forget happened since: refused
    assert cache.get(record.session_id) is None
    cache.put(entry, read_at=10.0, generation=cache.generation)
    assert cache.get(record.session_id) is entry
    clock.now = 11.0
    assert cache.get(record.session_id) is None
    assert len(cache) == 0
    off = SessionCache(ttl=0, max_entries=10, clock=clock)
    off.put(entry, read_at=11.0, generation=off.generation)
    assert len(off) == 0
    cache.put(entry, read_at=11.0, generation=cache.generation)
    cache.clear()
    assert cache.get(record.session_id) is None


@pytest.mark.parametrize(("cache_ttl", "cache_size"), [(-0.1, 10), (1000, 10), (1.0, 0), (1.0, -1)])
async def test_cache_config_validation(cache_ttl: float, cache_size: int) -> None:
    with pytest.raises(ConfigurationError):
        SessionConfig(ttl=1000, refresh_after=10, cache_ttl=cache_ttl, cache_size=cache_size)
