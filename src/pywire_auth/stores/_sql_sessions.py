"""The SQL store's sessions (the :class:`~pywire_auth.SessionStore` half).

Private to :mod:`pywire_auth.stores.sqlalchemy`; mixed into
:class:`~pywire_auth.stores.sqlalchemy.SQLAlchemyAuthStore`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from pywire_auth.exceptions import InvalidInputError, UserNotFoundError
from pywire_auth.stores._limits import SESSION_ID_LENGTH
from pywire_auth.stores._schema import sessions
from pywire_auth.stores._sql_core import SQLCore
from pywire_auth.stores._sql_queries import USER_COLUMNS, user_exists, user_from_values
from pywire_auth.stores._validate import check_limit, check_text
from pywire_auth.types import SessionRecord, UserRecord

__all__ = ["SQLSessions"]


class SQLSessions(SQLCore):
    """Create, look up, extend and end sessions; prune expired ones in batches."""

    async def create_session(self, session: SessionRecord) -> None:
        """Store a new session of an existing user."""
        check_text("session_id", session.session_id, SESSION_ID_LENGTH)

        async def work(conn: AsyncConnection) -> None:
            if not await user_exists(conn, session.user_id):
                raise UserNotFoundError(f"no user {session.user_id!r}")
            await conn.execute(
                sessions.insert().values(
                    session_id=session.session_id,
                    user_id=session.user_id,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                )
            )

        try:
            await self._transact(work)
        except exc.IntegrityError as err:
            raise InvalidInputError("session id already in use") from err

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session, or ``None``."""
        row = await self._row(sa.select(sessions).where(sessions.c.session_id == session_id))
        if row is None:
            return None
        return SessionRecord(row.session_id, row.user_id, row.created_at, row.expires_at)

    async def get_session_user(self, session_id: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session and its user, in one indexed query."""
        row = await self._hot_row(self._hot_session, {"session_id": session_id})
        if row is None:
            return None
        session_id, created_at, expires_at = row[USER_COLUMNS : USER_COLUMNS + 3]
        session = SessionRecord(session_id, row[0], int(created_at), int(expires_at))
        return session, user_from_values(row)

    async def touch_session(self, session_id: str, expires_at: int) -> bool:
        """Move the session's expiry."""
        update = (
            sessions.update()
            .where(sessions.c.session_id == session_id)
            .values(expires_at=expires_at)
        )

        async def work(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(update)).rowcount)

        return await self._transact(work)

    async def delete_session(self, session_id: str) -> bool:
        """End one session."""
        return await self._delete_sessions(sessions.c.session_id == session_id) > 0

    async def delete_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of the user except ``keep`` (a session id), in one statement."""
        which = sessions.c.user_id == user_id
        if keep is not None:
            which = sa.and_(which, sessions.c.session_id != keep)
        return await self._delete_sessions(which)

    async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
        """Drop sessions that expired before ``now``; with ``limit``, at most that many.

        A batch picks its rows through the ``expires_at`` index and deletes them by
        primary key in the same transaction: the portable form of ``DELETE ...
        LIMIT`` (PostgreSQL has none, MariaDB refuses it in a subquery of the same
        table), and it locks exactly the rows it deletes.
        """
        check_limit(limit)
        expired = sessions.c.expires_at < now
        if limit is None:
            return await self._delete_sessions(expired)
        pick = sa.select(sessions.c.session_id).where(expired).limit(limit)

        async def work(conn: AsyncConnection) -> int:
            ids = [row[0] for row in await conn.execute(pick)]
            if not ids:
                return 0
            # Expiry checked again: a session refreshed since the pick stays.
            doomed = sessions.delete().where(sessions.c.session_id.in_(ids), expired)
            return int((await conn.execute(doomed)).rowcount)

        return await self._transact(work)

    async def _delete_sessions(self, where: sa.ColumnElement[bool]) -> int:
        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(sessions.delete().where(where))).rowcount)

        return await self._transact(work)
