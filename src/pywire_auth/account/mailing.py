"""What the account routes mail, where its links point, and sending it without blocking.

Links are absolute URLs built from the configured public base URL, never from the
request's ``Host`` header, which the client controls: host-header poisoning would
mail the victim a link to the attacker's site, carrying a live reset token.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from urllib.parse import urlencode, urlsplit

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from pywire_auth.account.options import BASE_URL_ENV, AccountOptions, check_base_url
from pywire_auth.exceptions import MailUnavailableError
from pywire_auth.mail.config import dev_mode
from pywire_auth.mail.message import MailMessage
from pywire_auth.mail.templates import DEFAULT_TEMPLATES
from pywire_auth.protocols import Mailer
from pywire_auth.types import UserRecord

__all__ = ["AccountMail"]

logger = logging.getLogger("pywire_auth.account")


class AccountMail:
    """The mailer, base URL and templates of the account routes of one app.

    ``base_url`` falls back to ``PYWIRE_AUTH_BASE_URL``. A missing mailer or base
    URL is logged once, here (at start-up), and makes the mailing routes answer
    ``unavailable``.
    """

    def __init__(self, mailer: Mailer | None, options: AccountOptions, base_url: str = "") -> None:
        url = base_url or os.environ.get(BASE_URL_ENV, "")
        self.mailer = mailer
        self.base_url = check_base_url(url) if url else ""
        self.options = options
        self.templates = {**DEFAULT_TEMPLATES, **options.templates}
        if mailer is None:
            logger.warning(
                "no mailer: password-reset and verification mail answer 'unavailable' "
                "(set PYWIRE_AUTH_SMTP_URL and PYWIRE_AUTH_MAIL_FROM)"
            )
        if not self.base_url and not dev_mode():
            logger.warning(
                "no %s: mailed links cannot be built and those routes answer 'unavailable'",
                BASE_URL_ENV,
            )

    def require_mailer(self) -> Mailer:
        """The mailer, or :class:`MailUnavailableError` when none is configured."""
        if self.mailer is None:
            raise MailUnavailableError("no mailer is configured")
        return self.mailer

    def link_base(self, request: Request) -> str:
        """The site's public base URL: configured, or (``pywire dev`` only) loopback."""
        if self.base_url:
            return self.base_url
        host = request.headers.get("host", "")
        # Under `pywire dev` a loopback Host is harmless: a poisoned one could only
        # point the link at the victim's own machine.
        if dev_mode() and _is_loopback(host):
            return f"{request.url.scheme}://{host}"
        raise MailUnavailableError(f"set {BASE_URL_ENV} so mailed links can be built")

    def message(
        self, kind: str, user: UserRecord, base: str, page: str = "/", token: str = "", ttl: int = 0
    ) -> MailMessage:
        """The ``kind`` message to ``user``, linking to ``base + page`` (with the token)."""
        link = f"{base}{page}?{urlencode({'token': token})}" if token else base + page
        site = self.options.site_name or urlsplit(base).hostname or "this site"
        values = {"link": link, "email": user.email, "site": site, "minutes": str(ttl // 60)}
        return self.templates[kind].render(user.email, values)

    def send_after(self, response: Response, mailer: Mailer, message: MailMessage) -> None:
        """Send ``message`` once ``response`` is out; an outage is logged, not raised."""
        response.background = BackgroundTask(_send_quietly, mailer, message)

    def notify(self, response: Response, kind: str, user: UserRecord) -> None:
        """Mail a notice (no link) to the user after the response, if mail is on."""
        if self.mailer is not None:
            self.send_after(response, self.mailer, self.message(kind, user, self.base_url))


async def _send_quietly(mailer: Mailer, message: MailMessage) -> None:
    # After the response: an outage cannot change an answer that must not differ
    # between existing and unknown accounts. Logged without address or link.
    try:
        await mailer.send(message)
    except MailUnavailableError as exc:
        logger.warning("account mail not sent: %s", exc)


def _is_loopback(host: str) -> bool:
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
