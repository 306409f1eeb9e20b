"""The Throttle contract: one suite, run against every throttle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pywire_auth.protocols import Throttle

__all__ = ["ThrottleContract", "ThrottleFactory"]

#: Builds a fresh, empty throttle: ``make_throttle()``.
ThrottleFactory = Callable[[], Throttle]


class ThrottleContract:
    """Behaviour every :class:`~pywire_auth.Throttle` must show.

    Subclasses provide a ``make_throttle`` fixture returning a :data:`ThrottleFactory`.
    """

    pytestmark = pytest.mark.asyncio

    async def test_satisfies_protocol(self, make_throttle: ThrottleFactory) -> None:
        assert isinstance(make_throttle(), Throttle)

    async def test_allows_the_limit_then_refuses(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        answers = [await throttle.hit("ip:1", limit=3, window=60) for _ in range(5)]
        assert answers == [True, True, True, False, False]

    async def test_keys_are_independent(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        assert await throttle.hit("a", limit=1, window=60)
        assert await throttle.hit("b", limit=1, window=60)
        assert not await throttle.hit("a", limit=1, window=60)

    async def test_each_key_keeps_its_own_rule(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        assert [await throttle.hit("k", limit=3, window=60) for _ in range(4)] == [
            True,
            True,
            True,
            False,
        ]
        assert await throttle.hit("other", limit=1, window=3600)
        assert not await throttle.hit("other", limit=1, window=3600)
        assert await throttle.hit("third", limit=1, window=1)

    async def test_reset_forgets(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        assert await throttle.hit("k", limit=1, window=60)
        assert not await throttle.hit("k", limit=1, window=60)
        await throttle.reset("k")
        assert await throttle.hit("k", limit=1, window=60)
        await throttle.reset("never-seen")

    async def test_undo_refunds_one_attempt(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        assert await throttle.hit("k", limit=2, window=60)
        assert await throttle.hit("k", limit=2, window=60)
        await throttle.undo("k")
        assert await throttle.hit("k", limit=2, window=60)
        assert not await throttle.hit("k", limit=2, window=60)

    async def test_undo_never_gives_credit(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        for _ in range(3):
            await throttle.undo("fresh")
        assert await throttle.hit("fresh", limit=1, window=60)
        assert not await throttle.hit("fresh", limit=1, window=60)
        assert await throttle.hit("other", limit=1, window=60)
        for _ in range(3):
            await throttle.undo("other")
        assert await throttle.hit("other", limit=1, window=60)
        assert not await throttle.hit("other", limit=1, window=60)

    async def test_a_bad_rule_is_refused(self, make_throttle: ThrottleFactory) -> None:
        throttle = make_throttle()
        for limit, window in ((0, 60), (3, 0), (-1, 60)):
            with pytest.raises(ValueError, match="positive"):
                await throttle.hit("k", limit=limit, window=window)

    async def test_concurrent_hits_are_counted_exactly(
        self, make_throttle: ThrottleFactory
    ) -> None:
        throttle = make_throttle()
        results = await asyncio.gather(
            *(throttle.hit("burst", limit=10, window=60) for _ in range(50))
        )
        assert results.count(True) == 10
