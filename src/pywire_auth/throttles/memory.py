"""In-process attempt counting against password guessing and sign-up floods."""

from __future__ import annotations

import time
from collections.abc import Callable

from pywire_auth.throttles._rules import check_rule
from pywire_auth.throttles.policy import RateLimit

__all__ = ["MemoryThrottle"]

# A full table is swept for expired windows at most this often (seconds): a flood
# of new keys must not turn every refused hit into a scan of the whole table.
_SWEEP_INTERVAL = 1.0


class MemoryThrottle:
    """A :class:`~pywire_auth.Throttle` with fixed windows, kept in this process.

    Each hit names its rule: at most ``limit`` hits per key in each ``window``
    seconds (``connect_auth`` takes them from its :class:`~pywire_auth.ThrottlePolicy`).

    Memory stays bounded by ``max_keys``. When the table is full, expired windows
    are dropped; if none has expired, a **new key is refused** (its hit answers
    ``False``) while every live window is kept. Dropping live windows instead
    would let an attacker reset the count of an account or address by flooding
    the table with junk keys; refusing new keys fails closed. The per-address
    limits make such a flood slow, and the table holds ~100 bytes per key.

    Each worker process counts on its own; share counts between processes with
    :class:`~pywire_auth.SQLAlchemyThrottle` or :class:`~pywire_auth.RedisThrottle`.

    ``MemoryThrottle(limit=20, window=300)``, the way pywire-auth < 0.5 documented
    it, still works: under ``connect_auth`` (without ``throttle_policy=``) that one
    rule then counts sign-ins per address and per account and sign-ups per address,
    as it did there (:meth:`ThrottlePolicy.from_rule`). The newer counters keep
    their defaults.

    >>> import asyncio
    >>> t = MemoryThrottle()
    >>> [asyncio.run(t.hit("ip:1", limit=2, window=60)) for _ in range(3)]
    [True, True, False]
    """

    def __init__(
        self,
        *,
        limit: int | None = None,
        window: int | None = None,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        if (limit is None) != (window is None):
            raise ValueError("give limit= and window= together (or neither)")
        #: The one rule given as ``limit=``/``window=`` (the pre-0.5 way), else ``None``.
        self.rule = RateLimit(limit, window) if limit is not None and window is not None else None
        self.max_keys = max_keys
        self._clock = clock
        # key -> (end of its window, hits in it)
        self._counts: dict[str, tuple[float, int]] = {}
        self._last_sweep = float("-inf")

    def __repr__(self) -> str:
        rule = f"limit={self.rule.limit}, window={self.rule.window}, " if self.rule else ""
        return f"MemoryThrottle({rule}max_keys={self.max_keys})"

    @property
    def size(self) -> int:
        """How many keys the table holds (live or not yet swept)."""
        # A property, not __len__: an empty throttle must still be truthy.
        return len(self._counts)

    async def hit(self, key: str, *, limit: int, window: int) -> bool:
        """Count one attempt for ``key``; ``False`` once it is over ``limit`` in its window."""
        check_rule(limit, window)
        now = self._clock()
        entry = self._counts.get(key)
        if entry is not None and now < entry[0]:
            hits = entry[1] + 1
            self._counts[key] = (entry[0], hits)
            return hits <= limit
        if entry is None and len(self._counts) >= self.max_keys and not self._make_room(now):
            return False  # full of live windows: fail closed (see the class docstring)
        self._counts[key] = (now + window, 1)
        return True

    async def undo(self, key: str) -> None:
        """Take back one attempt of ``key`` (never below zero, never in a new window)."""
        entry = self._counts.get(key)
        if entry is not None and entry[1] > 0 and self._clock() < entry[0]:
            self._counts[key] = (entry[0], entry[1] - 1)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""
        self._counts.pop(key, None)

    def _make_room(self, now: float) -> bool:
        if now - self._last_sweep >= _SWEEP_INTERVAL:
            self._last_sweep = now
            for key in [k for k, (end, _) in self._counts.items() if end <= now]:
                del self._counts[key]
        return len(self._counts) < self.max_keys
