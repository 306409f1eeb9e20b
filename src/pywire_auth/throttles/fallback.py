"""A throttle that counts in a second store while its first one is down.

With ``REDIS_URL`` set, the counts live in Redis. Were Redis the only place,
an outage of Redis would stop every sign-in and sign-up (a throttle that cannot
count refuses rather than let attempts through uncounted), although the auth
store, which decides the passwords, is up. :class:`FallbackThrottle` counts in
the auth store's database while Redis is unreachable, so sign-ins go on and stay
counted; the auth channel falls back to the same database the same way.

The price: counts made during an outage are kept apart from those in Redis, so
around one outage a key can take up to twice its limit. An attacker who can
take Redis down at will gains that factor of two, never unlimited guesses.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from pywire_auth.exceptions import StoreUnavailableError
from pywire_auth.protocols import Throttle

__all__ = ["FallbackThrottle"]

logger = logging.getLogger("pywire_auth.throttles")

_REMEMBERED = 10_000


class FallbackThrottle:
    """``primary`` while it answers, ``fallback`` while it raises StoreUnavailableError.

    An :meth:`undo` goes to the throttle that counted the key's last hit in this
    process (the sign-in routes undo within the request that hit); :meth:`reset`
    clears the key in both (in whichever answers, if one is down: the count left in
    the other ends with its window).
    """

    def __init__(self, primary: Throttle, fallback: Throttle) -> None:
        self.primary = primary
        self.fallback = fallback
        self._counted_by: OrderedDict[str, Throttle] = OrderedDict()
        self._down = False

    def __repr__(self) -> str:
        return f"FallbackThrottle({self.primary!r}, {self.fallback!r})"

    async def hit(self, key: str, *, limit: int, window: int) -> bool:
        """Count one attempt in the first throttle that can; ``False`` if over ``limit``."""
        try:
            allowed = await self.primary.hit(key, limit=limit, window=window)
        except StoreUnavailableError:
            if not self._down:
                self._down = True
                logger.warning("throttle: counting in the fallback while the primary is down")
            allowed = await self.fallback.hit(key, limit=limit, window=window)
            self._remember(key, self.fallback)
            return allowed
        if self._down:
            self._down = False
            logger.warning("throttle: the primary is back")
        self._remember(key, self.primary)
        return allowed

    async def undo(self, key: str) -> None:
        """Take back one attempt from the throttle that counted it."""
        counted_by = self._counted_by.pop(key, None)
        if counted_by is not None:
            await counted_by.undo(key)
            return
        try:
            await self.primary.undo(key)
        except StoreUnavailableError:
            await self.fallback.undo(key)

    async def reset(self, key: str) -> None:
        """Forget ``key`` in both throttles; StoreUnavailableError if neither could."""
        self._counted_by.pop(key, None)
        failures: list[StoreUnavailableError] = []
        for throttle in (self.primary, self.fallback):
            try:
                await throttle.reset(key)
            except StoreUnavailableError as err:
                failures.append(err)
        if len(failures) == 2:
            raise failures[0]
        if failures:
            logger.warning("throttle: a reset reached one store only; the other is down")

    async def close(self) -> None:
        """Close both throttles (each closes only what it created)."""
        for throttle in (self.primary, self.fallback):
            close = getattr(throttle, "close", None)
            if close is not None:
                await close()

    def _remember(self, key: str, throttle: Throttle) -> None:
        self._counted_by[key] = throttle
        self._counted_by.move_to_end(key)
        while len(self._counted_by) > _REMEMBERED:
            self._counted_by.popitem(last=False)
