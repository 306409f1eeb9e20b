"""In-process attempt counting against password guessing and sign-up floods."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MemoryThrottle"]


class MemoryThrottle:
    """A :class:`~pywire_auth.Throttle` with fixed windows, kept in this process.

    At most ``limit`` hits per key in each ``window`` seconds. Memory stays
    bounded: past ``max_keys`` keys, expired windows are dropped, and if that is
    not enough the least recently hit keys go first. Forgetting a count needs
    ``max_keys`` fresh keys, which the per-address limit makes slow to produce.

    Each worker process counts on its own; share counts between processes with a
    store-backed throttle.

    >>> import asyncio
    >>> t = MemoryThrottle(limit=2, window=60)
    >>> [asyncio.run(t.hit("ip:1")) for _ in range(3)]
    [True, True, False]
    """

    def __init__(
        self,
        limit: int = 20,
        window: int = 300,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window < 1 or max_keys < 1:
            raise ValueError("limit, window and max_keys must be positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        # key -> (window start, hits); dicts keep insertion order, oldest first.
        self._counts: dict[str, tuple[float, int]] = {}

    def __repr__(self) -> str:
        return f"MemoryThrottle(limit={self.limit}, window={self.window})"

    async def hit(self, key: str) -> bool:
        """Count one attempt for ``key``; ``False`` once it is over the limit."""
        now = self._clock()
        start, hits = self._counts.get(key, (now, 0))
        if now - start >= self.window:
            start, hits = now, 0
        hits += 1
        self._counts.pop(key, None)
        self._counts[key] = (start, hits)
        if len(self._counts) > self.max_keys:
            self._prune(now)
        return hits <= self.limit

    async def undo(self, key: str) -> None:
        """Take back one attempt of ``key``."""
        entry = self._counts.get(key)
        if entry is not None and entry[1] > 0:
            self._counts[key] = (entry[0], entry[1] - 1)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""
        self._counts.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, (start, _) in self._counts.items() if now - start >= self.window]:
            del self._counts[key]
        while len(self._counts) > self.max_keys:
            del self._counts[next(iter(self._counts))]
