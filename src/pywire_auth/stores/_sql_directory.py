"""The SQL store's listings for the admin pages and the command line.

Private to :mod:`pywire_auth.stores.sqlalchemy`; mixed into
:class:`~pywire_auth.stores.sqlalchemy.SQLAlchemyAuthStore`.
"""

from __future__ import annotations

import sqlalchemy as sa

from pywire_auth.stores._listing import check_listing, prefix_upper_bound
from pywire_auth.stores._schema import sessions, users
from pywire_auth.stores._sql_core import SQLCore
from pywire_auth.stores._sql_queries import user_from_values
from pywire_auth.types import SessionRecord, UserRecord

__all__ = ["SQLDirectory"]


class SQLDirectory(SQLCore):
    """The :class:`~pywire_auth.UserDirectory` queries and the operator counts."""

    async def list_users(
        self, *, email_prefix: str = "", after: tuple[str, str] | None = None, limit: int = 50
    ) -> list[UserRecord]:
        """A page of users by ``(email, user_id)`` (see :class:`~pywire_auth.UserDirectory`).

        One seek on ``ix_pywire_auth_users_email_user_id`` and ``limit`` rows read
        in index order: no sort, no offset, the same cost on every page.
        """
        check_listing(email_prefix, after, limit)
        query = sa.select(users).order_by(users.c.email, users.c.user_id).limit(limit)
        if email_prefix:
            # A range, not LIKE: SQLite's LIKE ignores case and seeks no index.
            query = query.where(users.c.email >= email_prefix)
            upper = prefix_upper_bound(email_prefix)
            if upper is not None:
                query = query.where(users.c.email < upper)
        if after is not None:
            # The leading ">=" is what the index seeks; the OR only breaks email ties.
            email, user_id = after
            query = query.where(
                users.c.email >= email,
                sa.or_(users.c.email > email, users.c.user_id > user_id),
            )
        return [user_from_values(tuple(row)) for row in await self._rows(query)]

    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions, by ``(created_at, session_id)``, through the user_id index."""
        query = (
            sa.select(sessions)
            .where(sessions.c.user_id == user_id)
            .order_by(sessions.c.created_at, sessions.c.session_id)
        )
        rows = await self._rows(query)
        return [
            SessionRecord(r.session_id, r.user_id, int(r.created_at), int(r.expires_at))
            for r in rows
        ]

    # Operator queries (the pywire-auth command line) ---------------------------

    async def count_users(self) -> int:
        """How many users the store holds."""
        row = await self._row(sa.select(sa.func.count()).select_from(users))
        return int(row[0]) if row is not None else 0
