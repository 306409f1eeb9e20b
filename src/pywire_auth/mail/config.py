"""Choosing the mailer from the environment, so an app's ``main.py`` needs no code for it.

* ``PYWIRE_AUTH_SMTP_URL`` (``smtp://user:pw@host:587``) and ``PYWIRE_AUTH_MAIL_FROM``:
  an :class:`SMTPMailer`;
* nothing set under ``pywire dev`` (``PYWIRE_DEV_MODE=1``): a :class:`ConsoleMailer`;
* nothing set otherwise: no mailer; the routes that mail answer ``unavailable``
  and ``connect_auth`` says so in the log once, at start-up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.mail.console import ConsoleMailer
from pywire_auth.mail.smtp import SMTPMailer

if TYPE_CHECKING:  # protocols.py imports this package's MailMessage
    from pywire_auth.protocols import Mailer

__all__ = ["MAIL_FROM_ENV", "SMTP_URL_ENV", "dev_mode", "mailer_from_env"]

SMTP_URL_ENV = "PYWIRE_AUTH_SMTP_URL"
MAIL_FROM_ENV = "PYWIRE_AUTH_MAIL_FROM"
# Set by `pywire dev` before it imports the app (pywire/runtime/dev_server.py).
DEV_MODE_ENV = "PYWIRE_DEV_MODE"


def dev_mode(environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = None) -> bool:
    """Whether the app runs under ``pywire dev``."""
    env = os.environ if environ is None else environ
    if env.get(DEV_MODE_ENV) == "1":
        return True
    # `pywire dev` imports the app once to check it *before* it sets
    # PYWIRE_DEV_MODE (pywire_cli/main.py), and that first import is the one
    # whose connect_auth runs: its own command line is the only sign left.
    args = sys.argv if argv is None else argv
    return len(args) >= 2 and os.path.basename(args[0]) == "pywire" and args[1] == "dev"


def mailer_from_env(environ: Mapping[str, str] | None = None) -> Mailer | None:
    """The mailer the environment asks for, or ``None``.

    >>> mailer_from_env({"PYWIRE_AUTH_SMTP_URL": "smtps://mail.example.com",
    ...                  "PYWIRE_AUTH_MAIL_FROM": "shop@example.com"})
    SMTPMailer(host='mail.example.com', port=465, tls='tls', user='')
    >>> mailer_from_env({}) is None
    True
    """
    env = os.environ if environ is None else environ
    url = env.get(SMTP_URL_ENV, "").strip()
    sender = env.get(MAIL_FROM_ENV, "").strip()
    if url:
        if not sender:
            raise ConfigurationError(f"{SMTP_URL_ENV} is set: set {MAIL_FROM_ENV} too")
        return SMTPMailer.from_url(url, sender=sender)
    if dev_mode(env):
        return ConsoleMailer(sender=sender) if sender else ConsoleMailer()
    return None
