"""Under ``pywire run``: an account locked by guesses spread over every worker still
lets its owner in from a browser that signed in before (the device cookie)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pywire_auth.local.device import DEVICE_COOKIE
from pywire_auth.throttles.policy import ThrottlePolicy
from tests.scale._harness import RunServer, error_of, post_form, sign_in

pytestmark = [pytest.mark.asyncio, pytest.mark.scale]

PASSWORD = "correct horse battery staple"
EMAIL = "device-owner@example.com"


def client(base: str, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base, timeout=60, transport=transport)


async def test_owner_with_device_cookie_gets_in_while_the_account_is_locked(
    run_server: RunServer,
) -> None:
    base = run_server.base_url
    await sign_in(base, EMAIL, PASSWORD, register=True)
    async with client(base, "127.0.0.60") as owner:
        first = await post_form(owner, "/auth/local/login", email=EMAIL, password=PASSWORD)
        assert error_of(first) is None
        device = first.cookies.get(DEVICE_COOKIE)
    assert device, first.headers.get_list("set-cookie")

    # Guesses from ten other addresses, fresh connections over all workers.
    guesses = 2 * ThrottlePolicy().failures_per_account.limit

    async def guess(index: int) -> str | None:
        async with client(base, f"127.0.0.{40 + index % 10}") as attacker:
            response = await post_form(
                attacker, "/auth/local/login", email=EMAIL, password=f"wrong-{index}"
            )
        return error_of(response)

    answers = await asyncio.gather(*(guess(i) for i in range(guesses)))
    assert "throttled" in answers, answers

    # A browser without the cookie is refused even with the right password...
    async with client(base, "127.0.0.61") as stranger:
        refused = await post_form(stranger, "/auth/local/login", email=EMAIL, password=PASSWORD)
    assert error_of(refused) == "throttled"
    # ...the owner's browser, whichever worker answers, is not.
    async with client(base, "127.0.0.60") as owner:
        owner.cookies.set(DEVICE_COOKIE, device)
        again = await post_form(owner, "/auth/local/login", email=EMAIL, password=PASSWORD)
    assert error_of(again) is None, again.headers.get("location")
