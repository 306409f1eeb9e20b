"""Redis pub/sub as the auth channel's fast path.

Needs the ``redis`` extra: ``pip install 'pywire-auth[redis]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

try:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "RedisAuthChannel needs the 'redis' extra: pip install 'pywire-auth[redis]'"
    ) from _missing

from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.exceptions import ConfigurationError, StoreUnavailableError
from pywire_auth.protocols import EventLog

__all__ = ["RedisAuthChannel", "RedisNotifier"]

_CHANNEL = "pywire-auth:events"


class RedisNotifier:
    """A :class:`~pywire_auth.protocols.Notifier` over one Redis pub/sub channel."""

    def __init__(self, url_or_client: str | Redis, *, channel: str = _CHANNEL) -> None:
        if isinstance(url_or_client, str):
            # Timeouts keep a publish from holding a sign-out when Redis hangs;
            # the health check finds a silently dead subscriber connection.
            self._redis: Redis = Redis.from_url(
                url_or_client,
                socket_timeout=5,
                socket_connect_timeout=2,
                health_check_interval=10,
                # After Redis restarts, the pool's old connections are dead: one
                # retry on a fresh connection, so the first publish does not fail.
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
            self._owns_client = True
        else:
            self._redis = url_or_client
            self._owns_client = False
        self.channel = channel

    def __repr__(self) -> str:
        return f"RedisNotifier(channel={self.channel!r})"

    async def publish(self, message: str) -> None:
        """Publish ``message`` on the channel."""
        try:
            await self._redis.publish(self.channel, message)
        except (RedisError, OSError) as err:
            raise StoreUnavailableError("Redis is unavailable") from err

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        """Subscribe, call ``ready``, then hand each message to ``deliver``."""
        pubsub: Any = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            ready()
            while True:
                message = await pubsub.get_message(timeout=30.0)
                if message is not None and message.get("type") == "message":
                    data = message["data"]
                    deliver(data.decode() if isinstance(data, bytes) else str(data))
        except (RedisError, OSError) as err:
            raise StoreUnavailableError("Redis is unavailable") from err
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def aclose(self) -> None:
        """Close the connection pool if this notifier created it."""
        if self._owns_client:
            await self._redis.aclose()


class RedisAuthChannel(FanoutChannel):
    """Live sign-outs across workers and machines through Redis pub/sub.

    Events reach other processes in milliseconds. They are also written to the
    auth store's event log (bound by ``connect_auth``), so while Redis is down
    live pages still follow within the log's poll interval, and nothing needs a
    restart when it comes back. ``connect_auth`` picks this channel by itself
    when ``REDIS_URL`` is set.

    >>> channel = RedisAuthChannel(url="redis://127.0.0.1:6379/0")  # doctest: +SKIP
    >>> connect_auth(app, local_idp=idp, auth_channel=channel)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        store: EventLog | None = None,
        channel: str = _CHANNEL,
        poll_interval: float = 0.25,
        retention: int = 600,
    ) -> None:
        target: str | Redis | None = client if client is not None else url
        if target is None:
            raise ConfigurationError("RedisAuthChannel needs url= or client=")
        super().__init__(
            log=store,
            notifier=RedisNotifier(target, channel=channel),
            poll_interval=poll_interval,
            retention=retention,
        )
