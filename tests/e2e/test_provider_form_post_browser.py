"""``response_mode=form_post`` in Chromium, with the provider on another site.

The app is opened at ``http://localhost:<port>`` and the provider lives at
``http://127.0.0.1:<its port>``: two sites, so the provider's auto-submitted form is
a cross-site POST and Chromium sends none of our ``SameSite=Lax`` cookies with
it. The callback's same-site re-POST page must carry the sign-in through.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Request

from tests.e2e.conftest import DevServer
from tests.e2e.test_provider_browser import serve_example, through_the_provider
from tests.providers.conftest import ISSUER_ENV

pytestmark = pytest.mark.asyncio


@pytest.fixture
def form_post_server(request: pytest.FixtureRequest, tmp_path: Path) -> Generator[DevServer]:
    """The example app, its provider answering with ``response_mode=form_post``."""
    yield from serve_example(request, tmp_path, "PYWIRE_AUTH_OIDC_OIDC_RESPONSE_MODE=form_post\n")


async def test_form_post_from_another_site_signs_in(
    browser: Browser, form_post_server: DevServer
) -> None:
    context = await browser.new_context()
    posts: list[tuple[str, str | None]] = []

    def on_request(req: Request) -> None:
        if req.method == "POST" and req.url.endswith("/auth/oidc/callback"):
            posts.append((req.url, req.headers.get("origin")))

    try:
        page = await context.new_page()
        page.on("request", on_request)
        base = f"http://localhost:{form_post_server.port}"
        await through_the_provider(page, base, "form_post sign-in")
        # First the provider's page posted (cross-site), then our own page did.
        provider = os.environ[ISSUER_ENV].rstrip("/")
        assert [origin for _, origin in posts] == [provider, base], posts
        assert "code=" not in page.url
    finally:
        await context.close()
