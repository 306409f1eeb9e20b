"""Recognizing a database that pywire-auth 0.4.0 created and nobody adopted yet.

Private: used by :class:`~pywire_auth.SQLAlchemyAuthStore` (which refuses such a
database) and by :func:`~pywire_auth.adopt_v04` (which converts it).
"""

from __future__ import annotations

import sqlalchemy as sa

from pywire_auth.exceptions import ConfigurationError
from pywire_auth.stores._schema import credentials, users

__all__ = ["is_v04_database", "refuse_v04"]


def is_v04_database(conn: sa.Connection) -> bool:
    """Whether the connected database holds 0.4.0's tables (not yet adopted).

    0.4.0's credentials table has no foreign key to the users table; ours always has.
    """
    inspector = sa.inspect(conn)
    if not inspector.has_table(users.name) or not inspector.has_table(credentials.name):
        return False
    return not inspector.get_foreign_keys(credentials.name)


def refuse_v04(conn: sa.Connection) -> None:
    """Raise :class:`ConfigurationError` on a 0.4.0 database that was not adopted.

    Run on it as it is, the store would answer every mixed-case email of 0.4.0 with
    "wrong password" and let a second account register under the same address.
    """
    if is_v04_database(conn):
        raise ConfigurationError(
            "this database was created by pywire-auth 0.4.0: adopt it first with "
            "`await pywire_auth.adopt_v04(url)` (see docs/migrating.md)"
        )
