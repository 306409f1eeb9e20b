"""``response_mode=form_post`` against the real provider, and the callback throttle."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from pywire_auth import RateLimit, ThrottlePolicy
from tests.providers.conftest import (
    ALICE,
    APP_ORIGIN,
    AppFactory,
    Browser,
    error_of,
    make_provider,
)
from tests.web.conftest import COOKIE

pytestmark = pytest.mark.asyncio

CALLBACK = "/auth/oidc/callback"
#: What a browser sends with the provider page's auto-submitted form.
CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "http://127.0.0.1:59400"}
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": APP_ORIGIN}
_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"\s*/?>')


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _INPUT.findall(page)}


async def provider_form_post(browser: Browser, url: str, email: str) -> dict[str, str]:
    """Go through the provider's pages; return the fields it posts to our callback."""
    for _ in range(10):
        response = await browser.web.get(url)
        if response.status_code in (302, 303):
            url = str(httpx.URL(url).join(response.headers["location"]))
            continue
        assert response.status_code == 200, (response.status_code, response.text)
        action = str(httpx.URL(url).join(re.findall(r'action="([^"]+)"', response.text)[0]))
        if action.startswith(APP_ORIGIN):
            assert action.endswith(CALLBACK)
            return hidden_fields(response.text)
        data = {"login": email, "password": "secret"} if action.endswith("/login") else {}
        response = await browser.web.post(action, data=data)
        assert response.status_code in (302, 303), (response.status_code, response.text)
        url = str(httpx.URL(url).join(response.headers["location"]))
    raise AssertionError("the provider never posted back")


async def test_form_post_sign_in_hops_through_a_same_site_post(
    issuer: str, oidc_app_factory: AppFactory
) -> None:
    web = await oidc_app_factory(make_provider(issuer, response_mode="form_post"))
    browser = web.browser()
    url = await browser.start_login("/profile")
    assert "response_mode=form_post" in url
    fields = await provider_form_post(browser, url, ALICE)
    assert {"code", "state"} <= fields.keys()
    # The provider's page posts from its own site: a browser would send no
    # SameSite=Lax cookie with it, so we answer a page that posts it again.
    hop = await browser.app.post(CALLBACK, data=fields, headers=CROSS_SITE)
    assert hop.status_code == 200
    assert COOKIE not in hop.headers.get("set-cookie", "")
    csp = hop.headers["content-security-policy"]
    assert "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert hop.headers["cache-control"] == "no-store"
    assert f'action="{CALLBACK}"' in hop.text
    assert hidden_fields(hop.text) == {
        k: fields[k] for k in ("code", "state", "iss") if k in fields
    }
    assert await browser.signed_in_as() is None
    # The same fields, now posted from our own page: every check runs.
    done = await browser.app.post(CALLBACK, data=hidden_fields(hop.text), headers=SAME_ORIGIN)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/profile"
    assert await browser.signed_in_as() == ALICE


async def test_form_post_in_another_browser_signs_no_one_in(
    issuer: str, oidc_app_factory: AppFactory
) -> None:
    # Login CSRF through form_post: the hop page carries the fields, never the binding.
    web = await oidc_app_factory(make_provider(issuer, response_mode="form_post"))
    attacker = web.browser()
    fields = await provider_form_post(attacker, await attacker.start_login(), ALICE)
    victim = web.browser()
    hop = await victim.app.post(CALLBACK, data=fields, headers=CROSS_SITE)
    done = await victim.app.post(CALLBACK, data=hidden_fields(hop.text), headers=SAME_ORIGIN)
    assert error_of(done) == "provider"
    assert await victim.signed_in_as() is None


async def test_hop_page_escapes_what_it_echoes(issuer: str, oidc_app_factory: AppFactory) -> None:
    web = await oidc_app_factory(make_provider(issuer))
    browser = web.browser()
    evil = '"><script>alert(1)</script>'
    hop = await browser.app.post(
        CALLBACK, data={"code": evil, "state": "s", "other": "x"}, headers=CROSS_SITE
    )
    assert "<script>alert" not in hop.text
    assert hidden_fields(hop.text) == {"code": evil, "state": "s"}


async def test_callbacks_are_throttled_per_address(
    issuer: str, oidc_app_factory: AppFactory
) -> None:
    policy = ThrottlePolicy(callbacks_per_address=RateLimit(3, 300))
    web = await oidc_app_factory(make_provider(issuer), throttle_policy=policy)
    browser = web.browser()
    # A successful sign-in gives its count back: users behind one address are fine.
    for _ in range(3):
        assert (await browser.sign_in(ALICE)).headers["location"] == "/profile"
    forged = [await browser.app.get(CALLBACK, params={"code": "x", "state": "y"}) for _ in range(4)]
    assert [error_of(r) for r in forged] == ["provider"] * 3 + ["throttled"]
    # Over the limit, even a genuine callback is refused before any check.
    response = await browser.sign_in(ALICE)
    assert error_of(response) == "throttled"
