"""SMTPMailer: sends through an SMTP server with aiosmtplib (TLS, STARTTLS, auth).

Every aiosmtplib and socket error is mapped here, and only here, to
:class:`~pywire_auth.MailUnavailableError`.
"""

from __future__ import annotations

import ssl
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from pywire_auth.exceptions import ConfigurationError, MailUnavailableError
from pywire_auth.mail.message import MailMessage

__all__ = ["SMTPMailer"]

_TLS_MODES = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class SMTPMailer:
    """Sends each message over a new SMTP connection.

    ``tls`` is ``"starttls"`` (the default: the server must offer STARTTLS, so a
    man in the middle cannot strip it and read the links), ``"tls"`` (implicit
    TLS, port 465) or ``"none"`` (plain text: only for a relay on loopback).

    >>> SMTPMailer.from_url("smtp://bob:secret@mail.example.com:587", sender="a@b.c")
    SMTPMailer(host='mail.example.com', port=587, tls='starttls', user='bob')
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str,
        username: str = "",
        password: str = "",
        tls: str = "starttls",
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if tls not in _TLS_MODES:
            raise ConfigurationError(f"tls must be one of {_TLS_MODES}")
        if not host or not sender:
            raise ConfigurationError("SMTPMailer needs a host and a sender address")
        self.host = host
        self.port = port or _DEFAULT_PORTS[tls]
        self.sender = sender
        self.tls = tls
        self.timeout = timeout
        self._username = username
        self._password = password
        self._tls_context = tls_context

    def __repr__(self) -> str:
        # Never the password: reprs end up in logs.
        return (
            f"SMTPMailer(host={self.host!r}, port={self.port}, tls={self.tls!r}, "
            f"user={self._username!r})"
        )

    @classmethod
    def from_url(cls, url: str, *, sender: str, timeout: float = 10.0) -> SMTPMailer:
        """Build a mailer from ``smtp://user:pw@host:587`` (STARTTLS required),
        ``smtps://user:pw@host:465`` (implicit TLS) or ``smtp://host:25?tls=none``.
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError("the SMTP URL is malformed") from exc
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError("the SMTP URL must look like smtp://user:pw@host:587")
        tls = "tls" if parts.scheme == "smtps" else "starttls"
        asked = parse_qs(parts.query).get("tls")
        if asked:
            tls = asked[-1]
        return cls(
            parts.hostname,
            port,
            sender=sender,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            tls=tls,
            timeout=timeout,
        )

    async def send(self, message: MailMessage) -> None:
        """Send ``message``; :class:`MailUnavailableError` if it was not accepted."""
        email = message.to_email(self.sender)
        try:
            await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self._username or None,
                password=self._password or None,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                tls_context=self._tls_context,
                timeout=self.timeout,
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # The server's reply may quote the recipient; the type says enough.
            raise MailUnavailableError(f"mail not sent: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        """Nothing to release: each message uses its own connection."""
