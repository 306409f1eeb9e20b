"""What every store checks before listing users: page size, prefix and cursor.

Listing is keyset-paginated on ``(email, user_id)``: a page starts after the last
row of the one before, so page 20,000 costs what page 1 costs (an ``OFFSET``
would read and throw away every earlier row). Order is by code point, which is
byte order in UTF-8: Python's string order, SQLite's ``BINARY``, MariaDB's
``VARBINARY`` and PostgreSQL's ``C`` collation all agree on it.
"""

from __future__ import annotations

from pywire_auth.exceptions import InvalidInputError
from pywire_auth.stores._limits import EMAIL_LENGTH, USER_ID_LENGTH
from pywire_auth.stores._validate import check_text

__all__ = ["MAX_PAGE", "check_listing", "prefix_upper_bound"]

#: The most users one ``list_users`` call returns.
MAX_PAGE = 1000

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def check_listing(email_prefix: str, after: tuple[str, str] | None, limit: int) -> None:
    """Refuse a bad page size, prefix or cursor before any query is built."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    check_text("email_prefix", email_prefix, EMAIL_LENGTH, required=False)
    if after is not None:
        if not isinstance(after, tuple) or len(after) != 2:
            raise InvalidInputError("after must be an (email, user_id) pair")
        check_text("after email", after[0], EMAIL_LENGTH, required=False)
        check_text("after user_id", after[1], USER_ID_LENGTH)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix``.

    ``email >= prefix AND email < bound`` is then exactly "starts with", as a range
    an index can seek (``LIKE 'p%'`` uses no index on SQLite). ``None`` when no
    such string exists (the prefix is all U+10FFFF): then only the lower end bounds.

    >>> prefix_upper_bound("ann@")
    'annA'
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop()) + 1
        if last in _SURROGATES:
            last = _SURROGATES.stop
        if last <= _MAX_CODE_POINT:
            return "".join(chars) + chr(last)
    return None
