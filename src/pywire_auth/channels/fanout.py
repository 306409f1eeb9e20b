"""The one auth channel implementation: local fan-out, an event log, an optional fast path.

PyWire's live pages subscribe to an auth channel by user id; a sign-out or a
claim change published on it re-renders them or sends them to the sign-in page.
PyWire's own ``MemoryAuthChannel`` only reaches pages in the same process. Under
``pywire run`` (several worker processes) or on several machines, a page's
WebSocket usually sits in another process than the request that signed out.

:class:`FanoutChannel` reaches them all:

* every event goes to this process's subscribers at once;
* it is appended to an :class:`~pywire_auth.protocols.EventLog` (the auth store's
  ``pywire_auth_events`` table) that every process polls, so it arrives everywhere
  within ``poll_interval`` with no server besides the database;
* when a :class:`~pywire_auth.protocols.Notifier` is set (Redis pub/sub,
  PostgreSQL NOTIFY), it also goes out on that fast path, in milliseconds.

An event that arrives both ways is delivered once. Publishing never raises: if
the log or the fast path is down, the outage is logged once, the other path
carries the event, and both recover by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, cast

from pywire.auth import AuthEvent, Claim, ClaimsPrincipal
from pywire.auth.channel import AuthSubscription as _PyWireSubscription

from pywire_auth.channels._codec import LIVE_KINDS, event_from_json, event_to_json
from pywire_auth.channels._cursor import LogCursor
from pywire_auth.exceptions import AuthError, ConfigurationError
from pywire_auth.protocols import EventLog, Notifier

__all__ = ["AuthSubscription", "FanoutChannel"]

logger = logging.getLogger("pywire_auth.channels")

#: A listener sees every event this process learns of (its own and others').
Listener = Callable[[AuthEvent], None]

_BATCH = 500
_SEEN_KEYS = 50_000
_SEEN_AGE = 300.0
_PRUNE_EVERY = 60.0
_MAX_BACKOFF = 5.0


class AuthSubscription(_PyWireSubscription):
    """The live events of one user, as an async context manager and iterator.

    This is what PyWire's WebSocket handler iterates for each signed-in page;
    entering it also starts the channel's followers.
    """

    def __init__(self, channel: FanoutChannel, user_id: str) -> None:
        # PyWire's subscription only touches ``channel._subscribers``, which a
        # FanoutChannel keeps in the same shape as its MemoryAuthChannel.
        super().__init__(cast(Any, channel), user_id)
        self._fanout = channel

    async def __aenter__(self) -> AuthSubscription:
        await super().__aenter__()
        await self._fanout.start()
        # The follower may be in its slower idle pause: catch up now.
        self._fanout._wake.set()
        return self


class FanoutChannel:
    """An auth channel across processes: see the module docstring.

    ``log`` may be bound later with :meth:`bind_log` (``connect_auth`` binds the
    auth store when it keeps an event log). Without log and notifier the channel
    is in-process only, like PyWire's ``MemoryAuthChannel``.
    """

    def __init__(
        self,
        *,
        log: EventLog | None = None,
        notifier: Notifier | None = None,
        poll_interval: float = 0.25,
        retention: int = 600,
        gap_timeout: float = 5.0,
        publish_timeout: float = 1.0,
        idle_interval: float = 1.0,
    ) -> None:
        if poll_interval <= 0 or retention <= 0 or gap_timeout <= 0 or publish_timeout <= 0:
            raise ConfigurationError(
                "poll_interval, retention, gap_timeout and publish_timeout must be positive"
            )
        self.log = log
        self.notifier = notifier
        self.poll_interval = poll_interval
        self.retention = retention
        self.gap_timeout = gap_timeout
        self.publish_timeout = publish_timeout
        self.idle_interval = max(idle_interval, poll_interval)
        self._subscribers: dict[str, set[asyncio.Queue[AuthEvent]]] = {}
        self._listeners: list[Listener] = []
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._down: set[str] = set()
        self._origin = uuid.uuid4().hex
        self._cursor: LogCursor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(log={self.log!r}, notifier={self.notifier!r})"

    # PyWire's AuthChannel -------------------------------------------------------

    async def update_principal(
        self,
        user_id: str,
        *,
        claims: list[Claim] | None = None,
        principal: ClaimsPrincipal | None = None,
    ) -> None:
        """Push new claims (or a whole principal) to every live page of ``user_id``."""
        await self.publish(
            AuthEvent(user_id=user_id, kind="update", claims=claims, principal=principal)
        )

    async def revoke(self, user_id: str) -> None:
        """Sign out every live page of ``user_id``, in every process."""
        await self.publish(AuthEvent(user_id=user_id, kind="revoke"))

    def subscribe(self, user_id: str) -> AuthSubscription:
        """The live events of ``user_id`` (used by PyWire's WebSocket handler)."""
        return AuthSubscription(self, user_id)

    # Ours -------------------------------------------------------------------------

    def bind_log(self, log: EventLog) -> None:
        """Use ``log`` as the event log if none was given; a no-op otherwise."""
        if self.log is None:
            self.log = log

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` for every event, e.g. to drop cached sessions of a user."""
        self._listeners.append(listener)

    async def publish(self, event: AuthEvent) -> None:
        """Deliver ``event`` here at once and send it to every other process."""
        if event.kind not in LIVE_KINDS:
            raise ConfigurationError(f"unknown auth event kind {event.kind!r}")
        key = uuid.uuid4().hex
        self._remember(key)
        self._deliver(event)
        await self.start()
        data = event_to_json(event, key)
        if self.log is not None:
            await self._guarded("event log", self.log.append_event(data, int(time.time())))
        if self.notifier is not None:
            message = json.dumps({"origin": self._origin, "event": data})
            publish = asyncio.wait_for(self.notifier.publish(message), self.publish_timeout)
            await self._guarded("fast path", publish)

    async def start(self) -> None:
        """Start following other processes (done on first use; idempotent)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and all(not t.done() for t in self._tasks):
            return
        # Claimed before the first await, so concurrent callers start nothing twice.
        self._loop = loop
        await self._stop_tasks()
        self._wake = asyncio.Event()
        if self.log is not None:
            if self._cursor is None:
                # Settle the starting point before a subscriber relies on it.
                await self._guarded("event log", self._poll(self.log))
            self._tasks.append(asyncio.create_task(self._follow_log(), name="pywire-auth-log"))
        if self.notifier is not None:
            self._tasks.append(
                asyncio.create_task(self._follow_notifier(), name="pywire-auth-fast")
            )

    async def aclose(self) -> None:
        """Stop following; close the fast path's connection."""
        self._loop = None
        await self._stop_tasks()
        if self.notifier is not None:
            await self.notifier.aclose()

    # Delivery ---------------------------------------------------------------------

    def _deliver(self, event: AuthEvent) -> None:
        for queue in list(self._subscribers.get(event.user_id, ())):
            queue.put_nowait(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # A broken listener must not stop the pages from hearing the event.
                logger.exception("auth channel listener failed")

    def _receive(self, data: Any) -> None:
        decoded = event_from_json(data) if isinstance(data, dict) else None
        if decoded is None:
            logger.warning("auth channel: dropped a malformed event")
            return
        key, event = decoded
        if key in self._seen:
            return
        self._remember(key)
        self._deliver(event)

    def _remember(self, key: str) -> None:
        now = time.monotonic()
        self._seen[key] = now
        while self._seen and (
            len(self._seen) > _SEEN_KEYS or now - next(iter(self._seen.values())) > _SEEN_AGE
        ):
            self._seen.popitem(last=False)

    # Followers --------------------------------------------------------------------

    async def _follow_log(self) -> None:
        log = self.log
        if log is None:
            return
        next_prune = time.monotonic() + random.uniform(0, _PRUNE_EVERY)  # noqa: S311 - jitter
        while not self._stopping:
            if await self._guarded("event log", self._poll(log)) and time.monotonic() > next_prune:
                next_prune = time.monotonic() + _PRUNE_EVERY
                cutoff = int(time.time()) - self.retention
                await self._guarded("event log", log.delete_events_before(cutoff))
            # With no live page here, nobody waits on this process's events but
            # its session cache, whose entries expire by themselves: poll slower.
            pause = self.poll_interval if self._subscribers else self.idle_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
            if not self._stopping:
                self._wake.clear()

    async def _poll(self, log: EventLog) -> None:
        if self._cursor is None:
            # Start at the end: events from before this process existed are history.
            self._cursor = LogCursor(await log.last_event_id(), gap_timeout=self.gap_timeout)
            return
        cursor = self._cursor
        for record in await log.events_after(cursor.position, _BATCH):
            if cursor.accept(record.event_id):
                self._receive(dict(record.payload))
        cursor.settle()

    async def _follow_notifier(self) -> None:
        notifier = self.notifier
        if notifier is None:
            return
        backoff = 0.25
        while True:
            ok = await self._guarded("fast path", notifier.listen(self._on_message, self._fast_up))
            # listen() only returns when its connection ended; come back with backoff.
            await asyncio.sleep(0 if ok else backoff)
            backoff = 0.25 if ok else min(backoff * 2, _MAX_BACKOFF)

    def _fast_up(self) -> None:
        if "fast path" in self._down:
            self._down.discard("fast path")
            logger.warning("auth channel: fast path is back")
        # Events published while the fast path was down came through the log.
        self._wake.set()

    def _on_message(self, message: str) -> None:
        try:
            envelope = json.loads(message)
        except ValueError:
            logger.warning("auth channel: dropped a malformed message")
            return
        if not isinstance(envelope, dict) or envelope.get("origin") == self._origin:
            return
        if envelope.get("wake"):
            self._wake.set()
        elif "event" in envelope:
            self._receive(envelope["event"])

    async def _guarded(self, what: str, work: Coroutine[Any, Any, Any]) -> bool:
        """Run ``work``; log the first failure of ``what`` and its recovery, never raise."""
        try:
            await work
        except Exception as exc:
            if not isinstance(exc, AuthError | TimeoutError):
                # The last line of defence: a bug must not stop live sign-outs.
                logger.exception("auth channel: unexpected error in the %s", what)
            if what not in self._down:
                self._down.add(what)
                logger.warning(
                    "auth channel: %s unavailable (%s); live pages follow through %s",
                    what,
                    getattr(exc, "code", type(exc).__name__),
                    "the fast path" if what == "event log" else "the event log",
                )
            return False
        if what in self._down:
            self._down.discard(what)
            logger.warning("auth channel: %s is back", what)
        return True

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        loop = asyncio.get_running_loop()
        ours = [t for t in tasks if t.get_loop() is loop and not t.done()]
        # Let the log follower finish the query it is in: a query cancelled
        # midway can leave its driver connection to be collected unclosed.
        self._stopping = True
        with contextlib.suppress(RuntimeError):
            self._wake.set()
        if ours:
            await asyncio.wait(ours, timeout=self.publish_timeout + 1)
        for task in tasks:
            with contextlib.suppress(RuntimeError):
                # RuntimeError: the task belonged to an event loop that is gone.
                task.cancel()
        for task in ours:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stopping = False
