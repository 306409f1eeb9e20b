"""Where a follower of the event log stands, allowing for ids that commit out of order."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["LogCursor"]

# A hole wider than this is not waited for id by id (sequences can jump after a
# database crash); the follower moves past the far side of it at once.
_MAX_TRACKED_GAP = 1000


class LogCursor:
    """The position of one process in the event log.

    Databases hand out ids when a row is inserted but show the row only when its
    transaction commits, so id 11 can appear before id 10. A follower that just
    remembered "the highest id seen" would skip 10 for good. This cursor keeps
    ``position`` (every id at or below it is settled) plus the ids above it
    already delivered, and waits up to ``gap_timeout`` seconds for each missing
    id (an aborted insert leaves a hole that never fills) before moving past it.

    >>> c = LogCursor(10, gap_timeout=5)
    >>> [c.accept(i) for i in (12, 11, 12)]
    [True, True, False]
    >>> c.settle(); c.position
    12
    """

    def __init__(
        self, position: int, *, gap_timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.position = position
        self.gap_timeout = gap_timeout
        self._clock = clock
        self._delivered: set[int] = set()
        self._holes: dict[int, float] = {}

    def accept(self, event_id: int) -> bool:
        """Record ``event_id``; ``True`` the first time it is seen (deliver it then)."""
        if event_id <= self.position or event_id in self._delivered:
            return False
        self._delivered.add(event_id)
        self._holes.pop(event_id, None)
        return True

    def settle(self) -> None:
        """Move ``position`` over delivered ids and holes that waited long enough."""
        if not self._delivered:
            return
        now = self._clock()
        top = max(self._delivered)
        if top - self.position > _MAX_TRACKED_GAP:
            self._skip_to(top - _MAX_TRACKED_GAP)
        for missing in range(self.position + 1, top):
            if missing not in self._delivered:
                self._holes.setdefault(missing, now)
        while True:
            following = self.position + 1
            if following in self._delivered:
                self._delivered.discard(following)
            elif following in self._holes and now - self._holes[following] >= self.gap_timeout:
                del self._holes[following]
            else:
                return
            self.position = following

    @property
    def waiting_for(self) -> int:
        """How many missing ids the cursor is still waiting for."""
        return len(self._holes)

    def _skip_to(self, position: int) -> None:
        self.position = position
        self._delivered = {i for i in self._delivered if i > position}
        self._holes = {i: t for i, t in self._holes.items() if i > position}
