"""Which throttle an app gets when it names none: one every worker process shares."""

from __future__ import annotations

import logging

from pywire_auth.channels._default import redis_url_from_env
from pywire_auth.protocols import Throttle
from pywire_auth.throttles.fallback import FallbackThrottle
from pywire_auth.throttles.memory import MemoryThrottle

__all__ = ["default_throttle"]

logger = logging.getLogger("pywire_auth.throttles")


def default_throttle(store: object) -> Throttle:
    """Redis when ``REDIS_URL`` is set, else the SQL store's database, else memory.

    With both Redis and a SQL store, the database counts while Redis is down
    (:class:`~pywire_auth.throttles.fallback.FallbackThrottle`), as the auth
    channel carries live sign-outs through it then: an outage of Redis alone
    stops no sign-in.

    ``pywire run`` starts several worker processes; a count kept in one of them
    would let an attacker spread guesses over all of them. Redis and the
    database are shared by every worker and every machine. Only an in-memory
    store (one process by nature) gets the in-memory throttle.
    """
    shared = _sql_throttle(store)
    url = redis_url_from_env()
    if url:
        try:
            from pywire_auth.throttles.redis import RedisThrottle
        except ImportError:
            logger.warning("REDIS_URL is set but the 'redis' extra is missing")
        else:
            if shared is None:
                return RedisThrottle(url)
            return FallbackThrottle(RedisThrottle(url), shared)
    return shared if shared is not None else MemoryThrottle()


def _sql_throttle(store: object) -> Throttle | None:
    try:
        from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
        from pywire_auth.throttles.sql import SQLAlchemyThrottle
    except ImportError:
        return None
    return SQLAlchemyThrottle(store) if isinstance(store, SQLAlchemyAuthStore) else None
