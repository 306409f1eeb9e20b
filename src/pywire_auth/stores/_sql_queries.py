"""The SQL store's prebuilt queries and row helpers.

Private to :mod:`pywire_auth.stores.sqlalchemy`. The three lookups run on every
sign-in or signed-in request, so they are built once (and compiled once per
dialect by :mod:`pywire_auth.stores._hot_reads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pywire_auth.stores._hot_reads import json_value
from pywire_auth.stores._schema import credentials, provider_links, sessions, users
from pywire_auth.types import ProviderLink, UserRecord

__all__ = [
    "LOGIN_QUERY",
    "SESSION_USER_QUERY",
    "USER_COLUMNS",
    "USER_QUERY",
    "insert_link",
    "user_exists",
    "user_from_values",
]

USER_QUERY = sa.select(users).where(users.c.user_id == sa.bindparam("user_id"))

# Built once: the login path is the hottest query and needs no per-call compilation.
LOGIN_QUERY = (
    sa.select(users, credentials.c.pw_hash)
    .select_from(
        provider_links.join(users, users.c.user_id == provider_links.c.user_id).outerjoin(
            credentials, credentials.c.user_id == users.c.user_id
        )
    )
    .where(
        provider_links.c.provider == sa.bindparam("provider"),
        provider_links.c.subject == sa.bindparam("subject"),
    )
)


# Every request of a signed-in user runs this: session and user by primary keys.
SESSION_USER_QUERY = (
    sa.select(
        users,
        sessions.c.session_id,
        sessions.c.created_at,
        sessions.c.expires_at,
    )
    .select_from(sessions.join(users, users.c.user_id == sessions.c.user_id))
    .where(sessions.c.session_id == sa.bindparam("session_id"))
)


def insert_link(link: ProviderLink) -> sa.Insert:
    return provider_links.insert().values(
        provider=link.provider, subject=link.subject, user_id=link.user_id, claims=dict(link.claims)
    )


async def user_exists(conn: AsyncConnection, user_id: str) -> bool:
    query = sa.select(users.c.user_id).where(users.c.user_id == user_id)
    return await conn.scalar(query) is not None


#: How many leading values of a hot query's row are the user's columns.
USER_COLUMNS = len(users.columns)


def user_from_values(values: Sequence[Any]) -> UserRecord:
    # The hot queries select the user's columns first, in table order.
    user_id, email, name, claims, extras, disabled = values[:USER_COLUMNS]
    # Raw driver rows give SQLite's 0/1 (and MariaDB's TINYINT) as ints.
    return UserRecord(
        user_id, email, name, json_value(claims), json_value(extras), disabled=bool(disabled)
    )
