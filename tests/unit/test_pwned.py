"""PwnedPasswords: the k-anonymity range look-up, its timeout and failing open.

The real service is not reachable from the test machines, so an ``httpx.MockTransport``
plays it, answering in the range API's recorded format: ``SUFFIX:COUNT`` lines of 35
upper-case hex digits, CRLF-separated, padded (``Add-Padding: true``) with zero-count
suffixes to 800-1,000 lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random

import httpx
import pytest

from pywire_auth import LocalIdP, MemoryAuthStore, PasswordPolicy, PwnedPasswords, WeakPasswordError
from pywire_auth.local.hashing import Argon2Hasher

BREACHED = "Tr0ub4dor&3"  # uncommon enough for the offline list, "breached" here
CLEAN = "correct horse battery"

pytestmark = pytest.mark.asyncio


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()  # noqa: S324 - HIBP's format


def range_body(prefix: str, known: dict[str, int], *, seed: int = 0) -> str:
    """A range answer for ``prefix``: ``known`` full hashes plus real-looking filler."""
    rng = random.Random(seed)
    lines = {h[5:]: n for h, n in known.items() if h.startswith(prefix)}
    while len(lines) < 400:
        lines["".join(rng.choice("0123456789ABCDEF") for _ in range(35))] = rng.randint(1, 900)
    while len(lines) < 800 + rng.randint(0, 200):  # padding: fake entries, count 0
        lines["".join(rng.choice("0123456789ABCDEF") for _ in range(35))] = 0
    return "\r\n".join(f"{s}:{n}" for s, n in sorted(lines.items()))


class FakeHIBP:
    """Serves /range/<prefix> like the real API and records what it was asked."""

    def __init__(self, known: dict[str, int]) -> None:
        self.known = {sha1(p): n for p, n in known.items()}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        prefix = request.url.path.rsplit("/", 1)[-1]
        if len(prefix) != 5:
            return httpx.Response(400, text="The hash prefix was not in a valid format")
        return httpx.Response(
            200,
            text=range_body(prefix, self.known),
            headers={"Content-Type": "text/plain", "CF-Cache-Status": "HIT"},
        )


def checker(handler: object, **kwargs: object) -> PwnedPasswords:
    return PwnedPasswords(transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


async def test_breached_password_is_found() -> None:
    hibp = FakeHIBP({BREACHED: 2_845})
    assert await checker(hibp).is_breached(BREACHED) is True
    assert await checker(hibp).is_breached(CLEAN) is False


async def test_only_the_5_character_prefix_leaves_the_server() -> None:
    hibp = FakeHIBP({BREACHED: 3})
    await checker(hibp).is_breached(BREACHED)
    (request,) = hibp.requests
    digest = sha1(BREACHED)
    assert request.method == "GET"
    assert str(request.url) == f"https://api.pwnedpasswords.com/range/{digest[:5]}"
    assert request.headers["Add-Padding"] == "true"
    assert request.headers["User-Agent"] == "pywire-auth"
    sent = str(request.url).encode() + b"".join(v for _, v in request.headers.raw)
    assert digest[5:].encode() not in sent
    assert BREACHED.encode() not in sent


async def test_padding_entries_do_not_count_as_breached() -> None:
    digest = sha1(CLEAN)

    def padded(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"{digest[5:]}:0\r\n" + range_body(digest[:5], {}))

    assert await checker(padded).is_breached(CLEAN) is False


async def test_min_count_sets_the_threshold() -> None:
    hibp = FakeHIBP({BREACHED: 2})
    assert await checker(hibp, min_count=3).is_breached(BREACHED) is False
    assert await checker(hibp, min_count=2).is_breached(BREACHED) is True


async def test_lower_case_suffixes_are_matched() -> None:
    digest = sha1(BREACHED)

    def lower(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"{digest[5:].lower()}:7")

    assert await checker(lower).is_breached(BREACHED) is True


# --- failing open -----------------------------------------------------------------------


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, text="<html>Service Unavailable</html>")


def redirect(request: httpx.Request) -> httpx.Response:
    return httpx.Response(302, headers={"Location": "https://evil.example/"})


def garbage(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="<html>captive portal</html>")


async def never(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("handler", [refused, server_error, redirect, garbage, never])
async def test_unreachable_or_odd_service_is_skipped(handler: object) -> None:
    # The outer bound only turns a missing timeout into a failure instead of a hang.
    check = checker(handler, timeout=0.05).is_breached(BREACHED)
    assert await asyncio.wait_for(check, 30) is None


async def test_outage_is_logged_once_and_again_after_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = True
    hibp = FakeHIBP({})

    def flaky(request: httpx.Request) -> httpx.Response:
        return hibp(request) if up else refused(request)

    check = checker(flaky)
    caplog.set_level(logging.WARNING, logger="pywire_auth.pwned")
    up = False
    for _ in range(5):
        assert await check.is_breached(CLEAN) is None
    assert len(caplog.records) == 1
    assert "ConnectError" in caplog.records[0].getMessage()
    assert CLEAN not in caplog.text
    up = True
    assert await check.is_breached(CLEAN) is False
    up = False
    assert await check.is_breached(CLEAN) is None
    assert len(caplog.records) == 2


async def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        PwnedPasswords(timeout=0)
    with pytest.raises(ValueError, match="min_count"):
        PwnedPasswords(min_count=0)


# --- in the policy and the identity provider --------------------------------------------


def make_idp(handler: object) -> LocalIdP:
    policy = PasswordPolicy(breach_check=checker(handler, timeout=0.05))
    return LocalIdP(
        store=MemoryAuthStore(),
        secret="3f9a1c7e5b2d4086c1e9a7f3b5d20c84",
        hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),
        password_policy=policy,
    )


async def test_policy_is_offline_by_default() -> None:
    assert PasswordPolicy().breach_check is None
    assert await PasswordPolicy().check(BREACHED) == BREACHED


async def test_breached_password_is_refused_at_registration_and_change() -> None:
    idp = make_idp(FakeHIBP({BREACHED: 52}))
    with pytest.raises(WeakPasswordError) as info:
        await idp.create_user(email="ann@example.com", password=BREACHED)
    assert info.value.reason == "breached"
    user_id = await idp.create_user(email="ann@example.com", password=CLEAN)
    with pytest.raises(WeakPasswordError):
        await idp.change_password(user_id=user_id, old_password=CLEAN, new_password=BREACHED)
    with pytest.raises(WeakPasswordError):
        await idp.reset_password(user_id=user_id, new_password=BREACHED)


async def test_registration_goes_on_when_hibp_is_down() -> None:
    idp = make_idp(never)
    user_id = await idp.create_user(email="ann@example.com", password=BREACHED)
    assert await idp.verify_credentials(email="ann@example.com", password=BREACHED) is not None
    assert user_id


async def test_offline_checks_run_before_the_network() -> None:
    hibp = FakeHIBP({})
    idp = make_idp(hibp)
    with pytest.raises(WeakPasswordError) as info:
        await idp.create_user(email="ann@example.com", password="password")
    assert info.value.reason == "common"
    assert hibp.requests == []
