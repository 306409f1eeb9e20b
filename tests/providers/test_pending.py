"""The pending login cookie: signed, bound, expiring, single-use across workers."""

from __future__ import annotations

import pytest

from pywire_auth import MemoryThrottle
from pywire_auth.exceptions import ProviderError
from pywire_auth.providers.pending import PENDING_TTL, PendingLogins

pytestmark = pytest.mark.asyncio

KEY = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_round_trip_and_derived_secrets() -> None:
    pending = PendingLogins(KEY, throttle=MemoryThrottle())
    login, cookie = pending.start("oidc", "/profile")
    read = pending.read(cookie, "oidc", login.state)
    assert read == login
    assert pending.code_verifier(read) == pending.code_verifier(login)
    assert len(pending.code_verifier(login)) == 43
    # Neither the verifier nor the nonce is in the cookie the browser holds.
    assert pending.code_verifier(login) not in cookie
    assert pending.nonce(login) not in cookie
    other, _ = pending.start("oidc", "/profile")
    assert pending.nonce(other) != pending.nonce(login)


async def test_two_workers_share_one_pending_login() -> None:
    # The callback may land on another process: same secret, same shared throttle.
    shared = MemoryThrottle()
    worker_a = PendingLogins(KEY, throttle=shared)
    worker_b = PendingLogins(KEY, throttle=shared)
    login, cookie = worker_a.start("oidc", "/")
    read = worker_b.read(cookie, "oidc", login.state)
    assert worker_b.code_verifier(read) == worker_a.code_verifier(login)
    await worker_b.burn(read)
    with pytest.raises(ProviderError, match="already used"):
        await worker_a.burn(login)


@pytest.mark.parametrize("tamper", ["signature", "provider", "state", "missing", "key"])
async def test_refusals(tamper: str) -> None:
    pending = PendingLogins(KEY, throttle=MemoryThrottle())
    login, cookie = pending.start("oidc", "/")
    value: str | None = cookie
    provider, state = "oidc", login.state
    if tamper == "signature":
        value = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    elif tamper == "provider":
        provider = "other"
    elif tamper == "state":
        state = "x" + state[1:]
    elif tamper == "missing":
        value = None
    else:
        pending = PendingLogins(b"z" * 32, throttle=MemoryThrottle())
    with pytest.raises(ProviderError):
        pending.read(value, provider, state)


async def test_expires_within_ten_minutes() -> None:
    clock = Clock()
    pending = PendingLogins(KEY, throttle=MemoryThrottle(), ttl=3600, clock=clock)
    assert pending.ttl == PENDING_TTL == 600
    login, cookie = pending.start("oidc", "/")
    clock.now += 599
    assert pending.read(cookie, "oidc", login.state) == login
    clock.now += 2
    with pytest.raises(ProviderError, match="expired"):
        pending.read(cookie, "oidc", login.state)


async def test_cookie_flags() -> None:
    pending = PendingLogins(KEY, throttle=MemoryThrottle(), path="/auth")
    _, cookie = pending.start("oidc", "/")
    header = pending.cookie(cookie, https=True)
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" in header
    assert "Path=/auth" in header
    assert "Max-Age=0" in pending.cookie("", https=False)
