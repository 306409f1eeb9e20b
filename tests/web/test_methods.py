"""Only POST reaches the auth routes; other methods get our 405, not a PyWire page."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import ROUTES, TOKEN, WebApp, register

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("route", ROUTES)
async def test_non_post_methods_answer_405(
    browser: httpx.AsyncClient, route: str, method: str
) -> None:
    response = await browser.request(method, route)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "_pywire_spa_meta" not in response.text  # not a rendered page


@pytest.mark.parametrize("route", ROUTES)
async def test_head_is_405_not_a_page(browser: httpx.AsyncClient, route: str) -> None:
    response = await browser.head(route)
    assert response.status_code == 405


async def test_get_on_token_does_not_leak_a_token_to_a_signed_in_user(web: WebApp) -> None:
    # A GET (an <img> or <link> from another site) must never mint a token.
    browser = web.client()
    await register(browser, "ann@example.com")
    response = await browser.get(TOKEN)
    assert response.status_code == 405
    assert "token" not in response.json()
    assert response.headers["cache-control"] == "no-store"
