"""The SQL store's event log: the embedded auth channel's table.

Private to :mod:`pywire_auth.stores.sqlalchemy`; mixed into
:class:`~pywire_auth.stores.sqlalchemy.SQLAlchemyAuthStore`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pywire_auth.exceptions import StoreUnavailableError
from pywire_auth.stores._schema import events
from pywire_auth.stores._sql_core import SQLCore
from pywire_auth.types import EventRecord, JSONValue

__all__ = ["SQLEvents"]


class SQLEvents(SQLCore):
    """Append, read after an id, and prune the events other processes follow."""

    async def append_event(self, payload: Mapping[str, JSONValue], created_at: int) -> int:
        """Append one event in its own short transaction and return its id."""

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                events.insert().values(payload=dict(payload), created_at=created_at)
            )
            key = result.inserted_primary_key
            if key is None or key[0] is None:
                raise StoreUnavailableError("the database returned no event id")
            return int(key[0])

        return await self._transact(work)

    async def events_after(self, event_id: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events with ids above ``event_id``, by ascending id."""
        query = (
            sa.select(events.c.event_id, events.c.payload, events.c.created_at)
            .where(events.c.event_id > event_id)
            .order_by(events.c.event_id)
            .limit(max(0, limit))
        )
        rows = await self._rows(query)
        return [EventRecord(int(r.event_id), r.payload or {}, int(r.created_at)) for r in rows]

    async def last_event_id(self) -> int:
        """The highest event id in the log, or 0."""
        top: Any = await self._row(sa.select(sa.func.max(events.c.event_id)))
        return int(top[0]) if top is not None and top[0] is not None else 0

    async def delete_events_before(self, created_at: int) -> int:
        """Drop events created before ``created_at``."""

        async def work(conn: AsyncConnection) -> int:
            doomed = events.delete().where(events.c.created_at < created_at)
            return int((await conn.execute(doomed)).rowcount)

        return await self._transact(work)
