"""SMTPMailer against a real SMTP server (aiosmtpd) on loopback: TLS, STARTTLS, auth, outages.

ConsoleMailer runs the same contract suite.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pywire_auth import (
    ConfigurationError,
    ConsoleMailer,
    MailMessage,
    MailUnavailableError,
    SMTPMailer,
)
from pywire_auth.mail import mailer_from_env
from pywire_auth.testing import Inbox, MailerContract
from tests.backends._tls import LoopbackCertificate, make_certificate
from tests.web._smtp import Inbox as ServerInbox
from tests.web._smtp import SMTPServer, free_port, html_of, text_of

USER, PASSWORD = "shop", "s3cret pass"
MESSAGE = MailMessage("ann@example.com", "Reset", "https://shop.example.com/r?token=x")


class RecordingInbox(ServerInbox):
    """Also records whether each message came over TLS and from an authenticated client."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[tuple[bool, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # session.ssl is set by STARTTLS; an implicit-TLS transport shows its ssl_object.
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((tls, bool(session.authenticated)))
        return await super().handle_DATA(server, session, envelope)


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def certificate(tmp_path: Path) -> LoopbackCertificate:
    return make_certificate(tmp_path)


@pytest.fixture
def tls_server(certificate: LoopbackCertificate) -> Iterator[tuple[int, RecordingInbox]]:
    """STARTTLS required before AUTH and MAIL, like a submission server on port 587."""
    inbox, port = RecordingInbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    yield port, inbox
    controller.stop()


def starttls_mailer(
    port: int, certificate: LoopbackCertificate, password: str = PASSWORD
) -> SMTPMailer:
    return SMTPMailer(
        "127.0.0.1",
        port,
        sender="no-reply@shop.example.com",
        username=USER,
        password=password,
        tls_context=certificate.client_context(),
    )


# The contract, for both mailers -------------------------------------------------------


def _as_message(email: EmailMessage) -> MailMessage:
    html_part = email.get_body(preferencelist=("html",))
    return MailMessage(
        to=str(email["To"]),
        subject=str(email["Subject"]),
        # SMTP carries CRLF line ends; the contract compares text.
        text=text_of(email).replace("\r\n", "\n"),
        html=html_of(email).replace("\r\n", "\n") if html_part is not None else "",
        sender=str(email["From"]),
    )


class TestSMTPMailerContract(MailerContract):
    @pytest.fixture
    def server(self) -> Iterator[SMTPServer]:
        server = SMTPServer()
        server.start()
        yield server
        server.stop()

    @pytest.fixture
    def mailer(self, server: SMTPServer) -> SMTPMailer:
        return SMTPMailer.from_url(server.url, sender=self.SENDER)

    @pytest.fixture
    def inbox(self, server: SMTPServer) -> Inbox:
        return lambda: [_as_message(m) for m in server.messages]


class TestConsoleMailerContract(MailerContract):
    @pytest.fixture
    def mailer(self) -> ConsoleMailer:
        return ConsoleMailer(io.StringIO(), sender=self.SENDER)

    @pytest.fixture
    def inbox(self, mailer: ConsoleMailer) -> Inbox:
        return lambda: [
            MailMessage(m.to, m.subject, m.text, m.html, m.sender or mailer.sender)
            for m in mailer.sent
        ]


# TLS and authentication ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_starttls_and_auth(
    tls_server: tuple[int, RecordingInbox], certificate: LoopbackCertificate
) -> None:
    port, inbox = tls_server
    await starttls_mailer(port, certificate).send(MESSAGE)
    assert [m["To"] for m in inbox.messages] == ["ann@example.com"]
    assert inbox.sessions == [(True, True)]


@pytest.mark.asyncio
async def test_a_wrong_password_is_unavailable(
    tls_server: tuple[int, RecordingInbox], certificate: LoopbackCertificate
) -> None:
    port, inbox = tls_server
    # aiosmtplib then tries the next mechanism, which aiosmtpd leaves
    # unanswered: a short timeout keeps the test quick.
    mailer = starttls_mailer(port, certificate, password="wrong")
    mailer.timeout = 2
    with pytest.raises(MailUnavailableError):
        await mailer.send(MESSAGE)
    assert inbox.messages == []


@pytest.mark.asyncio
async def test_an_untrusted_certificate_is_refused(
    tls_server: tuple[int, RecordingInbox],
) -> None:
    # The system trust store does not know the test CA: a man in the middle's
    # certificate is refused the same way, before any password is sent.
    port, inbox = tls_server
    mailer = SMTPMailer("127.0.0.1", port, sender="a@b.c", username=USER, password=PASSWORD)
    with pytest.raises(MailUnavailableError):
        await mailer.send(MESSAGE)
    assert inbox.messages == []


@pytest.mark.asyncio
async def test_starttls_is_required_not_opportunistic() -> None:
    """A server (or a man in the middle) that offers no STARTTLS gets nothing in plain text."""
    server = SMTPServer()
    server.start()
    try:
        mailer = SMTPMailer("127.0.0.1", server.port, sender="a@b.c")  # tls="starttls"
        with pytest.raises(MailUnavailableError):
            await mailer.send(MESSAGE)
        assert server.messages == []
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_implicit_tls(certificate: LoopbackCertificate) -> None:
    inbox, port = RecordingInbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, ssl_context=certificate.server_context()
    )
    controller.start()
    try:
        mailer = SMTPMailer(
            "127.0.0.1",
            port,
            sender="a@b.c",
            tls="tls",
            tls_context=certificate.client_context(),
        )
        await mailer.send(MESSAGE)
    finally:
        controller.stop()
    assert inbox.sessions == [(True, False)]


@pytest.mark.asyncio
async def test_a_server_that_is_down_is_unavailable() -> None:
    mailer = SMTPMailer("127.0.0.1", free_port(), sender="a@b.c", tls="none", timeout=5)
    with pytest.raises(MailUnavailableError) as caught:
        await mailer.send(MESSAGE)
    assert caught.value.code == "unavailable"
    assert "ann@example.com" not in str(caught.value)


# Configuration -----------------------------------------------------------------------------


def test_from_url() -> None:
    mailer = SMTPMailer.from_url("smtp://us%40er:p%3Aw@mail.example.com", sender="a@b.c")
    assert (mailer.host, mailer.port, mailer.tls) == ("mail.example.com", 587, "starttls")
    assert "p:w" not in repr(mailer)
    assert "us@er" in repr(mailer)
    assert SMTPMailer.from_url("smtps://mail.example.com", sender="a@b.c").port == 465
    relay = SMTPMailer.from_url("smtp://127.0.0.1:2525?tls=none", sender="a@b.c")
    assert (relay.port, relay.tls) == (2525, "none")


@pytest.mark.parametrize(
    "url", ["http://mail.example.com", "smtp://", "smtp://h:99999", "smtp://h?tls=maybe"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SMTPMailer.from_url(url, sender="a@b.c")


def test_mailer_from_env() -> None:
    assert mailer_from_env({}) is None
    assert isinstance(mailer_from_env({"PYWIRE_DEV_MODE": "1"}), ConsoleMailer)
    smtp = mailer_from_env(
        {"PYWIRE_AUTH_SMTP_URL": "smtp://h:587", "PYWIRE_AUTH_MAIL_FROM": "a@b.c"}
    )
    assert isinstance(smtp, SMTPMailer)
    assert smtp.sender == "a@b.c"
    with pytest.raises(ConfigurationError):
        mailer_from_env({"PYWIRE_AUTH_SMTP_URL": "smtp://h:587"})
