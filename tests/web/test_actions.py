"""AuthActions (``app.state.auth``): claim and session changes reach store, pages and channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pywire.auth import AuthEvent

from pywire_auth import AuthActions, UserNotFoundError, UserRecord
from tests.web.conftest import WebApp, register, signed_in_as, token

pytestmark = pytest.mark.asyncio

EVENT_TIMEOUT = 5.0


class Events:
    def __init__(self, subscription: AsyncIterator[AuthEvent]) -> None:
        self._subscription = subscription

    async def next(self) -> AuthEvent:
        return await asyncio.wait_for(anext(self._subscription), EVENT_TIMEOUT)


@asynccontextmanager
async def events_for(web: WebApp, principal_id: str) -> AsyncIterator[Events]:
    async with web.app.state.auth_channel.subscribe(principal_id) as subscription:
        yield Events(subscription)


async def _signed_in_user(
    web: WebApp, email: str = "ann@example.com"
) -> tuple[httpx.AsyncClient, UserRecord]:
    client = web.client()
    await register(client, email)
    user = await web.user(email)
    assert user is not None
    return client, user


def actions(web: WebApp) -> AuthActions:
    auth = web.app.state.auth
    assert isinstance(auth, AuthActions)
    return auth


async def test_grant_stores_the_claim_and_pushes_the_new_principal(web: WebApp) -> None:
    client, user = await _signed_in_user(web)
    pid = f"local:{user.user_id}"
    async with events_for(web, pid) as events:
        principal = await actions(web).grant(pid, "role", "editor")
        event = await events.next()
    assert principal.has_claim("role", "editor")
    assert event.kind == "update"
    assert event.user_id == pid
    assert event.principal is not None
    assert event.principal.has_claim("role", "editor")
    stored = await web.store.get_user(user.user_id)
    assert stored is not None
    assert stored.claims == {"role": "editor"}
    # The next request sees the new claim: principals are built fresh per request.
    assert (await token(client)).json()["decoded"]["role"] == "editor"


async def test_grant_adds_values_and_revoke_claim_removes_them(web: WebApp) -> None:
    _, user = await _signed_in_user(web)
    auth = actions(web)
    async with events_for(web, f"local:{user.user_id}") as events:
        await auth.grant(user.user_id, "role", "editor")  # the plain id works too
        await auth.grant(user.user_id, "role", "admin")
        await auth.grant(user.user_id, "role", "admin")  # no duplicates
        after_grants = (await web.store.get_user(user.user_id)).claims  # type: ignore[union-attr]
        principal = await auth.revoke_claim(user.user_id, "role", "editor")
        seen = [await events.next() for _ in range(4)]
    assert after_grants == {"role": ["editor", "admin"]}
    assert principal.has_claim("role", "admin")
    assert not principal.has_claim("role", "editor")
    assert [e.kind for e in seen] == ["update"] * 4
    last = seen[-1].principal
    assert last is not None
    assert not last.has_claim("role", "editor")

    principal = await auth.revoke_claim(user.user_id, "role")
    assert not principal.has_claim("role")
    stored = await web.store.get_user(user.user_id)
    assert stored is not None
    assert "role" not in stored.claims


async def test_update_claims_sets_and_removes(web: WebApp) -> None:
    client, user = await _signed_in_user(web)
    pid = f"local:{user.user_id}"
    auth = actions(web)
    await auth.update_claims(pid, {"plan": "free", "beta": True})
    async with events_for(web, pid) as events:
        principal = await auth.update_claims(pid, {"plan": "pro", "beta": None})
        event = await events.next()
    assert event.kind == "update"
    assert event.principal == principal
    assert principal.claim_value("plan") == "pro"
    assert not principal.has_claim("beta")
    stored = await web.store.get_user(user.user_id)
    assert stored is not None
    assert stored.claims == {"plan": "pro"}
    decoded = (await token(client)).json()["decoded"]
    assert decoded["plan"] == "pro"
    assert "beta" not in decoded


async def test_revoke_sessions_ends_every_session_and_pushes_revoke(web: WebApp) -> None:
    laptop, user = await _signed_in_user(web)
    phone = web.client()
    await phone.post(
        "/auth/local/login",
        data={"email": "ann@example.com", "password": "correct horse battery"},
        headers={"Origin": "http://testserver"},
    )
    bystander, _ = await _signed_in_user(web, "bob@example.com")
    pid = f"local:{user.user_id}"
    async with events_for(web, pid) as events:
        ended = await actions(web).revoke_sessions(pid)
        event = await events.next()
    assert ended == 2
    assert event.kind == "revoke"
    assert event.user_id == pid
    assert await signed_in_as(laptop) is None
    assert await signed_in_as(phone) is None
    assert await signed_in_as(bystander) == "bob@example.com"


async def test_revoke_session_ends_only_that_session(web: WebApp) -> None:
    laptop, _ = await _signed_in_user(web)
    phone = web.client()
    await phone.post(
        "/auth/local/login",
        data={"email": "ann@example.com", "password": "correct horse battery"},
        headers={"Origin": "http://testserver"},
    )
    value = laptop.cookies["pywire_auth_session"]
    await actions(web).revoke_session(value.partition(".")[0])
    assert await signed_in_as(laptop) is None
    assert await signed_in_as(phone) == "ann@example.com"


@pytest.mark.parametrize("user_id", ["no-such-user", "local:no-such-user"])
async def test_unknown_user_raises_user_not_found(web: WebApp, user_id: str) -> None:
    auth = actions(web)
    async with events_for(web, "local:no-such-user") as events:
        with pytest.raises(UserNotFoundError):
            await auth.grant(user_id, "role", "admin")
        with pytest.raises(UserNotFoundError):
            await auth.revoke_claim(user_id, "role")
        with pytest.raises(UserNotFoundError):
            await auth.update_claims(user_id, {"role": "admin"})
        # Nothing was pushed for a user that does not exist: the first event that
        # arrives is a marker sent afterwards.
        await web.app.state.auth_channel.revoke("local:no-such-user")
        first = await events.next()
    assert first.kind == "revoke"
