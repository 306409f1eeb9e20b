"""Settings of the account routes: link pages and lifetimes, templates, throttles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pywire_auth._http import safe_local_path
from pywire_auth.exceptions import ConfigurationError
from pywire_auth.mail.templates import MailTemplate
from pywire_auth.throttles.policy import RateLimit

__all__ = ["BASE_URL_ENV", "AccountOptions", "check_base_url"]

BASE_URL_ENV = "PYWIRE_AUTH_BASE_URL"

_PER_ADDRESS = RateLimit(10, 3600)
_PER_ACCOUNT = RateLimit(3, 3600)
_PER_USER_MAIL = RateLimit(5, 3600)
_PER_USER_PASSWORD = RateLimit(10, 900)


@dataclass(frozen=True, slots=True)
class AccountOptions:
    """How the account routes build links, word messages and count requests.

    ``reset_page`` and ``verify_page`` are the app's pages that mailed links open
    (with ``?token=...``); ``forgot_page`` and ``account_page`` are where their
    forms' errors go without ``error_next``. ``reset_ttl`` and ``verify_ttl`` are
    link lifetimes in seconds. ``templates`` replace built-in messages by kind
    (``reset_password``, ``verify_email``, ``change_email``, ``email_changed``,
    ``password_changed``, ``account_deleted``);
    ``site_name``
    fills ``$site`` (default: the base URL's host).

    >>> AccountOptions(reset_ttl=900).reset_page
    '/reset_password'
    """

    reset_page: str = "/reset_password"
    verify_page: str = "/verify_email"
    forgot_page: str = "/forgot_password"
    account_page: str = "/account"
    reset_ttl: int = 30 * 60
    verify_ttl: int = 24 * 3600
    site_name: str = ""
    templates: Mapping[str, MailTemplate] = field(default_factory=dict)
    #: Reset mails asked for from one client address (mail bombing, enumeration).
    reset_requests_per_address: RateLimit = _PER_ADDRESS
    #: Reset mails sent to one address, whoever asks (mail bombing one victim).
    reset_requests_per_account: RateLimit = _PER_ACCOUNT
    #: Verification mails one signed-in user may ask for.
    verify_requests_per_user: RateLimit = _PER_USER_MAIL
    #: Wrong current passwords one signed-in user may try (a stolen session guessing).
    password_checks_per_user: RateLimit = _PER_USER_PASSWORD

    def __post_init__(self) -> None:
        for page in (self.reset_page, self.verify_page, self.forgot_page, self.account_page):
            if safe_local_path(page) != page or "?" in page:
                raise ConfigurationError(f"{page!r} must be a plain path on this site")
        if self.reset_ttl <= 0 or self.verify_ttl <= 0:
            raise ConfigurationError("link lifetimes must be positive")


def check_base_url(url: str) -> str:
    """The public base URL of the site without a trailing slash; ``ConfigurationError``
    if it is not an absolute http(s) URL without query or fragment.

    >>> check_base_url("https://shop.example.com/")
    'https://shop.example.com'
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise ConfigurationError(f"{BASE_URL_ENV} is malformed") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(f"{BASE_URL_ENV} must look like https://example.com")
    return url.strip().rstrip("/")
