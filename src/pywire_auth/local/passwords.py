"""Which passwords new accounts and password changes may use (NIST SP 800-63B 5.1.1.2).

Length rules count what the user typed; the rest refuses what attackers try first:
passwords from breach corpora (offline list, optionally Have I Been Pwned), the
user's own address, and trivial runs. No composition rules ("one digit, one symbol"),
no expiry: NIST and OWASP ASVS V2.1 advise against both.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pywire_auth.exceptions import MissingFieldError, WeakPasswordError
from pywire_auth.local._tables import PINNED_UNICODE_VERSION, common_passwords, is_assigned
from pywire_auth.local.normalize import MAX_PASSWORD_CHARS, normalize_password

if TYPE_CHECKING:
    from pywire_auth.local.pwned import PwnedPasswords

__all__ = ["WEAK_PASSWORD_REASONS", "PasswordPolicy"]

#: Every ``WeakPasswordError.reason`` the policy gives, in the order it checks them.
WEAK_PASSWORD_REASONS = (
    "invalid_character",
    "unassigned_character",
    "too_short",
    "too_long",
    "contains_email",
    "repetitive",
    "sequential",
    "common",
    "breached",
)

# A password that is one unit of up to this many characters repeated ("aaaaaaaa",
# "abababab", "abcdabcd") is refused as repetitive.
_MAX_REPEATED_UNIT = 4
# The local part must be this long before it is cut out of a password for the
# contains_email check: removing every "a" of "a@b.example" would be absurd.
_MIN_LOCAL_PART = 3


def _fold(value: str) -> str:
    # How the offline list and the address are compared: case and width blind.
    return value.casefold()


def _is_repetitive(value: str) -> bool:
    size = len(value)
    return any(
        size % unit == 0 and value == value[:unit] * (size // unit)
        for unit in range(1, min(_MAX_REPEATED_UNIT, size // 2) + 1)
    )


def _is_sequential(value: str) -> bool:
    # "12345678", "abcdefgh", "87654321": every step is the same +1 or -1.
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(value)}
    return len(value) > 2 and steps in ({1}, {-1})


_POLICY_ADVICE = (
    "; choose another password, or set the rules with "
    "LocalIdP(password_policy=PasswordPolicy(...)) (docs/local-idp.md)"
)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Which passwords are accepted for new accounts and password changes.

    Passwords are NFKC-normalized (so the same visible password typed on two
    keyboards matches) but never trimmed or truncated. Lengths count the code points
    of what was typed (its NFC form), not of the NFKC form: one ``ﷺ`` is one
    character, though NFKC makes it 18.

    >>> PasswordPolicy(min_length=12).normalize("correct horse battery")
    'correct horse battery'
    >>> try:
    ...     PasswordPolicy().normalize("Password")
    ... except WeakPasswordError as exc:
    ...     exc.reason
    'common'

    ``breach_check`` (off by default) adds an online Have I Been Pwned look-up:
    ``PasswordPolicy(breach_check=PwnedPasswords())``; it needs the ``hibp`` extra.
    """

    min_length: int = 8
    max_length: int = 256
    refuse_common: bool = True
    refuse_email: bool = True
    refuse_repetitive: bool = True
    breach_check: PwnedPasswords | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("need 1 <= min_length <= max_length")

    def normalize(self, password: str, *, email: str = "") -> str:
        """Return the normalized password after the offline checks, or raise.

        Raises :class:`MissingFieldError` for an empty password and
        :class:`WeakPasswordError` (with its ``reason``) for one the policy refuses.
        ``email`` is the account's normalized address, for the ``contains_email`` check.
        """
        value = normalize_password(password)
        if not value:
            raise MissingFieldError("password is required")
        self._check_characters(password)
        typed = len(unicodedata.normalize("NFC", password))
        if typed < self.min_length:
            raise WeakPasswordError(
                f"password must have at least {self.min_length} characters", reason="too_short"
            )
        if typed > self.max_length or len(value) > MAX_PASSWORD_CHARS:
            raise WeakPasswordError(
                f"password must have at most {self.max_length} characters", reason="too_long"
            )
        folded = _fold(value)
        if self.refuse_email and email and self._near_email(folded, _fold(email)):
            raise WeakPasswordError(
                "password must not be your email address", reason="contains_email"
            )
        if self.refuse_repetitive and _is_repetitive(folded):
            raise WeakPasswordError("password only repeats a few characters", reason="repetitive")
        if self.refuse_repetitive and _is_sequential(folded):
            raise WeakPasswordError("password is a run like 12345678", reason="sequential")
        if self.refuse_common and folded.strip() in common_passwords():
            raise WeakPasswordError("password is one of the most common", reason="common")
        return value

    async def check(self, password: str, *, email: str = "") -> str:
        """:meth:`normalize`, then the online breach check if one is configured.

        The online check fails open: if the service cannot be asked, the password
        is accepted (the offline checks still ran).
        """
        try:
            value = self.normalize(password, email=email)
            if self.breach_check is not None and await self.breach_check.is_breached(value):
                raise WeakPasswordError("password has appeared in a data breach", reason="breached")
        except WeakPasswordError as exc:
            # Code written for pywire-auth 0.4 (which took any password) lands here:
            # say where the rules live. The routes show only exc.code / exc.reason.
            raise WeakPasswordError(f"{exc}{_POLICY_ADVICE}", reason=exc.reason) from None
        return value

    @staticmethod
    def _check_characters(password: str) -> None:
        if "\x00" in password:
            raise WeakPasswordError("password contains a NUL character", reason="invalid_character")
        if any(unicodedata.category(ch) == "Cs" for ch in password):
            # Lone surrogates (possible in JSON) cannot be encoded, so never hashed.
            raise WeakPasswordError(
                "password contains invalid characters", reason="invalid_character"
            )
        if not all(is_assigned(ch) for ch in password):
            # A later Unicode may give such a character a normalization, and then
            # the stored hash would no longer match what the user types.
            raise WeakPasswordError(
                f"password contains characters not in Unicode {PINNED_UNICODE_VERSION}",
                reason="unassigned_character",
            )

    def _near_email(self, folded: str, address: str) -> bool:
        # Refused when what is left after cutting out the address and its local
        # part is shorter than the minimum: "alice@example.com", "Alice2024".
        local = address.rpartition("@")[0]
        rest = folded.replace(address, "")
        if len(local) >= _MIN_LOCAL_PART:
            rest = rest.replace(local, "")
        return rest != folded and len(rest) < self.min_length
