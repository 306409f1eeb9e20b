"""The one place where emails, passwords and display names are normalized and checked.

Everything that compares emails (registration, sign-in, the store's unique link)
uses :func:`normalize_email`, so ``Alice@Example.com`` and ``alice@example.com``
are always the same account.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pywire_auth.exceptions import (
    InvalidEmailError,
    InvalidInputError,
    MissingFieldError,
    WeakPasswordError,
)

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_NAME_LENGTH",
    "PasswordPolicy",
    "normalize_email",
    "normalize_name",
]

#: RFC 5321 limits a forward path to 254 characters.
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200

# The HTML "valid e-mail address" grammar, widened to Unicode letters for
# internationalized addresses. Quoted local parts and IP-literal domains are
# refused on purpose: no real sign-up form needs them and they hide tricks.
_LOCAL_RE = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]{1,64}$")
_LABEL_RE = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")


def _has_control_chars(value: str) -> bool:
    # Cc covers NUL, CR/LF and the other C0/C1 controls; Cf hides bidi overrides
    # and zero-width characters that make two addresses look alike.
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value)


def normalize_email(email: str) -> str:
    """Return the canonical form of an email address, or raise.

    Trims surrounding whitespace, applies Unicode NFKC and lower-cases the whole
    address. Raises :class:`MissingFieldError` for an empty value and
    :class:`InvalidEmailError` for anything that is not a plain address.

    >>> normalize_email("  Alice@Example.COM ")
    'alice@example.com'
    """
    if not isinstance(email, str):
        raise InvalidEmailError("email must be a string")
    value = unicodedata.normalize("NFKC", email.strip()).lower()
    if not value:
        raise MissingFieldError("email is required")
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(f"email is longer than {MAX_EMAIL_LENGTH} characters")
    if _has_control_chars(value):
        raise InvalidEmailError("email contains control characters")
    local, sep, domain = value.rpartition("@")
    if not sep or not _LOCAL_RE.match(local) or "_" in domain:
        raise InvalidEmailError("not a valid email address")
    labels = domain.split(".")
    if not all(_LABEL_RE.match(label) for label in labels):
        raise InvalidEmailError("not a valid email address")
    return value


def normalize_name(name: str) -> str:
    """Trim and NFKC-normalize a display name; refuse control characters and long names."""
    if not isinstance(name, str):
        raise InvalidInputError("name must be a string")
    value = unicodedata.normalize("NFKC", name).strip()
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"name is longer than {MAX_NAME_LENGTH} characters")
    if _has_control_chars(value):
        raise InvalidInputError("name contains control characters")
    return value


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Which passwords are accepted for new accounts and password changes.

    Passwords are NFKC-normalized (so the same visible password typed on two
    keyboards matches) but never trimmed or truncated: every character counts.

    >>> PasswordPolicy(min_length=12).normalize("correct horse battery")
    'correct horse battery'
    """

    min_length: int = 8
    max_length: int = 256

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("need 1 <= min_length <= max_length")

    def normalize(self, password: str) -> str:
        """Return the normalized password, or raise :class:`WeakPasswordError`."""
        value = normalize_password(password)
        if not value:
            raise MissingFieldError("password is required")
        if len(value) < self.min_length:
            raise WeakPasswordError(f"password must have at least {self.min_length} characters")
        if len(value) > self.max_length:
            raise WeakPasswordError(f"password must have at most {self.max_length} characters")
        if "\x00" in value:
            raise WeakPasswordError("password contains a NUL character")
        if any(unicodedata.category(ch) == "Cs" for ch in value):
            # Lone surrogates (possible in JSON) cannot be encoded, so never hashed.
            raise WeakPasswordError("password contains invalid characters")
        return value


def normalize_password(password: str) -> str:
    """NFKC-normalize a password for hashing or checking; never trims it."""
    if not isinstance(password, str):
        raise InvalidInputError("password must be a string")
    return unicodedata.normalize("NFKC", password)
