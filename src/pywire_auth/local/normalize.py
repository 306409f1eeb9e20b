"""The one place where emails, passwords and display names are normalized.

Everything that compares emails (registration, sign-in, the store's unique link)
uses :func:`normalize_email`, so ``Alice@Example.com`` and ``alice@example.com``
are always the same account. Which passwords are acceptable is decided by
:class:`~pywire_auth.local.passwords.PasswordPolicy`; here they are only normalized.
"""

from __future__ import annotations

import re
import unicodedata

import idna

from pywire_auth.exceptions import InvalidEmailError, InvalidInputError, MissingFieldError

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PASSWORD_CHARS",
    "email_lookup_forms",
    "normalize_email",
    "normalize_name",
    "normalize_password",
]

#: RFC 5321 limits a forward path to 254 characters.
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
#: No password longer than this (after NFKC) is hashed, whatever the policy says:
#: Argon2 pre-hashes its input, so the cost of a check grows with its length.
MAX_PASSWORD_CHARS = 4096

# The HTML "valid e-mail address" grammar, widened to Unicode letters for
# internationalized addresses. Quoted local parts and IP-literal domains are
# refused on purpose: no real sign-up form needs them and they hide tricks.
_LOCAL_RE = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]{1,64}$")
_LABEL_RE = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")


def _has_control_chars(value: str) -> bool:
    # Cc covers NUL, CR/LF and the other C0/C1 controls; Cf hides bidi overrides
    # and zero-width characters that make two addresses look alike.
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value)


def _split(email: str) -> tuple[str, str]:
    # Trim, NFKC, lower-case; check everything but the domain's labels.
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
    if not sep or not _LOCAL_RE.match(local) or "_" in domain or "" in domain.split("."):
        raise InvalidEmailError("not a valid email address")
    return local, domain


def _check_labels(domain: str) -> None:
    if not all(_LABEL_RE.match(label) for label in domain.split(".")):
        raise InvalidEmailError("not a valid email address")


def _legacy_email(email: str) -> str:
    # The whole normalization up to 0.4 (no IDNA step), kept so that addresses it
    # stored can still be found: see email_lookup_forms.
    local, domain = _split(email)
    _check_labels(domain)
    return f"{local}@{domain}"


def _is_idn(domain: str) -> bool:
    return not domain.isascii() or any(label.startswith("xn--") for label in domain.split("."))


def _idna(domain: str) -> tuple[str, str]:
    # The one place idna's errors are mapped. UTS #46 mapping, then the IDNA 2008
    # rules (non-transitional, so "ß" stays "ß" as browsers do today); the A-label
    # form decodes back to U-labels, so both spellings give one string.
    try:
        ascii_form = idna.encode(domain, uts46=True, transitional=False, std3_rules=True)
        return idna.decode(ascii_form), ascii_form.decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidEmailError("not a valid internationalized domain") from exc


def normalize_email(email: str) -> str:
    """Return the canonical form of an email address, or raise.

    Trims surrounding whitespace, applies Unicode NFKC and lower-cases the whole
    address. An internationalized domain is brought to its Unicode form (U-labels,
    IDNA 2008 with UTS #46 mapping), so ``u@xn--mnchen-3ya.de`` and ``u@münchen.de``
    are one address. Raises :class:`MissingFieldError` for an empty value and
    :class:`InvalidEmailError` for anything that is not a plain address.

    >>> normalize_email("  Alice@Example.COM ")
    'alice@example.com'
    >>> normalize_email("u@XN--MNCHEN-3YA.de")
    'u@münchen.de'
    """
    local, domain = _split(email)
    if not _is_idn(domain):
        _check_labels(domain)
        return f"{local}@{domain}"
    unicode_domain, _ = _idna(domain)
    value = f"{local}@{unicode_domain}"
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(f"email is longer than {MAX_EMAIL_LENGTH} characters")
    return value


def email_lookup_forms(email: str) -> list[str]:
    """Every spelling an account for ``email`` may be stored under, canonical first.

    Up to 0.4, internationalized domains were stored as typed: as U-labels or as
    ``xn--`` A-labels. Sign-in tries the canonical form, then those, so accounts made
    then keep working without a migration. Raises like :func:`normalize_email` when
    no form is valid.
    """
    local, domain = _split(email)
    if not _is_idn(domain):
        _check_labels(domain)
        return [f"{local}@{domain}"]
    forms: list[str] = []
    try:
        unicode_domain, ascii_domain = _idna(domain)
        forms += [f"{local}@{unicode_domain}", f"{local}@{ascii_domain}"]
    except InvalidEmailError:
        pass  # refused today, but perhaps stored before: look it up as it was
    try:
        forms.append(_legacy_email(email))
    except InvalidEmailError:
        if not forms:
            raise
    return [form for i, form in enumerate(forms) if form not in forms[:i]]


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


def normalize_password(password: str) -> str:
    """NFKC-normalize a password for hashing or checking; never trims it."""
    if not isinstance(password, str):
        raise InvalidInputError("password must be a string")
    return unicodedata.normalize("NFKC", password)
