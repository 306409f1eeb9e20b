"""The tables of the SQL store, as plain SQLAlchemy Core metadata.

Names and columns are fixed by the public documentation, so existing databases
and Alembic migrations keep working::

    pywire_auth_users           user_id | email | name | claims (JSON) | extras (JSON)
                                | disabled
    pywire_auth_credentials     user_id | pw_hash
    pywire_auth_provider_links  provider | subject | user_id | claims (JSON)

A fourth table, ``pywire_auth_sessions``, holds signed-in sessions so that
signing out ends them in every browser, also after a restart::

    pywire_auth_sessions        session_id | user_id | created_at | expires_at

``expires_at`` is indexed so that pruning expired sessions in small batches reads
only the rows it deletes.

A fifth, ``pywire_auth_events``, is the log of sign-outs and claim changes that
every worker process follows to update its live pages (the embedded auth channel)::

    pywire_auth_events          event_id | payload (JSON) | created_at

A sixth, ``pywire_auth_throttle``, holds the attempt counts of
:class:`~pywire_auth.throttles.sql.SQLAlchemyThrottle`, shared by every process
on the database::

    pywire_auth_throttle        key_hash | window_end | hits

``key_hash`` is the SHA-256 (hex) of the throttle key, so no email or address is
stored and the key's length is fixed; ``window_end`` is in milliseconds since the
epoch (each key has its own window length, so the end, not the start, is stored).

``(provider, subject)`` is the primary key of the links table: the database, not
a read before the write, decides which of two racing registrations wins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    false,
)
from sqlalchemy.dialects import mssql, mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from pywire_auth.stores._limits import (
    EMAIL_LENGTH,
    NAME_LENGTH,
    PROVIDER_LENGTH,
    PW_HASH_LENGTH,
    SESSION_ID_LENGTH,
    SUBJECT_LENGTH,
    THROTTLE_KEY_LENGTH,
    USER_ID_LENGTH,
)

__all__ = [
    "MSSQL_EXACT_COLLATION",
    "ExactText",
    "credentials",
    "events",
    "metadata",
    "provider_links",
    "sessions",
    "throttle",
    "users",
]


class ExactText(TypeDecorator[str]):
    """A string column compared byte for byte on every backend.

    MySQL/MariaDB compare strings case- and accent-insensitively, and ignore trailing
    spaces, under their default collations; even ``utf8mb4_bin`` pads. That would
    make ``A@x.io`` collide with ``a@x.io`` (or ``x`` with ``x ``) as identities
    and in the rehash compare-and-set. There, the value is stored as UTF-8 in a
    VARBINARY column instead. SQL Server gets NVARCHAR with a binary collation
    (exact but for trailing spaces, which SQL Server's ``=`` always ignores; see
    docs/operations.md); everywhere else it is a plain VARCHAR.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL_DIALECTS:
            # utf8mb4 needs up to four bytes per character.
            return dialect.type_descriptor(mysql.VARBINARY(self.length * 4))
        if dialect.name == "mssql":
            # SQL Server's default collations fold case and accents. A binary
            # collation compares code points; NVARCHAR (2 bytes per unit) keeps
            # the widest key, the links' (64 + 255) * 2 bytes, under the 900-byte
            # index limit, where UTF-8 in VARBINARY would need 1,276.
            return dialect.type_descriptor(
                mssql.NVARCHAR(self.length, collation=MSSQL_EXACT_COLLATION)
            )
        return dialect.type_descriptor(String(self.length))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is not None and dialect.name in _MYSQL_DIALECTS:
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8")
        return value  # type: ignore[no-any-return]


_MYSQL_DIALECTS = ("mysql", "mariadb")
#: Case- and accent-sensitive, code point by code point (SQL Server 2008 and later).
MSSQL_EXACT_COLLATION = "Latin1_General_100_BIN2"


def _key(length: int) -> ExactText:
    return ExactText(length)


metadata = MetaData()

users = Table(
    "pywire_auth_users",
    metadata,
    Column("user_id", _key(USER_ID_LENGTH), primary_key=True),
    Column("email", _key(EMAIL_LENGTH), nullable=False, default=""),
    Column("name", String(NAME_LENGTH), nullable=False, default=""),
    Column("claims", JSON, nullable=False),
    Column("extras", JSON, nullable=False),
    # Last, so the hot queries' column positions before it never move (revision 0002).
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
)
# Email lookups, and the admin page's keyset pages (ordered by email, ties by
# user_id) read this index in order: no sort, whatever page, at any table size.
Index("ix_pywire_auth_users_email_user_id", users.c.email, users.c.user_id)

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

sessions = Table(
    "pywire_auth_sessions",
    metadata,
    Column("session_id", _key(SESSION_ID_LENGTH), primary_key=True),
    Column(
        "user_id",
        _key(USER_ID_LENGTH),
        ForeignKey(users.c.user_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_pywire_auth_sessions_user_id", sessions.c.user_id)
Index("ix_pywire_auth_sessions_expires_at", sessions.c.expires_at)

events = Table(
    "pywire_auth_events",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY, and only AUTOINCREMENT
    # promises never to reuse an id after the newest rows were pruned: a follower
    # whose cursor sits above a reused id would skip those events.
    Column(
        "event_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("payload", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_pywire_auth_events_created_at", events.c.created_at)

throttle = Table(
    "pywire_auth_throttle",
    metadata,
    # Lower-case hex only, so the default collation of every database compares it exactly.
    Column("key_hash", String(THROTTLE_KEY_LENGTH), primary_key=True),
    Column("window_end", BigInteger, nullable=False),
    Column("hits", BigInteger, nullable=False),
)
# Pruning finds expired windows by this index, never by a full scan.
Index("ix_pywire_auth_throttle_window_end", throttle.c.window_end)
