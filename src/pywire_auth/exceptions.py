"""The one exception tree of pywire-auth.

Every error this library raises on purpose is an :class:`AuthError`. Each class has
a stable ``code`` string; the HTTP routes put that code in ``?error=<code>``, so
codes are part of the public contract and never change once released::

    AuthError                      code
    ├── ConfigurationError         "config"         (bad setup: missing secret, bad URL)
    ├── InvalidInputError          "invalid"        (also a ValueError)
    │   ├── MissingFieldError      "missing"
    │   ├── InvalidEmailError      "invalid_email"
    │   ├── WeakPasswordError      "weak_password"  (.reason says why: "common", ...)
    │   ├── ReservedClaimError     "invalid"        (caller tried to set iss/sub/exp/...)
    │   ├── WrongPasswordError     "wrong_password" (the current password did not match)
    │   └── LinkTokenError         "token_invalid"  (a mailed link is forged, used or stale)
    │       └── LinkExpiredError   "token_expired"  (a genuine link past its lifetime)
    ├── UserExistsError            "exists"         (also a ValueError)
    ├── UserNotFoundError          "not_found"      (also a LookupError)
    ├── AccountDisabledError       "disabled"       (right password, but an operator disabled it)
    ├── ThrottledError             "throttled"      (too many attempts / hashing overloaded)
    ├── StoreUnavailableError      "unavailable"    (database down, locked, timed out)
    ├── ProviderError              "provider"       (an OIDC provider's answer failed a check)
    │   ├── ProviderUnavailableError "unavailable"  (provider down, slow or answering 5xx)
    │   ├── LoginCancelledError    "cancelled"      (the user said no at the provider)
    │   └── LinkRequiredError      "link_required"  (email owned by an account: sign in, then link)
    ├── MailUnavailableError       "unavailable"    (no mailer, or the mail server refused)
    └── AdoptionError              "adoption"       (a 0.4.0 database needs attention first)

Lookups that simply find nothing return ``None`` instead of raising.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pywire_auth.stores.v04 import AdoptionReport

__all__ = [
    "AccountDisabledError",
    "AdoptionError",
    "AuthError",
    "ConfigurationError",
    "InvalidEmailError",
    "InvalidInputError",
    "LastSignInMethodError",
    "LinkExpiredError",
    "LinkRequiredError",
    "LinkTokenError",
    "LoginCancelledError",
    "MailUnavailableError",
    "MissingFieldError",
    "ProviderError",
    "ProviderUnavailableError",
    "ReservedClaimError",
    "StoreUnavailableError",
    "ThrottledError",
    "UserExistsError",
    "UserNotFoundError",
    "WeakPasswordError",
    "WrongPasswordError",
]


class AuthError(Exception):
    """Base class of every pywire-auth error; ``code`` is stable and URL-safe.

    >>> try:
    ...     raise UserExistsError("alice@example.com is taken")
    ... except AuthError as exc:
    ...     exc.code
    'exists'
    """

    code: str = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)


class ConfigurationError(AuthError):
    """The library is set up wrongly (for example a missing or short secret)."""

    code = "config"


class InvalidInputError(AuthError, ValueError):
    """A value given to the library is malformed, too long or otherwise unusable."""

    code = "invalid"


class MissingFieldError(InvalidInputError):
    """A required value (email, password) is missing or empty."""

    code = "missing"


class InvalidEmailError(InvalidInputError):
    """The email address is not a usable address."""

    code = "invalid_email"


class WeakPasswordError(InvalidInputError):
    """The password does not meet the password policy.

    ``code`` stays ``"weak_password"`` (the routes' ``?error=`` value); ``reason``
    says why, for a form to explain it. Reasons are stable strings:
    ``too_short``, ``too_long``, ``invalid_character``, ``unassigned_character``,
    ``contains_email``, ``repetitive``, ``sequential``, ``common``, ``breached``.

    >>> WeakPasswordError("too common", reason="common").reason
    'common'
    """

    code = "weak_password"

    def __init__(self, message: str = "", *, reason: str = "policy") -> None:
        super().__init__(message)
        self.reason = reason


class ReservedClaimError(InvalidInputError):
    """A caller tried to set a registered JWT claim that the issuer owns."""

    code = "invalid"


class WrongPasswordError(InvalidInputError):
    """The current password given to confirm an account change was wrong."""

    code = "wrong_password"


class LinkTokenError(InvalidInputError):
    """A mailed link's token is forged, for another purpose, already used or outdated.

    Used and outdated links are one case on purpose: the token is derived from the
    account's current state, so after a password or email change it simply no
    longer matches.
    """

    code = "token_invalid"


class LinkExpiredError(LinkTokenError):
    """A genuine mailed link whose lifetime is over: ask for a new one."""

    code = "token_expired"


class UserExistsError(AuthError, ValueError):
    """An account with this identity (for example this email) already exists.

    Subclasses :class:`ValueError` so code written against the older API, which
    caught ``ValueError``, keeps working.
    """

    code = "exists"


class UserNotFoundError(AuthError, LookupError):
    """No user has the given id."""

    code = "not_found"


class AccountDisabledError(AuthError):
    """The account was disabled by an operator (``pywire-auth users disable``).

    Raised by a sign-in only after the password was checked and found right, so
    it tells nothing to someone who does not know the password; the routes
    redirect with ``?error=disabled``.
    """

    code = "disabled"


class ThrottledError(AuthError):
    """Too many attempts, or too much password hashing already queued: try later."""

    code = "throttled"


class StoreUnavailableError(AuthError):
    """The user store cannot be reached or did not answer in time.

    Nothing was written: a store operation either completes or leaves no trace.
    """

    code = "unavailable"


class ProviderError(AuthError):
    """An external sign-in failed a check: bad state, token, signature, issuer...

    The message says which check (for logs); users only ever see the code.
    """

    code = "provider"


class ProviderUnavailableError(ProviderError):
    """The OpenID Connect provider could not be reached or did not answer in time."""

    code = "unavailable"


class LoginCancelledError(ProviderError):
    """The user declined at the provider (``error=access_denied``)."""

    code = "cancelled"


class LinkRequiredError(ProviderError):
    """The provider's email belongs to an account that may not be linked automatically.

    The user signs in to that account first and links the provider from there.
    """

    code = "link_required"


class LastSignInMethodError(AuthError):
    """Removing this link would leave the user no way to sign in.

    The account has no password and no other provider link; the user sets a
    password or links another provider first.
    """

    code = "last_sign_in"


class MailUnavailableError(AuthError):
    """No mailer is configured, or the mail server could not be reached or refused.

    The route that wanted to send answers ``unavailable`` and changes nothing.
    """

    code = "unavailable"


class AdoptionError(AuthError):
    """A pywire-auth 0.4.0 database cannot be adopted as it is; nothing was changed.

    ``report`` (when the rows were read) lists each problem, such as two accounts
    whose emails differ only in case, which are never merged silently.
    """

    code = "adoption"

    def __init__(self, message: str = "", *, report: AdoptionReport | None = None) -> None:
        super().__init__(message)
        self.report = report
