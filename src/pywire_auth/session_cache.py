"""A short-lived, per-process memory of looked-up sessions, so most requests skip the store.

Every signed-in request needs its session row, its user row and the principal
built from them. Read from the store each time, that lookup is most of what a
signed-in page costs beyond an anonymous one. :class:`SessionCache` keeps the
three for at most ``ttl`` seconds (:attr:`SessionConfig.cache_ttl
<pywire_auth.SessionConfig.cache_ttl>`), in an LRU of bounded size.

How revocation stays within its bound:

* An entry is served only while ``read_at <= now < read_at + ttl``, where
  ``read_at`` is when its store read *began*: whatever the store says after a
  revocation (any process, any path, even a change written straight into the
  database) is what every process serves at most ``ttl`` seconds later. A clock
  that jumps backwards makes entries stale, never longer-lived.
* This process's own revocations and changes (sign-out, revoke, sign-in over an
  old session, refresh, claim changes) drop the entries at once, and so do
  :meth:`forget_session` / :meth:`forget_user` when another process announces its
  changes over the auth channel.
* A forget that lands while a store read is in flight must not be undone by that
  read putting its (older) answer into the cache afterwards. So every forget bumps
  a generation counter, and :meth:`put` refuses an entry whose read began under an
  older generation. Writers forget *after* their store write has committed, so a
  read that starts later sees the write.

The session's own expiry is checked by :class:`~pywire_auth.sessions.SessionManager`
on every hit, so a cached session is still refused at its ``expires_at``.

Principals are shared by the requests one entry serves (at most ``ttl`` seconds
of one session): like PyWire's own ``ANONYMOUS``, they are read, never mutated.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from pywire.auth import ClaimsPrincipal

from pywire_auth.types import SessionRecord, UserRecord

__all__ = ["CachedSession", "SessionCache"]


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A live session with its user and the principal built from them."""

    record: SessionRecord
    user: UserRecord
    principal: ClaimsPrincipal


class SessionCache:
    """``session_id -> CachedSession`` for at most ``ttl`` seconds, ``max_entries`` at most.

    ``ttl=0`` turns it off: :meth:`get` never finds anything and :meth:`put` keeps
    nothing.

    >>> cache = SessionCache(ttl=1.0, max_entries=100, clock=lambda: 0.0)
    >>> cache.get("unknown") is None
    True
    """

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        # session_id -> (entry, read_at); the order is least recently used first.
        self._entries: OrderedDict[str, tuple[CachedSession, float]] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"SessionCache(ttl={self.ttl}, entries={len(self._entries)}/{self.max_entries})"

    @property
    def generation(self) -> int:
        """A counter every forget bumps; take it before a store read, give it to :meth:`put`."""
        return self._generation

    def get(self, session_id: str) -> CachedSession | None:
        """The entry of ``session_id`` if it is younger than ``ttl``, else ``None``."""
        found = self._entries.get(session_id)
        if found is None:
            return None
        entry, read_at = found
        if not read_at <= self._clock() < read_at + self.ttl:
            self._drop(session_id)
            return None
        self._entries.move_to_end(session_id)
        return entry

    def put(self, entry: CachedSession, *, read_at: float, generation: int) -> None:
        """Keep ``entry``, read from the store starting at ``read_at`` under ``generation``.

        Nothing is kept if the cache is off or anything was forgotten since the
        read began: that read may predate the revocation the forget announced.
        """
        if self.ttl <= 0 or generation != self._generation:
            return
        session_id = entry.record.session_id
        if session_id in self._entries:
            self._drop(session_id)
        self._entries[session_id] = (entry, read_at)
        self._by_user.setdefault(entry.record.user_id, set()).add(session_id)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def forget_session(self, session_id: str) -> None:
        """Drop the entry of one session (ended, refreshed or replaced)."""
        self._generation += 1
        self._drop(session_id)

    def forget_user(self, user_id: str) -> None:
        """Drop every entry of one user (signed out everywhere, or their claims changed).

        ``user_id`` is the stored id, as in :attr:`SessionRecord.user_id
        <pywire_auth.SessionRecord.user_id>`, not the principal's ``local:<id>``.
        """
        self._generation += 1
        for session_id in list(self._by_user.get(user_id, ())):
            self._drop(session_id)

    def clear(self) -> None:
        """Drop every entry."""
        self._generation += 1
        self._entries.clear()
        self._by_user.clear()

    def _drop(self, session_id: str) -> None:
        found = self._entries.pop(session_id, None)
        if found is None:
            return
        user_id = found[0].record.user_id
        sessions = self._by_user.get(user_id)
        if sessions is not None:
            sessions.discard(session_id)
            if not sessions:
                del self._by_user[user_id]
