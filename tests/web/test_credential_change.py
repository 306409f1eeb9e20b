"""A password change or reset, or a deleted user, ends the user's (other) sessions.

Through the IdP's Python API under ``connect_auth`` (sessions end, live pages hear
of it on the auth channel), through ``app.state.auth``, and with a bare
``LocalIdP`` (it deletes the sessions from its store itself). Every store backend.
"""

from __future__ import annotations

import asyncio

import pytest
from pywire.auth import AuthEvent

from pywire_auth import MemoryAuthStore, SessionStore
from pywire_auth.sessions import SessionManager
from tests.web.conftest import (
    PASSWORD,
    SESSION_SECRET,
    AppFactory,
    WebApp,
    make_idp,
    register,
    session_cookie_value,
    signed_in_as,
)

pytestmark = pytest.mark.asyncio

NEW_PASSWORD = "a brand new passphrase"


async def _two_browsers(web: WebApp) -> tuple[str, str, str]:
    """ann signed in twice; returns her user id and the two session tokens."""
    first = web.client()
    value = session_cookie_value(await register(first, "ann@example.com"))
    second = web.client()
    response = await second.post(
        "/auth/local/login",
        data={"email": "ann@example.com", "password": PASSWORD},
        headers={"Origin": "http://testserver"},
    )
    other = session_cookie_value(response)
    assert value is not None
    assert other is not None
    user = await web.user("ann@example.com")
    assert user is not None
    return user.user_id, value, other


def _token(cookie_value: str) -> str:
    return cookie_value.split(".", 1)[0]


async def _as(web: WebApp, cookie_value: str) -> str | None:
    return await signed_in_as(web.client(cookie=cookie_value))


class _Events:
    """Collects the auth channel's events for one user, as a live page would."""

    def __init__(self, web: WebApp, user_id: str) -> None:
        self.channel = web.app.state.auth_channel
        self.user_id = f"local:{user_id}"
        self.seen: list[AuthEvent] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Events:
        ready = asyncio.Event()

        async def pump() -> None:
            async with self.channel.subscribe(self.user_id) as events:
                ready.set()
                async for event in events:
                    self.seen.append(event)

        self._task = asyncio.create_task(pump())
        await ready.wait()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task

    def kinds(self) -> list[str]:
        return [event.kind for event in self.seen]


async def test_change_password_keeps_the_given_session_and_ends_the_others(web: WebApp) -> None:
    user_id, mine, other = await _two_browsers(web)
    async with _Events(web, user_id) as events:
        assert await web.idp.change_password(
            user_id=user_id,
            old_password=PASSWORD,
            new_password=NEW_PASSWORD,
            keep_session=_token(mine),
        )
        await asyncio.sleep(0)
    assert await _as(web, mine) == "ann@example.com"
    assert await _as(web, other) is None
    # Not a revoke: that would sign out the kept page too. Pages re-check instead.
    assert events.kinds() == ["update"]


async def test_change_password_without_keep_ends_every_session_and_revokes(web: WebApp) -> None:
    user_id, mine, other = await _two_browsers(web)
    async with _Events(web, user_id) as events:
        assert await web.idp.change_password(
            user_id=user_id, old_password=PASSWORD, new_password=NEW_PASSWORD
        )
        await asyncio.sleep(0)
    assert await _as(web, mine) is None
    assert await _as(web, other) is None
    assert events.kinds() == ["revoke"]


async def test_a_wrong_old_password_ends_nothing(web: WebApp) -> None:
    user_id, mine, other = await _two_browsers(web)
    assert not await web.idp.change_password(
        user_id=user_id, old_password="not the password", new_password=NEW_PASSWORD
    )
    assert await _as(web, mine) == "ann@example.com"
    assert await _as(web, other) == "ann@example.com"


async def test_reset_password_through_app_state_auth(web: WebApp) -> None:
    user_id, mine, other = await _two_browsers(web)
    async with _Events(web, user_id) as events:
        await web.app.state.auth.reset_password(user_id, NEW_PASSWORD, keep_session=_token(mine))
        await asyncio.sleep(0)
    assert await _as(web, mine) == "ann@example.com"
    assert await _as(web, other) is None
    assert events.kinds() == ["update"]
    async with _Events(web, user_id) as events:
        assert await web.app.state.auth.change_password(user_id, NEW_PASSWORD, PASSWORD)
        await asyncio.sleep(0)
    assert await _as(web, mine) is None
    assert events.kinds() == ["revoke"]


async def test_deleting_a_user_revokes_their_pages(web: WebApp) -> None:
    user_id, mine, _ = await _two_browsers(web)
    async with _Events(web, user_id) as events:
        assert await web.app.state.auth.delete_user(user_id)
        await asyncio.sleep(0)
    assert events.kinds() == ["revoke"]
    assert await _as(web, mine) is None
    assert not await web.app.state.auth.delete_user(user_id)


async def test_deleting_a_user_through_the_idp_revokes_their_pages(web: WebApp) -> None:
    user_id, mine, _ = await _two_browsers(web)
    async with _Events(web, user_id) as events:
        assert await web.idp.delete_user(f"local:{user_id}")
        await asyncio.sleep(0)
    assert events.kinds() == ["revoke"]
    assert await _as(web, mine) is None


async def test_a_bare_idp_deletes_the_sessions_from_its_store(
    app_factory: AppFactory,
) -> None:
    # An app built only to get a store on this test's backend; the IdP below is
    # never given to connect_auth.
    store = (await app_factory()).store
    idp = make_idp(store)
    assert isinstance(store, SessionStore)
    user_id = await idp.create_user(email="ann@example.com", password=PASSWORD)
    sessions = SessionManager(store, SESSION_SECRET)
    kept, ended = await sessions.start(user_id), await sessions.start(user_id)
    assert await idp.change_password(
        user_id=user_id, old_password=PASSWORD, new_password=NEW_PASSWORD, keep_session=kept
    )
    assert await store.get_session(SessionManager.session_id(kept)) is not None
    assert await store.get_session(SessionManager.session_id(ended)) is None
    await idp.reset_password(user_id=user_id, new_password=PASSWORD)
    assert await store.get_session(SessionManager.session_id(kept)) is None


async def test_an_idp_without_session_store_still_changes_passwords() -> None:
    class NoSessions:
        """An AuthStore that keeps no sessions (delegates everything else)."""

        def __init__(self) -> None:
            self._inner = MemoryAuthStore()

        def __getattr__(self, name: str) -> object:
            if name in {"delete_user_sessions", "create_session", "get_session"}:
                raise AttributeError(name)
            return getattr(self._inner, name)

    idp = make_idp(NoSessions())  # type: ignore[arg-type]
    user_id = await idp.create_user(email="ann@example.com", password=PASSWORD)
    assert await idp.change_password(
        user_id=user_id, old_password=PASSWORD, new_password=NEW_PASSWORD
    )
