"""PostgreSQL LISTEN/NOTIFY as the auth channel's fast path.

Needs the ``postgres`` extra: ``pip install 'pywire-auth[postgres]'`` (asyncpg).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

try:
    import asyncpg
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "PostgresAuthChannel needs the 'postgres' extra: pip install 'pywire-auth[postgres]'"
    ) from _missing

from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.exceptions import ConfigurationError, StoreUnavailableError
from pywire_auth.protocols import EventLog

__all__ = ["PostgresAuthChannel", "PostgresNotifier"]

_CHANNEL = "pywire_auth_events"
# NOTIFY payloads must stay under 8000 bytes; a bigger event (a principal with
# many claims) is sent as a bare "wake up": listeners then read it from the log.
_MAX_PAYLOAD = 7900
_WAKE = '{"wake": true}'
_CONNECT_TIMEOUT = 5.0
# The dedicated LISTEN connection is checked this often, so a server that
# vanished without closing the socket is noticed and reconnected.
_PING_EVERY = 10.0

_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _dsn(url: str) -> str:
    # SQLAlchemy spells the driver into the scheme; asyncpg wants plain postgresql://.
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise ConfigurationError("PostgresAuthChannel needs a postgresql:// URL")
    return "postgresql://" + rest


class PostgresNotifier:
    """A :class:`~pywire_auth.protocols.Notifier` over ``LISTEN``/``NOTIFY``."""

    def __init__(self, url: str, *, channel: str = _CHANNEL) -> None:
        self._dsn = _dsn(url)
        self.channel = channel
        self._publisher: Any = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresNotifier(channel={self.channel!r})"

    async def publish(self, message: str) -> None:
        """``NOTIFY`` the channel with ``message`` (or a wake-up if it is too big)."""
        payload = message if len(message.encode()) <= _MAX_PAYLOAD else _WAKE
        try:
            async with self._lock:
                if self._publisher is None or self._publisher.is_closed():
                    self._publisher = await asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT)
                await self._publisher.execute("SELECT pg_notify($1, $2)", self.channel, payload)
        except _ERRORS as err:
            await self._drop_publisher()
            raise StoreUnavailableError("PostgreSQL notifications are unavailable") from err

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        """``LISTEN`` on a dedicated connection, call ``ready``, deliver until it breaks."""
        lost = asyncio.Event()
        try:
            conn = await asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT)
        except _ERRORS as err:
            raise StoreUnavailableError("PostgreSQL notifications are unavailable") from err
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(self.channel, lambda *args: deliver(str(args[-1])))
            ready()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), _PING_EVERY)
                if not lost.is_set():
                    await conn.execute("SELECT 1")
        except _ERRORS as err:
            raise StoreUnavailableError("PostgreSQL notifications are unavailable") from err
        finally:
            with contextlib.suppress(*_ERRORS):
                await asyncio.wait_for(conn.close(), _CONNECT_TIMEOUT)

    async def aclose(self) -> None:
        """Close the publishing connection."""
        await self._drop_publisher()

    async def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(*_ERRORS):
                await asyncio.wait_for(publisher.close(), _CONNECT_TIMEOUT)


class PostgresAuthChannel(FanoutChannel):
    """Live sign-outs across workers and machines through PostgreSQL notifications.

    For apps whose auth store is on PostgreSQL and that run no Redis: events go
    to the store's event log as with the default channel, and a ``NOTIFY`` wakes
    every other process at once instead of at its next poll.

    >>> url = "postgresql+asyncpg://app:pw@db/app"
    >>> store = SQLAlchemyAuthStore(url)  # doctest: +SKIP
    >>> channel = PostgresAuthChannel(url, store=store)  # doctest: +SKIP
    >>> connect_auth(app, local_idp=LocalIdP(store=store), auth_channel=channel)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        store: EventLog | None = None,
        channel: str = _CHANNEL,
        poll_interval: float = 0.25,
        retention: int = 600,
    ) -> None:
        super().__init__(
            log=store,
            notifier=PostgresNotifier(url, channel=channel),
            poll_interval=poll_interval,
            retention=retention,
        )
