"""The 64 KiB form cap on every form route: the account routes and sign-up/sign-in.

(``test_bad_input.py`` covers how the cap reads a body: declared, chunked,
understated. This file checks that every form route has it.) The padding goes in a
field the routes ignore, so the cap is the only thing that can refuse the body; a
body of exactly 64 KiB is the control that shows the padding itself is harmless.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio

from pywire_auth.mail import ConsoleMailer
from tests.web.conftest import (
    PASSWORD,
    SAME_ORIGIN,
    AppFactory,
    WebApp,
    error_code,
    location,
    login,
    register,
    signed_in_as,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("web_backend", ["memory"])]

CAP = 64 * 1024
ANN = "ann@example.com"
URLENCODED = {**SAME_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
#: Every form route and a form it accepts (the signed-in ones get Ann's session).
FORMS = {
    "/auth/local/register": {"email": "bob@example.com", "password": PASSWORD},
    "/auth/local/login": {"email": ANN, "password": PASSWORD},
    "/auth/local/forgot-password": {"email": ANN},
    "/auth/local/reset-password": {"token": "x", "password": "a new long passphrase"},
    "/auth/local/verify-email/request": {},
    "/auth/local/verify-email": {"token": "x"},
    "/auth/local/change-password": {
        "current_password": PASSWORD,
        "new_password": "a new long passphrase",
    },
    "/auth/local/change-email": {"password": PASSWORD, "email": "ann2@example.com"},
    "/auth/local/delete-account": {"password": PASSWORD},
}


@pytest_asyncio.fixture
async def web(app_factory: AppFactory) -> WebApp:
    return await app_factory(mailer=ConsoleMailer(io.StringIO()), base_url="http://testserver")


def padded(fields: dict[str, str], total: int) -> bytes:
    head = urlencode({**fields, "next": "/done", "error_next": "/refused"}) + "&filler="
    return head.encode() + b"a" * (total - len(head))


async def signed_in(web: WebApp) -> httpx.AsyncClient:
    browser = web.client()
    await register(browser, ANN)
    return browser


@pytest.mark.parametrize("path", list(FORMS))
async def test_a_form_over_the_cap_is_refused(web: WebApp, path: str) -> None:
    browser = await signed_in(web)
    body = padded(FORMS[path], CAP + 1)
    assert len(body) == CAP + 1
    response = await browser.post(path, content=body, headers=URLENCODED)
    assert response.request.headers["content-length"] == str(CAP + 1)
    assert response.status_code == 303
    assert not location(response).startswith("/done"), path
    assert error_code(response) == "invalid"
    assert await signed_in_as(browser) == ANN  # nothing happened to the account


async def test_a_form_at_the_cap_is_read(web: WebApp) -> None:
    # The control: the padding refuses nothing, so only the cap refused above.
    browser = await signed_in(web)
    for path in ("/auth/local/forgot-password", "/auth/local/change-password"):
        response = await browser.post(path, content=padded(FORMS[path], CAP), headers=URLENCODED)
        assert location(response) == "/done", path
    assert (await login(web.client(), ANN, "a new long passphrase")).status_code == 303
    assert await signed_in_as(browser) == ANN
