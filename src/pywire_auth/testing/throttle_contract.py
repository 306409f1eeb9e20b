"""The Throttle contract: one suite, run against every throttle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pywire_auth.protocols import Throttle

__all__ = ["ThrottleContract", "ThrottleFactory"]

#: Builds a fresh, empty throttle: ``make_throttle(limit, window_seconds)``.
ThrottleFactory = Callable[[int, int], Throttle]


class ThrottleContract:
    """Behaviour every :class:`~pywire_auth.Throttle` must show.

    Subclasses provide a ``make_throttle`` fixture returning a :data:`ThrottleFactory`.
    """

    pytestmark = pytest.mark.asyncio

    async def test_satisfies_protocol(self, make_throttle: ThrottleFactory) -> None:
        assert isinstance(make_throttle(3, 60), Throttle)

    async def test_allows_the_limit_then_refuses(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(3, 60)
        assert [await throttle.hit("ip:1") for _ in range(5)] == [True, True, True, False, False]

    async def test_keys_are_independent(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(1, 60)
        assert await throttle.hit("a")
        assert await throttle.hit("b")
        assert not await throttle.hit("a")

    async def test_reset_forgets(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(1, 60)
        assert await throttle.hit("k")
        assert not await throttle.hit("k")
        await throttle.reset("k")
        assert await throttle.hit("k")
        await throttle.reset("never-seen")

    async def test_undo_refunds_one_attempt(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(2, 60)
        assert await throttle.hit("k")
        assert await throttle.hit("k")
        await throttle.undo("k")
        assert await throttle.hit("k")
        assert not await throttle.hit("k")

    async def test_undo_never_gives_credit(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(1, 60)
        for _ in range(3):
            await throttle.undo("fresh")
        assert await throttle.hit("fresh")
        assert not await throttle.hit("fresh")
        assert await throttle.hit("other")
        for _ in range(3):
            await throttle.undo("other")
        assert await throttle.hit("other")
        assert not await throttle.hit("other")

    async def test_a_hit_names_its_own_limit(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(1, 60)
        assert [await throttle.hit("k", limit=3, window=60) for _ in range(4)] == [
            True,
            True,
            True,
            False,
        ]
        # Keys under different rules count on their own.
        assert await throttle.hit("other", limit=1, window=3600)
        assert not await throttle.hit("other", limit=1, window=3600)
        assert await throttle.hit("third")

    async def test_a_bad_rule_is_refused(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle(3, 60)
        for rule in ({"limit": 0}, {"window": 0}, {"limit": -1}):
            with pytest.raises(ValueError, match="positive"):
                await throttle.hit("k", **rule)

    async def test_concurrent_hits_are_counted_exactly(
        self, make_throttle: ThrottleFactory
    ) -> None:
        throttle = make_throttle(10, 60)
        results = await asyncio.gather(*(throttle.hit("burst") for _ in range(50)))
        assert results.count(True) == 10
