"""Look-alike email addresses: UTS #39 skeletons and mixed-script checks.

Stops account impersonation by homograph: ``"\\u0430dmin@example.com"`` (a Cyrillic
small a first) looks exactly like ``admin@example.com`` but is another string, so plain
normalization lets both register. Two defences, both applied to *new* addresses only:

* :func:`check_single_script` refuses a local part or domain label that mixes scripts
  (UTS #39 "Highly Restrictive": one script, or Latin with Han + Hiragana/Katakana,
  Han + Bopomofo or Han + Hangul), so ``\\u0430dmin`` is refused outright.
* :func:`email_skeleton_key` maps an address to the digest of its UTS #39 skeleton;
  the identity provider stores it as a link, so the store's unique key refuses a
  second address that is confusable with a registered one (``rn`` vs ``m``,
  ``paypa1`` vs ``paypal``), atomically, whatever order the two arrive in.

The tables are Unicode's own (see ``_tables.py``).
"""

from __future__ import annotations

import hashlib
import unicodedata

from pywire_auth.exceptions import InvalidEmailError
from pywire_auth.local._tables import is_assigned, prototypes, script_extensions

__all__ = [
    "EMAIL_SKELETON_PROVIDER",
    "check_new_email",
    "check_single_script",
    "email_skeleton_key",
    "skeleton",
]

#: The ``provider`` of the link that reserves an address's skeleton. It is not a
#: sign-in identity: its subject is a SHA-256 digest, unique per store.
EMAIL_SKELETON_PROVIDER = "local-skeleton"

# Common and Inherited characters (digits, punctuation, combining marks) go with any
# script; Unknown never reaches here (unassigned characters are refused first).
_ANY_SCRIPT = frozenset({"Zyyy", "Zinh"})
# UTS #39 section 5.1 "augmented script sets": Han with Japanese kana, with Bopomofo,
# or with Hangul is one writing system (Jpan, Hanb, Kore).
_AUGMENT = {
    "Hani": ("Hanb", "Jpan", "Kore"),
    "Hira": ("Jpan",),
    "Kana": ("Jpan",),
    "Hang": ("Kore",),
    "Bopo": ("Hanb",),
}
_CJK = frozenset({"Jpan", "Hanb", "Kore"})


def skeleton(text: str) -> str:
    """The UTS #39 skeleton: NFD, each character replaced by its prototype, NFD.

    Two strings are confusable when their skeletons are equal. Not for display.

    >>> skeleton("p\\u0430ypal") == skeleton("paypal")
    True
    """
    table = prototypes()
    mapped = "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


def email_skeleton_key(address: str) -> str:
    """The link subject reserving a normalized address's skeleton (SHA-256 hex).

    Hashed so that it always fits the 255-character subject column (a skeleton can
    be longer than its address) and shows no look-alike text in admin listings.
    """
    return hashlib.sha256(skeleton(address).encode("utf-8")).hexdigest()


def _resolved(chars: str) -> set[str] | None:
    # The intersection of the characters' augmented script sets; None means "any".
    resolved: set[str] | None = None
    for ch in chars:
        scripts = set(script_extensions(ch))
        if scripts & _ANY_SCRIPT:
            continue
        for script in list(scripts):
            scripts.update(_AUGMENT.get(script, ()))
        resolved = scripts if resolved is None else resolved & scripts
    return resolved


def is_highly_restrictive(text: str) -> bool:
    """Whether ``text`` passes UTS #39's "Highly Restrictive" level (one script)."""
    resolved = _resolved(text)
    if resolved is None or resolved:
        return True
    # Latin may join one CJK writing system (Japanese, Chinese or Korean).
    rest = _resolved("".join(ch for ch in text if "Latn" not in script_extensions(ch)))
    return rest is not None and bool(rest & _CJK)


def check_single_script(address: str) -> None:
    """Refuse a local part or domain label that mixes scripts, like ``\\u0430dmin``."""
    local, _, domain = address.rpartition("@")
    for part in (local, *domain.split(".")):
        if not is_highly_restrictive(part):
            raise InvalidEmailError("email mixes letters of different scripts")


def check_new_email(address: str) -> None:
    """The checks a new (registering) address passes on top of normalization.

    Refuses characters unassigned in the pinned Unicode version (a later Unicode may
    give them a normalization) and mixed-script parts. Sign-in never applies this, so
    addresses stored before these rules keep working.
    """
    if not all(is_assigned(ch) for ch in address):
        raise InvalidEmailError("email contains unassigned characters")
    check_single_script(address)
