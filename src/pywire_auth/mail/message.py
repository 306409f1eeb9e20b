"""The one record a mailer sends: a plain-text and HTML message to one address."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

__all__ = ["MailMessage"]


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One message to one recipient, with a plain-text body and an HTML alternative.

    ``sender`` may be left empty: the mailer then uses its configured sender.

    >>> MailMessage(to="ann@example.com", subject="Hi", text="Hello").to_email("a@b.c")["To"]
    'ann@example.com'
    """

    to: str
    subject: str
    text: str
    html: str = ""
    sender: str = ""

    def to_email(self, default_sender: str) -> EmailMessage:
        """The MIME message (``multipart/alternative`` when there is HTML)."""
        message = EmailMessage()
        sender = self.sender or default_sender
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        domain = sender.rpartition("@")[2].strip(">") or None
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(self.text)
        if self.html:
            message.add_alternative(self.html, subtype="html")
        return message
