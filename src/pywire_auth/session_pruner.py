"""SessionPruner: deletes expired sessions in the background of one process.

Expired sessions are refused as soon as they expire, but their rows stay until
something deletes them; a busy site gathers millions. Each process runs one
pruner (there is no leader to elect: deleting an expired row twice is harmless,
and the jitter keeps the processes from pruning in step). Every pass deletes in
bounded batches with a pause between them, so no statement holds a large
delete's locks and requests get the database in between.
"""

from __future__ import annotations

import asyncio
import logging
import random
from types import TracebackType

from pywire_auth.exceptions import AuthError, ConfigurationError
from pywire_auth.sessions import SessionManager

__all__ = ["SessionPruner"]

logger = logging.getLogger("pywire_auth.sessions")


class SessionPruner:
    """Calls :meth:`SessionManager.prune_expired` every ``interval`` seconds (± ``jitter``).

    Start it with the app and stop it on shutdown, for example in a lifespan::

        async with SessionPruner(sessions):
            yield

    The first pass runs after a random share of ``jitter * interval``, so freshly
    started workers neither wait a whole interval nor all prune at once. A pass that
    fails (store unreachable) is logged and tried again at the next interval.
    """

    def __init__(
        self,
        sessions: SessionManager,
        *,
        interval: float = 600.0,
        jitter: float = 0.25,
        batch: int = 500,
        pause: float = 0.05,
    ) -> None:
        if interval <= 0 or not 0 <= jitter <= 1 or batch < 1 or pause < 0:
            raise ConfigurationError(
                "need interval > 0, 0 <= jitter <= 1, batch >= 1 and pause >= 0"
            )
        self.sessions = sessions
        self.interval = interval
        self.jitter = jitter
        self.batch = batch
        self.pause = pause
        self._task: asyncio.Task[None] | None = None
        # Scheduling jitter only; nothing here needs unpredictability.
        self._random = random.Random()  # noqa: S311

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"SessionPruner(interval={self.interval}, batch={self.batch}, {state})"

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    async def run_once(self) -> int:
        """One pass now: delete every expired session, in batches; return how many."""
        deleted = await self.sessions.prune_expired(batch=self.batch, pause=self.pause)
        if deleted:
            logger.info("pruned %d expired sessions", deleted)
        return deleted

    def start(self) -> None:
        """Start the background task on the running event loop (again: no effect)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="pywire-auth session pruner"
            )
            self._task.add_done_callback(_report_crash)

    async def aclose(self) -> None:
        """Stop the background task and wait for it (a pass in progress is cancelled)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait, not await: a task that had crashed was reported then, and shutting
        # the app down must not fail over it.
        await asyncio.wait([task])

    async def __aenter__(self) -> SessionPruner:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _delay(self, first: bool) -> float:
        if first:
            return self.interval * self.jitter * self._random.random()
        return self.interval * (1 + self.jitter * self._random.uniform(-1, 1))

    async def _run(self) -> None:
        first = True
        while True:
            await asyncio.sleep(self._delay(first))
            first = False
            try:
                await self.run_once()
            except AuthError as exc:
                # The code only: a chained driver message may quote parameters.
                logger.warning("pruning expired sessions failed (%s); will retry", exc.code)


def _report_crash(task: asyncio.Task[None]) -> None:
    # Only a bug gets here (store failures are AuthErrors, handled in the loop):
    # say so at once rather than at shutdown, or never.
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("the session pruner stopped", exc_info=exc)
