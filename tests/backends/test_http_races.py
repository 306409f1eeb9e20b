"""Registration races over real HTTP: several server processes, one database, one email."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.backends._servers import (
    COOKIE,
    LOGIN,
    NEXT,
    REGISTER,
    ServerFleet,
    describe,
    error_of,
    post_form,
    profile_email,
    row_counts,
    session_cookie,
)

pytestmark = pytest.mark.asyncio

SERVERS = 3
ATTEMPTS = 50
EMAIL = "race.kit@example.com"
# Spellings that normalize_email (strip, NFKC, lower) maps to EMAIL: case, the
# Kelvin sign for "k", full-width letters, a full-width "@", surrounding spaces.
SPELLINGS = (
    EMAIL,
    "RACE.KIT@EXAMPLE.COM",
    "Race.\u212ait@Example.com",
    "\uff52\uff41\uff43\uff45.kit@example.com",
    "race.kit\uff20example.\uff43\uff4f\uff4d",
    "  race.kit@example.com\t",
)


def password(index: int) -> str:
    return f"password number {index:02d} of the race"


async def send(base_url: str, path: str, **fields: str) -> httpx.Response:
    # Every attempt is its own browser: no cookie jar is shared between them.
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return await post_form(client, path, **fields)


async def test_fifty_registrations_of_one_email_across_three_servers(
    sql_url: str, tmp_path: Path
) -> None:
    async with ServerFleet(SERVERS, sql_url, tmp_path) as fleet:
        server_of = [fleet.urls[i % SERVERS] for i in range(ATTEMPTS)]
        responses = await asyncio.gather(
            *(
                send(
                    server_of[i],
                    REGISTER,
                    email=SPELLINGS[i % len(SPELLINGS)],
                    password=password(i),
                )
                for i in range(ATTEMPTS)
            )
        )
        report = "\n".join(f"#{i}: {describe(r)}" for i, r in enumerate(responses))
        context = f"{report}\n{fleet.logs()}"

        winners = [i for i, r in enumerate(responses) if error_of(r) is None]
        assert len(winners) == 1, context
        winner = winners[0]
        won = responses[winner]
        assert won.headers["location"] == NEXT, context
        assert session_cookie(won), context
        for i, response in enumerate(responses):
            if i == winner:
                continue
            assert error_of(response) == "exists", f"#{i}\n{context}"
            assert response.headers["location"] == "/register?error=exists", f"#{i}\n{context}"
            assert session_cookie(response) is None, f"#{i}\n{context}"

        assert await row_counts(sql_url) == (1, 1, 2), context

        # The winner's password signs in on every server; no loser's password does.
        for base_url in fleet.urls:
            login = await send(base_url, LOGIN, email=EMAIL, password=password(winner))
            assert error_of(login) is None, f"{describe(login)}\n{context}"
            assert login.headers["location"] == NEXT
            cookie = session_cookie(login)
            assert cookie, context
            async with httpx.AsyncClient(base_url=base_url, cookies={COOKIE: cookie}) as browser:
                assert profile_email(await browser.get(NEXT)) == EMAIL, context

        losers = [i for i in range(ATTEMPTS) if i != winner]
        attempts = await asyncio.gather(
            *(
                send(server_of[i], LOGIN, email=SPELLINGS[i % len(SPELLINGS)], password=password(i))
                for i in losers
            )
        )
        for i, login in zip(losers, attempts, strict=True):
            assert error_of(login) == "invalid", f"#{i}: {describe(login)}\n{fleet.logs()}"
            assert session_cookie(login) is None, f"#{i}\n{fleet.logs()}"
