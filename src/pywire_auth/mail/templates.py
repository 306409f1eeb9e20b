"""The messages the account routes send, as templates an app can replace.

Placeholders use :class:`string.Template` syntax (``$link``, ``$email``,
``$minutes``, ``$site``). Values are HTML-escaped in the HTML part, so an
address or site name cannot inject markup into the message.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template

from pywire_auth.mail.message import MailMessage

__all__ = ["DEFAULT_TEMPLATES", "MailTemplate"]


@dataclass(frozen=True, slots=True)
class MailTemplate:
    """Subject, plain-text body and HTML body of one kind of message.

    >>> t = MailTemplate("Reset for $site", "Go to $link", "<a href='$link'>reset</a>")
    >>> t.render("ann@example.com", {"site": "Shop", "link": "https://x/?a=1&b=2"}).html
    "<a href='https://x/?a=1&amp;b=2'>reset</a>"
    """

    subject: str
    text: str
    html: str = ""

    def render(self, to: str, values: Mapping[str, str], *, sender: str = "") -> MailMessage:
        """The message for ``to`` with ``values`` filled in."""
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        return MailMessage(
            to=to,
            subject=Template(self.subject).safe_substitute(values),
            text=Template(self.text).safe_substitute(values),
            html=Template(self.html).safe_substitute(escaped) if self.html else "",
            sender=sender,
        )


_FOOTER_TEXT = "\n\nIf you did not ask for this, ignore this message.\n"
_FOOTER_HTML = "<p>If you did not ask for this, ignore this message.</p>"

#: The built-in messages, by kind; pass ``templates={kind: MailTemplate(...)}`` to replace one.
DEFAULT_TEMPLATES: Mapping[str, MailTemplate] = {
    "reset_password": MailTemplate(
        subject="Reset your $site password",
        text="Someone asked to reset the password of $email on $site.\n\n"
        "Choose a new password here (the link works once, for $minutes minutes):\n\n"
        "$link" + _FOOTER_TEXT,
        html="<p>Someone asked to reset the password of $email on $site.</p>"
        '<p><a href="$link">Choose a new password</a> (the link works once, for '
        "$minutes minutes).</p>" + _FOOTER_HTML,
    ),
    "verify_email": MailTemplate(
        subject="Confirm your email address for $site",
        text="Confirm that $email is your address on $site:\n\n$link\n\n"
        "The link works for $minutes minutes." + _FOOTER_TEXT,
        html='<p>Confirm that $email is your address on $site: <a href="$link">confirm</a>.</p>'
        "<p>The link works for $minutes minutes.</p>" + _FOOTER_HTML,
    ),
    "password_changed": MailTemplate(
        subject="Your $site password was changed",
        text="The password of $email on $site was just changed, and every other "
        "session was signed out.\nIf this was not you, reset your password now.\n",
        html="<p>The password of $email on $site was just changed, and every other "
        "session was signed out.</p><p>If this was not you, reset your password now.</p>",
    ),
    "change_email": MailTemplate(
        subject="Confirm your new email address for $site",
        text="Someone asked to use $email as the address of an account on $site.\n\n"
        "Confirm it here (the link works once, for $minutes minutes):\n\n$link" + _FOOTER_TEXT,
        html="<p>Someone asked to use $email as the address of an account on $site.</p>"
        '<p><a href="$link">Confirm the new address</a> (the link works once, for '
        "$minutes minutes).</p>" + _FOOTER_HTML,
    ),
    "email_changed": MailTemplate(
        subject="Your $site email address was changed",
        text="The account that used $email on $site now uses another address.\n"
        "If this was not you, contact us at once.\n",
        html="<p>The account that used $email on $site now uses another address.</p>"
        "<p>If this was not you, contact us at once.</p>",
    ),
    "account_deleted": MailTemplate(
        subject="Your $site account was deleted",
        text="The account of $email on $site was deleted, with everything stored about it.\n",
        html="<p>The account of $email on $site was deleted, with everything stored about it.</p>",
    ),
}
