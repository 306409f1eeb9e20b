"""Which auth channel an app gets when it names none."""

from __future__ import annotations

import logging
import os

from pywire.auth import AuthChannel, MemoryAuthChannel

from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.protocols import EventLog

__all__ = ["default_channel", "redis_url_from_env"]

logger = logging.getLogger("pywire_auth.channels")


def redis_url_from_env() -> str | None:
    """The Redis URL PyWire itself uses (``REDIS_URL``, else ``FLY_REDIS_URL``), if set."""
    return os.environ.get("REDIS_URL") or os.environ.get("FLY_REDIS_URL") or None


def default_channel(store: object) -> AuthChannel:
    """Redis when ``REDIS_URL`` is set, else the store's event log, else in-process.

    Whatever the choice, a store with an event log backs it, so live sign-outs
    cross processes even while Redis is down.
    """
    log = store if isinstance(store, EventLog) else None
    url = redis_url_from_env()
    if url:
        try:
            from pywire_auth.channels.redis import RedisAuthChannel
        except ImportError:
            logger.warning(
                "REDIS_URL is set but the 'redis' extra is missing; live sign-outs use %s",
                "the database" if log else "this process only",
            )
        else:
            return RedisAuthChannel(url=url, store=log)
    if log is not None:
        return StoreAuthChannel(log)
    return MemoryAuthChannel()
