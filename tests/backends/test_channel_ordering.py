"""Events whose transactions commit out of id order still reach every process.

On PostgreSQL and MariaDB an insert takes its id at once but becomes visible at
commit: id 2 can be readable while id 1 is not yet. A follower that only kept
"the highest id seen" would lose event 1 for good.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth import SQLAlchemyAuthStore
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.stores._schema import events
from pywire_auth.testing.channel_contract import next_event, no_event


@pytest.mark.asyncio
@pytest.mark.parametrize("sql_backend", ["postgres", "mysql"], indirect=True)
async def test_an_event_committed_after_a_later_one_is_delivered(sql_url: str) -> None:
    store = SQLAlchemyAuthStore(sql_url)
    writer = SQLAlchemyAuthStore(sql_url)
    # A long wait for holes: this test is about order, not about giving up on a
    # hole, and a busy machine must not make the late commit look abandoned.
    follower = FanoutChannel(log=store, poll_interval=0.05, gap_timeout=120)
    publisher = StoreAuthChannel(writer, poll_interval=0.05)
    slow = create_async_engine(sql_url)
    try:
        await writer.create_tables()
        async with follower.subscribe("local:u1") as subscription:
            async with slow.begin() as conn:
                # Takes the next id now, shows the row only at commit.
                await conn.execute(
                    events.insert().values(
                        payload={"key": "late", "user_id": "local:u1", "kind": "revoke"},
                        created_at=0,
                    )
                )
                await publisher.update_principal("local:u1", claims=[])
                first = await next_event(subscription)
                assert first.kind == "update"
                await no_event(subscription, within=0.3)
            # Committed now, below the id the follower has already seen.
            late = await next_event(subscription)
            assert late.kind == "revoke"
    finally:
        await follower.aclose()
        await publisher.aclose()
        await slow.dispose()
        await store.close()
        await writer.close()


@pytest.mark.asyncio
async def test_ids_are_not_reused_on_sqlite_after_pruning(sqlite_url: str) -> None:
    store = SQLAlchemyAuthStore(sqlite_url)
    try:
        first = await store.append_event({"n": 1}, created_at=1)
        await store.delete_events_before(created_at=10)
        assert await store.append_event({"n": 2}, created_at=20) > first
    finally:
        await store.close()
