"""The auth channel contract: one suite, run against every cross-process channel.

Each test builds two channels on the same backend, ``here`` and ``there``, as two
worker processes would have; what one publishes, the other's subscribers get.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from pywire.auth import AuthChannel, AuthEvent, Claim, ClaimsPrincipal

from pywire_auth.channels.fanout import AuthSubscription, FanoutChannel

__all__ = ["ChannelContract", "ChannelFactory"]

#: Builds a fresh channel on the shared backend under test (call it twice for two "processes").
ChannelFactory = Callable[[], FanoutChannel]

#: Seconds a test waits for an event that must come. Generous: the machine may be
#: busy; the channel's real bound is measured in benchmarks, not asserted here.
ARRIVAL = 10.0
#: Seconds a test waits to be sure an event does NOT come (several poll rounds).
QUIET = 1.0

PRINCIPAL = ClaimsPrincipal(
    is_authenticated=True,
    name="Ada",
    user_id="local:u1",
    claims=[Claim("sub", "u1"), Claim("role", "admin"), Claim("role", "editor")],
    raw={"sub": "u1", "role": ["admin", "editor"], "nested": {"a": [1, 2]}},
)


async def next_event(subscription: AuthSubscription, within: float = ARRIVAL) -> AuthEvent:
    """The next event of ``subscription``, failing the test if none comes in time."""
    try:
        return await asyncio.wait_for(anext(subscription), within)
    except TimeoutError:
        pytest.fail(f"no auth event arrived within {within} s")


async def no_event(subscription: AuthSubscription, within: float = QUIET) -> None:
    """Fail if ``subscription`` yields anything within ``within`` seconds."""
    try:
        event = await asyncio.wait_for(anext(subscription), within)
    except TimeoutError:
        return
    pytest.fail(f"unexpected auth event {event!r}")


class ChannelContract:
    """Behaviour every cross-process auth channel must show.

    Subclasses provide a ``make_channel`` fixture returning a :data:`ChannelFactory`;
    the channels it makes must share one backend and be closed by the fixture.
    """

    pytestmark = pytest.mark.asyncio

    async def test_satisfies_pywire_protocol(self, make_channel: ChannelFactory) -> None:
        assert isinstance(make_channel(), AuthChannel)

    async def test_revoke_reaches_another_process(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        async with there.subscribe("local:u1") as subscription:
            await here.start()
            await here.revoke("local:u1")
            event = await next_event(subscription)
        assert (event.kind, event.user_id) == ("revoke", "local:u1")

    async def test_principal_update_round_trips(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        async with there.subscribe("local:u1") as subscription:
            await here.update_principal("local:u1", principal=PRINCIPAL)
            event = await next_event(subscription)
        assert event.kind == "update"
        assert event.principal == PRINCIPAL

    async def test_claims_update_round_trips(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        claims = [Claim("role", "viewer"), Claim("plan", "pro")]
        async with there.subscribe("local:u1") as subscription:
            await here.update_principal("local:u1", claims=claims)
            event = await next_event(subscription)
        assert (event.kind, event.claims, event.principal) == ("update", claims, None)

    async def test_own_subscribers_hear_at_once(self, make_channel: ChannelFactory) -> None:
        here = make_channel()
        async with here.subscribe("local:u1") as subscription:
            await here.revoke("local:u1")
            event = await next_event(subscription, within=0.01)
        assert event.kind == "revoke"

    async def test_other_users_hear_nothing(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        async with there.subscribe("local:u2") as other, there.subscribe("local:u1") as mine:
            await here.revoke("local:u1")
            await next_event(mine)
            await no_event(other)

    async def test_each_event_arrives_once(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        async with there.subscribe("local:u1") as remote, here.subscribe("local:u1") as local:
            await here.revoke("local:u1")
            await here.update_principal("local:u1", principal=PRINCIPAL)
            assert [(await next_event(remote)).kind for _ in range(2)] == ["revoke", "update"]
            assert [(await next_event(local)).kind for _ in range(2)] == ["revoke", "update"]
            await no_event(remote)
            await no_event(local)

    async def test_every_subscriber_of_the_user_hears(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        async with there.subscribe("local:u1") as tab1, there.subscribe("local:u1") as tab2:
            await here.revoke("local:u1")
            assert (await next_event(tab1)).kind == "revoke"
            assert (await next_event(tab2)).kind == "revoke"

    async def test_listeners_hear_remote_events(self, make_channel: ChannelFactory) -> None:
        here, there = make_channel(), make_channel()
        heard: list[AuthEvent] = []
        there.add_listener(heard.append)
        async with there.subscribe("local:u1") as subscription:
            await here.revoke("local:u1")
            await next_event(subscription)
        assert [(e.kind, e.user_id) for e in heard] == [("revoke", "local:u1")]

    async def test_a_failing_listener_does_not_stop_delivery(
        self, make_channel: ChannelFactory
    ) -> None:
        here, there = make_channel(), make_channel()

        def broken(_event: AuthEvent) -> None:
            raise RuntimeError("listener bug")

        there.add_listener(broken)
        async with there.subscribe("local:u1") as subscription:
            await here.revoke("local:u1")
            assert (await next_event(subscription)).kind == "revoke"

    async def test_events_before_start_are_not_replayed(self, make_channel: ChannelFactory) -> None:
        here = make_channel()
        await here.revoke("local:u1")
        there = make_channel()
        async with there.subscribe("local:u1") as subscription:
            await no_event(subscription)
            await here.revoke("local:u1")
            assert (await next_event(subscription)).kind == "revoke"

    async def test_leaving_a_subscription_unsubscribes(self, make_channel: ChannelFactory) -> None:
        here = make_channel()
        async with here.subscribe("local:u1"):
            pass
        await here.revoke("local:u1")
        assert here._subscribers == {}

    async def test_unknown_kinds_are_refused(self, make_channel: ChannelFactory) -> None:
        # PyWire's live loop would read an unknown kind as "the user has no claims".
        from pywire_auth.exceptions import ConfigurationError

        with pytest.raises(ConfigurationError):
            await make_channel().publish(AuthEvent(user_id="local:u1", kind="explode"))
