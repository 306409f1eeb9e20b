"""ConsoleMailer: development mail that is written to the console instead of sent."""

from __future__ import annotations

import sys
from typing import TextIO

from pywire_auth.mail.message import MailMessage

__all__ = ["ConsoleMailer"]

DEFAULT_SENDER = "pywire-auth@localhost"


class ConsoleMailer:
    """Writes each message's headers and plain-text body to ``stream`` (stderr).

    The default under ``pywire dev`` when no SMTP server is configured, so reset
    and verification links can be followed from the terminal. Never use it in
    production: the links it prints are live credentials.

    >>> import io
    >>> out = io.StringIO()
    >>> import asyncio
    >>> asyncio.run(ConsoleMailer(out).send(MailMessage("ann@example.com", "Hi", "Hello")))
    >>> "Hello" in out.getvalue()
    True
    """

    def __init__(self, stream: TextIO | None = None, *, sender: str = DEFAULT_SENDER) -> None:
        self._stream = stream
        self.sender = sender
        #: Every message sent, oldest first (handy in a REPL or a test).
        self.sent: list[MailMessage] = []

    def __repr__(self) -> str:
        return f"ConsoleMailer(sender={self.sender!r})"

    async def send(self, message: MailMessage) -> None:
        """Write ``message`` to the stream; never fails."""
        self.sent.append(message)
        stream = self._stream if self._stream is not None else sys.stderr
        rule = "-" * 72
        stream.write(
            f"{rule}\nFrom: {message.sender or self.sender}\nTo: {message.to}\n"
            f"Subject: {message.subject}\n\n{message.text}\n{rule}\n"
        )
        stream.flush()

    async def aclose(self) -> None:
        """Nothing to release."""
