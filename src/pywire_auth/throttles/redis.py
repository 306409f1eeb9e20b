"""A Throttle kept in Redis, so every worker process shares one count per key.

Needs the ``redis`` extra: ``pip install 'pywire-auth[redis]'``.
"""

from __future__ import annotations

import logging
from typing import Any

try:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "RedisThrottle needs the 'redis' extra: pip install 'pywire-auth[redis]'"
    ) from _missing

from pywire_auth.exceptions import StoreUnavailableError
from pywire_auth.throttles._rules import check_rule

__all__ = ["RedisThrottle"]

logger = logging.getLogger("pywire_auth.throttles.redis")

# One round trip, atomic on the server: start the window with its expiry on the
# first hit, count, and report. Two workers hitting at once cannot both see 1.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Refund one attempt, never below zero and never resurrecting an expired window.
_UNDO = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisThrottle:
    """A :class:`~pywire_auth.Throttle` with fixed windows in Redis.

    Each hit names its rule, at most ``limit`` hits per key in each ``window``
    seconds (``connect_auth`` takes them from its :class:`~pywire_auth.ThrottlePolicy`),
    counted across every process that uses the same Redis and ``prefix``. Redis
    expires each window itself, so memory stays bounded by the live keys. If Redis cannot be
    reached the throttle raises :class:`~pywire_auth.StoreUnavailableError`, so a
    sign-in answers ``unavailable`` rather than going uncounted.

    >>> throttle = RedisThrottle("redis://127.0.0.1:6379/0")  # doctest: +SKIP
    >>> connect_auth(app, local_idp=idp, throttle=throttle)  # doctest: +SKIP
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "pywire-auth:throttle:",
    ) -> None:
        if isinstance(url_or_client, str):
            self._redis: Redis = Redis.from_url(url_or_client, socket_timeout=5)
            self._owns_client = True
        else:
            self._redis = url_or_client
            self._owns_client = False
        self.prefix = prefix
        self._hit: Any = self._redis.register_script(_HIT)
        self._undo: Any = self._redis.register_script(_UNDO)

    def __repr__(self) -> str:
        return f"RedisThrottle(prefix={self.prefix!r})"

    async def hit(self, key: str, *, limit: int, window: int) -> bool:
        """Count one attempt for ``key``; ``False`` once it is over ``limit`` in its window."""
        check_rule(limit, window)
        try:
            count = await self._hit(keys=[self.prefix + key], args=[window * 1000])
        except (RedisError, OSError) as err:
            logger.warning("throttle unavailable: %s", type(err).__name__)
            raise StoreUnavailableError("the throttle store is unavailable") from err
        return int(count) <= limit

    async def undo(self, key: str) -> None:
        """Take back one attempt of ``key``."""
        try:
            await self._undo(keys=[self.prefix + key])
        except (RedisError, OSError) as err:
            raise StoreUnavailableError("the throttle store is unavailable") from err

    async def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""
        try:
            await self._redis.delete(self.prefix + key)
        except (RedisError, OSError) as err:
            raise StoreUnavailableError("the throttle store is unavailable") from err

    async def close(self) -> None:
        """Close the connection pool if this throttle created it."""
        if self._owns_client:
            await self._redis.aclose()
