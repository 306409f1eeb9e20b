"""Account changes under the real ``pywire run`` (5 workers) reach live pages in other workers.

A live ``/profile`` page (its WebSocket held by one worker) must be signed out
when the request that ends its session is answered by a *different* worker: a
password change or reset, an account deletion; and when the session just
expires, the worker holding the page must notice on its own. Which worker holds
what is read from the kernel (psutil: the worker owning each connection's
server end), so each test proves the two sides sit in different processes.

One server for the module: the example app, its ``.env`` pointing mail at a real
SMTP server (aiosmtpd) on loopback, and sessions that idle out after
:data:`TTL` seconds (the one change to its ``main.py``). Each test uses its own
account, and keeps the sessions it needs alive by using them just before the
step under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator
from email.message import EmailMessage

import httpx
import pytest

from pywire_auth.live_sessions import SESSION_GONE_CLOSE_CODE
from tests.scale._harness import (
    LiveSocket,
    RunServer,
    assert_served_by,
    error_of,
    free_port,
    is_navigate_to_login,
    live_page_on_other_worker,
    make_app_dir,
    pinned_client,
    post_form,
    profile_signed_in,
    session_cookie,
    sign_in,
)
from tests.scale.conftest import attach
from tests.web._smtp import SMTPServer, link_in

pytestmark = [pytest.mark.asyncio, pytest.mark.scale]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a completely new passphrase"
WORKERS = 5
#: Idle lifetime of every session of this module's server (seconds).
TTL = 20  # long enough for a loaded CI machine to set a test up within it
#: How long a live sign-out may take before the test fails (never waited for
#: when things work).
DEADLINE = 15.0
#: The app's session cache: other workers may answer from it this long.
CACHE_TTL = 0.5


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mail_run_server(
    tmp_path_factory: pytest.TempPathFactory, smtp: SMTPServer
) -> Generator[RunServer, None, None]:
    """The example under ``pywire run`` with mail, a public base URL and short sessions."""
    port = free_port()
    app_dir = make_app_dir(
        tmp_path_factory.mktemp("accounts") / "local_idp",
        "sqlite+aiosqlite:///./local-auth.db",
        env={
            "PYWIRE_AUTH_SMTP_URL": smtp.url,
            "PYWIRE_AUTH_MAIL_FROM": "Example <no-reply@example.com>",
            "PYWIRE_AUTH_BASE_URL": f"http://127.0.0.1:{port}",
        },
        session_ttl=TTL,
    )
    with RunServer(app_dir, workers=WORKERS, port=port, name="accounts") as server:
        yield server


@pytest.fixture
def server(request: pytest.FixtureRequest, mail_run_server: RunServer) -> RunServer:
    attach(request, mail_run_server)
    return mail_run_server


async def _signed_out_live(server: RunServer, live: LiveSocket, cookie: str) -> None:
    """``live`` is sent to the sign-in page without being cut off, and ``cookie`` is dead."""
    await live.wait_for(is_navigate_to_login, DEADLINE)
    # The revoke path: PyWire's own push, on an open socket (a close would have
    # cut the navigate short in a browser).
    assert live.ws.close_code is None, live.ws.close_code
    await asyncio.sleep(CACHE_TTL)
    assert not await profile_signed_in(server.base_url, cookie)


async def _victim_page(server: RunServer, email: str) -> tuple[str, LiveSocket, int, str]:
    """Register ``email`` (the actor's session) and sign it in again with a live page.

    Returns the actor's cookie, the live page, the worker holding it and its cookie.
    """
    actor = await sign_in(server.base_url, email, PASSWORD, register=True)
    victim = await sign_in(server.base_url, email, PASSWORD)
    live, worker = await live_page_on_other_worker(server, victim, avoid=())
    return actor, live, worker, victim


async def test_password_change_in_one_worker_signs_out_a_live_page_in_another(
    server: RunServer,
) -> None:
    actor, live, page_worker, victim = await _victim_page(server, "change-pw@example.com")
    try:
        assert len(server.worker_pids()) == WORKERS
        async with pinned_client(server, avoid={page_worker}) as (client, worker):
            assert await profile_signed_in(server.base_url, victim)  # keeps it from idling out
            response = await post_form(
                client,
                "/auth/local/change-password",
                actor,
                current_password=PASSWORD,
                new_password=NEW_PASSWORD,
                next="/account",
            )
            assert error_of(response) is None, response.headers
            assert_served_by(server, response, worker)
        assert worker != page_worker
        fresh = session_cookie(response)
        assert fresh is not None
        await _signed_out_live(server, live, victim)
        assert not await profile_signed_in(server.base_url, actor)
        assert await profile_signed_in(server.base_url, fresh)
    finally:
        await live.close()


async def test_account_deletion_in_one_worker_signs_out_a_live_page_in_another(
    server: RunServer,
) -> None:
    actor, live, page_worker, victim = await _victim_page(server, "delete-me@example.com")
    try:
        async with pinned_client(server, avoid={page_worker}) as (client, worker):
            assert await profile_signed_in(server.base_url, victim)
            response = await post_form(
                client, "/auth/local/delete-account", actor, password=PASSWORD, next="/register"
            )
            assert error_of(response) is None, response.headers
            assert response.headers["location"] == "/register"
            assert_served_by(server, response, worker)
        assert worker != page_worker
        await _signed_out_live(server, live, victim)
        assert not await profile_signed_in(server.base_url, actor)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            again = await post_form(
                client, "/auth/local/login", email="delete-me@example.com", password=PASSWORD
            )
        assert error_of(again) == "invalid"
    finally:
        await live.close()


async def test_an_expired_session_closes_its_live_page_in_a_worker_that_never_served_it(
    server: RunServer,
) -> None:
    """Nothing ends this session but time: the worker holding the page closes it."""
    email = "expires@example.com"
    await sign_in(server.base_url, email, PASSWORD, register=True)
    async with pinned_client(server, avoid=()) as (client, signin_worker):
        response = await post_form(client, "/auth/local/login", email=email, password=PASSWORD)
        assert error_of(response) is None
        assert_served_by(server, response, signin_worker)
    cookie = session_cookie(response)
    assert cookie is not None
    live, page_worker = await live_page_on_other_worker(server, cookie, avoid={signin_worker})
    try:
        assert page_worker != signin_worker
        # Closed at the session's end (TTL after sign-in), with no request to
        # tell the worker: 4401, and no navigate before it (that would be a revoke).
        assert await live.wait_closed(TTL + DEADLINE) == SESSION_GONE_CLOSE_CODE
        assert live.find(is_navigate_to_login) is None
    finally:
        await live.close()
    # The browser reconnects with its (now dead) cookie and lands on the sign-in page.
    again, reply = await LiveSocket.start(server.base_url, cookie)
    await again.close()
    assert is_navigate_to_login(reply), reply
    assert not await profile_signed_in(server.base_url, cookie)


async def _wait_for_mail(smtp: SMTPServer, to: str, subject_start: str) -> EmailMessage:
    """The first message to ``to`` whose subject starts so (sent after the response: poll)."""
    for _ in range(int(DEADLINE * 10)):
        for message in list(smtp.messages):
            if message["To"] == to and str(message["Subject"]).startswith(subject_start):
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail {subject_start!r} to {to}; got {smtp.messages!r:.500}")


async def test_reset_by_mail_signs_in_and_signs_out_a_live_page_in_another_worker(
    server: RunServer, smtp: SMTPServer
) -> None:
    """forgot-password -> real SMTP -> link -> reset-password: this browser is in, the other out."""
    email = "forgetful@example.com"
    base = server.base_url
    await sign_in(base, email, PASSWORD, register=True)
    other = await sign_in(base, email, PASSWORD)
    live, page_worker = await live_page_on_other_worker(server, other, avoid=())
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
            asked = await post_form(
                browser, "/auth/local/forgot-password", email=email, next="/forgot_password?sent=1"
            )
            assert error_of(asked) is None, asked.headers
            assert asked.headers["location"] == "/forgot_password?sent=1"

            link = link_in(await _wait_for_mail(smtp, email, "Reset your"))
            # Built from PYWIRE_AUTH_BASE_URL, never from the request's Host.
            assert link.startswith(f"{base}/reset_password?token="), link
            page = await browser.get(link)
            assert page.status_code == 200
            assert "Choose a new password" in page.text
            assert page.headers["referrer-policy"] == "no-referrer"
            token = httpx.URL(link).params["token"]

        async with pinned_client(server, avoid={page_worker}) as (client, worker):
            assert await profile_signed_in(base, other)  # keeps it from idling out
            response = await post_form(
                client, "/auth/local/reset-password", token=token, password=NEW_PASSWORD
            )
            assert error_of(response) is None, response.headers
            assert response.headers["location"] == "/profile"
            assert_served_by(server, response, worker)
        assert worker != page_worker
        signed_in = session_cookie(response)
        assert signed_in is not None
        assert await profile_signed_in(base, signed_in)
        await _signed_out_live(server, live, other)
    finally:
        await live.close()
    # The link worked once.
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        reused = await post_form(
            client, "/auth/local/reset-password", token=token, password="yet another passphrase"
        )
    assert error_of(reused) == "token_invalid"
