"""Which auth channel an app gets when it names none."""

from __future__ import annotations

import logging
import os

from pywire.auth import AuthChannel, MemoryAuthChannel

from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.exceptions import ConfigurationError
from pywire_auth.protocols import EventLog

__all__ = ["default_channel", "redis_url_from_env"]

logger = logging.getLogger("pywire_auth.channels")


def redis_url_from_env() -> str | None:
    """The Redis URL PyWire itself uses (``REDIS_URL``, else ``FLY_REDIS_URL``), if set."""
    return os.environ.get("REDIS_URL") or os.environ.get("FLY_REDIS_URL") or None


#: Names the channel explicitly: ``store``, ``redis``, ``postgres`` or ``memory``.
CHANNEL_ENV = "PYWIRE_AUTH_CHANNEL"


def default_channel(store: object) -> AuthChannel:
    """Redis when ``REDIS_URL`` is set, else the store's event log, else in-process.

    Whatever the choice, a store with an event log backs it, so live sign-outs
    cross processes even while Redis is down. ``PYWIRE_AUTH_CHANNEL=postgres``
    adds PostgreSQL notifications to a store on PostgreSQL; ``store`` and
    ``memory`` force those channels.
    """
    log = store if isinstance(store, EventLog) else None
    choice = os.environ.get(CHANNEL_ENV, "").strip().lower()
    if choice not in ("", "store", "redis", "postgres", "memory"):
        raise ConfigurationError(
            f"{CHANNEL_ENV} must be one of store, redis, postgres, memory (got {choice!r})"
        )
    if choice == "memory":
        return MemoryAuthChannel()
    if choice == "postgres":
        return _postgres_channel(store, log)
    url = redis_url_from_env() if choice in ("", "redis") else None
    if choice == "redis" and not url:
        raise ConfigurationError(f"{CHANNEL_ENV}=redis needs REDIS_URL")
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


def _postgres_channel(store: object, log: EventLog | None) -> AuthChannel:
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        raise ConfigurationError(f"{CHANNEL_ENV}=postgres needs the auth store on PostgreSQL")
    from pywire_auth.channels.postgres import PostgresAuthChannel

    return PostgresAuthChannel(engine.url.render_as_string(hide_password=False), store=log)
