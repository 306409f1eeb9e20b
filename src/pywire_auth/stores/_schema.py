"""The three tables of the SQL store, as plain SQLAlchemy Core metadata.

Names and columns are fixed by the public documentation, so existing databases
and Alembic migrations keep working::

    pywire_auth_users           user_id | email | name | claims (JSON) | extras (JSON)
    pywire_auth_credentials     user_id | pw_hash
    pywire_auth_provider_links  provider | subject | user_id | claims (JSON)

``(provider, subject)`` is the primary key of the links table: the database, not
a read before the write, decides which of two racing registrations wins.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, MetaData, String, Table
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from pywire_auth.stores._limits import (
    EMAIL_LENGTH,
    NAME_LENGTH,
    PROVIDER_LENGTH,
    PW_HASH_LENGTH,
    SUBJECT_LENGTH,
    USER_ID_LENGTH,
)

__all__ = ["credentials", "metadata", "provider_links", "users"]


def _key(length: int) -> TypeEngine[str]:
    # MySQL/MariaDB compare strings case- and accent-insensitively by default, which
    # would make "a@x.io" collide with "A@x.io" or "á@x.io" even though we store
    # both normalized; identities must compare byte for byte, as on the others.
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


metadata = MetaData()

users = Table(
    "pywire_auth_users",
    metadata,
    Column("user_id", _key(USER_ID_LENGTH), primary_key=True),
    Column("email", _key(EMAIL_LENGTH), nullable=False, default=""),
    Column("name", String(NAME_LENGTH), nullable=False, default=""),
    Column("claims", JSON, nullable=False),
    Column("extras", JSON, nullable=False),
)
Index("ix_pywire_auth_users_email", users.c.email)

credentials = Table(
    "pywire_auth_credentials",
    metadata,
    Column(
        "user_id",
        _key(USER_ID_LENGTH),
        ForeignKey(users.c.user_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    # Compared in the rehash compare-and-set, so it needs the binary collation too.
    Column("pw_hash", _key(PW_HASH_LENGTH), nullable=False),
)

provider_links = Table(
    "pywire_auth_provider_links",
    metadata,
    Column("provider", _key(PROVIDER_LENGTH), primary_key=True),
    Column("subject", _key(SUBJECT_LENGTH), primary_key=True),
    Column(
        "user_id",
        _key(USER_ID_LENGTH),
        ForeignKey(users.c.user_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("claims", JSON, nullable=False),
)
Index("ix_pywire_auth_provider_links_user_id", provider_links.c.user_id)
