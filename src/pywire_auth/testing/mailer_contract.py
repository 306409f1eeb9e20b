"""The Mailer contract: one suite, run against every mailer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pywire_auth.mail.message import MailMessage
from pywire_auth.protocols import Mailer

__all__ = ["Inbox", "MailerContract"]

#: Everything the mailer under test delivered so far, oldest first, as messages
#: with ``sender`` set to the ``From`` the recipient saw.
Inbox = Callable[[], list[MailMessage]]


class MailerContract:
    """Behaviour every :class:`~pywire_auth.Mailer` must show.

    Subclasses provide a ``mailer`` fixture (sending with the default sender
    ``SENDER``) and an ``inbox`` fixture returning an :data:`Inbox`.
    """

    SENDER = "Shop <no-reply@shop.example.com>"
    pytestmark = pytest.mark.asyncio

    async def test_satisfies_protocol(self, mailer: Mailer) -> None:
        assert isinstance(mailer, Mailer)

    async def test_delivers_text_and_html_unchanged(self, mailer: Mailer, inbox: Inbox) -> None:
        sent = MailMessage(
            to="ann@example.com",
            subject="Réinitialiser votre mot de passe ✓",
            text="Bonjour Ann,\n\nhttps://shop.example.com/reset_password?token=a.1.b-_\n",
            html='<p><a href="https://shop.example.com/r?token=a.1.b-_">Réinitialiser</a></p>\n',
        )
        await mailer.send(sent)
        (got,) = inbox()
        assert (got.to, got.subject) == (sent.to, sent.subject)
        assert got.text.strip() == sent.text.strip()
        assert got.html.strip() == sent.html.strip()

    async def test_text_only_messages(self, mailer: Mailer, inbox: Inbox) -> None:
        await mailer.send(MailMessage("bob@example.com", "Hello", "Just text.\n"))
        (got,) = inbox()
        assert got.text.strip() == "Just text."
        assert got.html == ""

    async def test_default_and_explicit_sender(self, mailer: Mailer, inbox: Inbox) -> None:
        await mailer.send(MailMessage("bob@example.com", "One", "1"))
        await mailer.send(MailMessage("bob@example.com", "Two", "2", sender="ops@example.com"))
        assert [m.sender for m in inbox()] == [self.SENDER, "ops@example.com"]

    async def test_aclose_twice(self, mailer: Mailer) -> None:
        await mailer.aclose()
        await mailer.aclose()
