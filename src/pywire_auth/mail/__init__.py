"""Sending mail: the SMTP and console mailers, messages and their templates."""

from pywire_auth.mail.config import mailer_from_env
from pywire_auth.mail.console import ConsoleMailer
from pywire_auth.mail.message import MailMessage
from pywire_auth.mail.smtp import SMTPMailer
from pywire_auth.mail.templates import DEFAULT_TEMPLATES, MailTemplate

__all__ = [
    "DEFAULT_TEMPLATES",
    "ConsoleMailer",
    "MailMessage",
    "MailTemplate",
    "SMTPMailer",
    "mailer_from_env",
]
