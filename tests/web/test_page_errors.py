"""The example's account pages put every ``?error=`` their forms can get into words.

Each page is rendered with each code its routes can send it back with (see
``src/pywire_auth/account/routes.py``: the route's own errors, plus ``invalid`` for
an unreadable body and ``unavailable`` for the catch-all). A page that drops a
message would leave a user on a silent form after a failed POST.
"""

from __future__ import annotations

import re

import httpx
import pytest

from pywire_auth import ERROR_CODES
from tests.web.conftest import WebApp, register

ANN = "ann@example.com"

#: page -> the ``?error=`` codes its forms can produce.
PAGE_CODES: dict[str, frozenset[str]] = {
    # forgot-password: missing, invalid_email, throttled, unavailable (mail), invalid (body).
    "/forgot_password": frozenset(
        {"missing", "invalid_email", "throttled", "unavailable", "invalid"}
    ),
    # reset-password: missing, token_invalid/expired, weak_password, unavailable, invalid.
    "/reset_password": frozenset(
        {"missing", "token_invalid", "token_expired", "weak_password", "unavailable", "invalid"}
    ),
    # verify-email (GET link or POST from the page): token errors, exists (the new
    # address was taken meanwhile), unavailable, invalid (body).
    "/verify_email": frozenset(
        {"token_invalid", "token_expired", "exists", "unavailable", "invalid"}
    ),
    # verify-email/request, change-password, change-email, delete-account.
    "/account": frozenset(
        {
            "missing",
            "invalid_email",
            "weak_password",
            "exists",
            "invalid",
            "throttled",
            "unavailable",
            "wrong_password",
        }
    ),
}

CASES = [(page, code) for page, codes in PAGE_CODES.items() for code in sorted(codes)]

_ERROR_P = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)


@pytest.fixture
def web_backend() -> str:
    """Rendering does not depend on the store: the memory one is enough."""
    return "memory"


def error_messages(html: str) -> list[str]:
    """The text of the page's error paragraphs, tags stripped."""
    return [re.sub(r"<[^>]+>", "", m).strip() for m in _ERROR_P.findall(html)]


async def client_for(web: WebApp, page: str) -> httpx.AsyncClient:
    client = web.client()
    if page == "/account":  # behind !auth: a signed-in user
        await register(client, ANN)
    return client


def test_codes_are_in_the_vocabulary() -> None:
    for page, codes in PAGE_CODES.items():
        assert codes <= ERROR_CODES, (page, codes - ERROR_CODES)


@pytest.mark.parametrize(("page", "code"), CASES)
@pytest.mark.asyncio
async def test_page_puts_error_in_words(web: WebApp, page: str, code: str) -> None:
    client = await client_for(web, page)
    response = await client.get(page, params={"error": code})
    assert response.status_code == 200, (page, response.status_code)
    messages = error_messages(response.text)
    assert len(messages) == 1, (page, code, messages)
    # Words for a human, not the bare code.
    assert len(messages[0].split()) >= 3, messages[0]
    assert code not in messages[0]


@pytest.mark.parametrize("page", sorted(PAGE_CODES))
@pytest.mark.asyncio
async def test_page_without_error_shows_none(web: WebApp, page: str) -> None:
    client = await client_for(web, page)
    response = await client.get(page)
    assert response.status_code == 200
    assert error_messages(response.text) == []


@pytest.mark.parametrize("page", sorted(PAGE_CODES))
@pytest.mark.asyncio
async def test_each_code_has_its_own_message(web: WebApp, page: str) -> None:
    client = await client_for(web, page)
    seen: dict[str, str] = {}
    for code in sorted(PAGE_CODES[page]):
        (message,) = error_messages((await client.get(page, params={"error": code})).text)
        seen[code] = message
    assert len(set(seen.values())) == len(seen), seen
