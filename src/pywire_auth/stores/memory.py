"""The reference AuthStore: everything in process memory, gone on restart.

Good for tests and demos. Every method runs without an ``await`` between its
check and its write, so on one event loop each call is atomic, which is the same
guarantee the SQL store gets from a transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace

from pywire_auth.exceptions import (
    InvalidInputError,
    LastSignInMethodError,
    UserExistsError,
    UserNotFoundError,
)
from pywire_auth.stores._limits import SESSION_ID_LENGTH
from pywire_auth.stores._listing import check_listing
from pywire_auth.stores._validate import (
    NOT_A_WAY_IN,
    check_limit,
    check_link,
    check_pw_hash,
    check_registration,
    check_text,
    check_user,
    merge_claims,
)
from pywire_auth.types import (
    EventRecord,
    JSONValue,
    LoginRecord,
    ProviderLink,
    SessionRecord,
    UserRecord,
)

__all__ = ["MemoryAuthStore"]


def _frozen_copy(user: UserRecord) -> UserRecord:
    # Deep copies on the way in and out: callers can never mutate stored JSON.
    return replace(
        user, claims=copy.deepcopy(dict(user.claims)), extras=copy.deepcopy(dict(user.extras))
    )


class MemoryAuthStore:
    """An :class:`~pywire_auth.AuthStore` and session store kept in dictionaries.

    >>> store = MemoryAuthStore()
    >>> import asyncio
    >>> asyncio.run(store.get_user("nobody")) is None
    True
    """

    def __init__(self) -> None:
        self._users: dict[str, UserRecord] = {}
        self._hashes: dict[str, str] = {}
        self._links: dict[tuple[str, str], ProviderLink] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._events: list[EventRecord] = []
        self._last_event_id = 0

    def __repr__(self) -> str:
        return f"MemoryAuthStore(users={len(self._users)})"

    async def create_user(
        self,
        user: UserRecord,
        *,
        link: ProviderLink,
        pw_hash: str | None = None,
        extra_links: Sequence[ProviderLink] = (),
    ) -> None:
        """Add ``user`` with its links and optional hash, all or nothing."""
        check_registration(user, link, pw_hash, extra_links)
        links = [link, *extra_links]
        for each in links:
            if (each.provider, each.subject) in self._links:
                raise UserExistsError(f"{each.provider} identity already registered")
        if user.user_id in self._users:
            raise UserExistsError(f"{link.provider} identity already registered")
        self._users[user.user_id] = _frozen_copy(user)
        for each in links:
            self._links[(each.provider, each.subject)] = replace(
                each, claims=copy.deepcopy(dict(each.claims))
            )
        if pw_hash is not None:
            self._hashes[user.user_id] = pw_hash

    async def get_user(self, user_id: str) -> UserRecord | None:
        """The user with this id, or ``None``."""
        user = self._users.get(user_id)
        return _frozen_copy(user) if user else None

    async def get_user_by_link(self, provider: str, subject: str) -> UserRecord | None:
        """The user linked to ``(provider, subject)``, or ``None``."""
        link = self._links.get((provider, subject))
        return await self.get_user(link.user_id) if link else None

    async def get_login(self, provider: str, subject: str) -> LoginRecord | None:
        """The linked user and their hash, or ``None``."""
        link = self._links.get((provider, subject))
        user = self._users.get(link.user_id) if link else None
        if user is None:
            return None
        return LoginRecord(user=_frozen_copy(user), pw_hash=self._hashes.get(user.user_id))

    async def get_password_hash(self, user_id: str) -> str | None:
        """The user's hash, or ``None``."""
        return self._hashes.get(user_id)

    async def set_password_hash(
        self, user_id: str, pw_hash: str, *, expected: str | None = None
    ) -> bool:
        """Write the hash (compare-and-set when ``expected`` is given)."""
        check_pw_hash(pw_hash)
        if user_id not in self._users:
            return False
        if expected is not None and self._hashes.get(user_id) != expected:
            return False
        self._hashes[user_id] = pw_hash
        return True

    async def update_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        claims: Mapping[str, JSONValue] | None = None,
        extras: Mapping[str, JSONValue] | None = None,
        disabled: bool | None = None,
    ) -> UserRecord | None:
        """Replace the given fields; ``None`` if the user is missing."""
        user = self._users.get(user_id)
        if user is None:
            return None
        updated = replace(
            user,
            name=user.name if name is None else name,
            claims=user.claims if claims is None else claims,
            extras=user.extras if extras is None else extras,
            disabled=user.disabled if disabled is None else bool(disabled),
        )
        check_user(updated)
        self._users[user_id] = _frozen_copy(updated)
        return _frozen_copy(updated)

    async def change_email(
        self,
        user_id: str,
        email: str,
        *,
        expected: str,
        remove: Sequence[tuple[str, str]] = (),
        add: Sequence[ProviderLink] = (),
    ) -> bool:
        """Change the email and swap links, all or nothing (see the protocol)."""
        for link in add:
            check_link(link)
        user = self._users.get(user_id)
        if user is None or user.email != expected:
            return False
        removed = {
            key for key in remove if key in self._links and self._links[key].user_id == user_id
        }
        for link in add:
            if (link.provider, link.subject) in self._links and (
                link.provider,
                link.subject,
            ) not in removed:
                raise UserExistsError(f"{link.provider} identity already linked")
        for key in removed:
            del self._links[key]
        for link in add:
            self._links[(link.provider, link.subject)] = replace(
                link, user_id=user_id, claims=copy.deepcopy(dict(link.claims))
            )
        self._users[user_id] = replace(user, email=email)
        return True

    async def add_link(self, link: ProviderLink) -> None:
        """Link another identity to an existing user; never re-points a link."""
        check_link(link)
        if link.user_id not in self._users:
            raise UserNotFoundError(f"no user {link.user_id!r}")
        key = (link.provider, link.subject)
        if key in self._links:
            raise UserExistsError(f"{link.provider} identity already linked")
        self._links[key] = replace(link, claims=copy.deepcopy(dict(link.claims)))

    async def refresh_identity(
        self,
        link: ProviderLink,
        *,
        name: str | None = None,
        claims: Mapping[str, JSONValue] | None = None,
    ) -> UserRecord | None:
        """Replace the link's claims and merge identity claims into the user's."""
        check_link(link)
        key = (link.provider, link.subject)
        current = self._links.get(key)
        user = self._users.get(link.user_id)
        if current is None or current.user_id != link.user_id or user is None:
            return None
        updated = replace(
            user,
            name=user.name if name is None else name,
            claims=merge_claims(user.claims, claims or {}),
        )
        check_user(updated)
        self._links[key] = replace(link, claims=copy.deepcopy(dict(link.claims)))
        self._users[user.user_id] = _frozen_copy(updated)
        return _frozen_copy(updated)

    async def get_links(self, user_id: str) -> list[ProviderLink]:
        """Every link of the user, sorted by ``(provider, subject)``."""
        found = [link for key, link in sorted(self._links.items()) if link.user_id == user_id]
        return [replace(link, claims=copy.deepcopy(dict(link.claims))) for link in found]

    async def remove_link(self, user_id: str, provider: str, subject: str) -> bool:
        """Delete the link unless it is the user's last way in (see the protocol)."""
        link = self._links.get((provider, subject))
        if link is None or link.user_id != user_id:
            return False
        # No await between the check and the delete: atomic on one event loop.
        if user_id not in self._hashes and not any(
            other.user_id == user_id
            and other.provider not in NOT_A_WAY_IN
            and key != (provider, subject)
            for key, other in self._links.items()
        ):
            raise LastSignInMethodError(f"{provider} is the user's last way to sign in")
        del self._links[(provider, subject)]
        return True

    async def delete_user(self, user_id: str) -> bool:
        """Remove the user, their hash and their links."""
        if self._users.pop(user_id, None) is None:
            return False
        self._hashes.pop(user_id, None)
        await self.delete_user_sessions(user_id)
        for key in [k for k, link in self._links.items() if link.user_id == user_id]:
            del self._links[key]
        return True

    async def list_users(
        self, *, email_prefix: str = "", after: tuple[str, str] | None = None, limit: int = 50
    ) -> list[UserRecord]:
        """A page of users by ``(email, user_id)`` (see :class:`~pywire_auth.UserDirectory`)."""
        check_listing(email_prefix, after, limit)
        # A sort per page: fine for the reference store; the SQL store seeks an index.
        found = sorted(
            (u.email, u.user_id)
            for u in self._users.values()
            if u.email.startswith(email_prefix) and (after is None or (u.email, u.user_id) > after)
        )
        return [_frozen_copy(self._users[uid]) for _, uid in found[:limit]]

    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions, by ``(created_at, session_id)``."""
        found = [s for s in self._sessions.values() if s.user_id == user_id]
        return sorted(found, key=lambda s: (s.created_at, s.session_id))

    async def create_session(self, session: SessionRecord) -> None:
        """Store a new session of an existing user."""
        check_text("session_id", session.session_id, SESSION_ID_LENGTH)
        if session.user_id not in self._users:
            raise UserNotFoundError(f"no user {session.user_id!r}")
        if session.session_id in self._sessions:
            raise InvalidInputError("session id already in use")
        self._sessions[session.session_id] = session

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session, or ``None``."""
        return self._sessions.get(session_id)

    async def get_session_user(self, session_id: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session and its user, or ``None``."""
        session = self._sessions.get(session_id)
        user = self._users.get(session.user_id) if session else None
        if session is None or user is None:
            return None
        return session, _frozen_copy(user)

    async def touch_session(self, session_id: str, expires_at: int) -> bool:
        """Move the session's expiry."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        self._sessions[session_id] = replace(session, expires_at=expires_at)
        return True

    async def delete_session(self, session_id: str) -> bool:
        """End one session."""
        return self._sessions.pop(session_id, None) is not None

    async def delete_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of the user except ``keep`` (a session id)."""
        doomed = [sid for sid, s in self._sessions.items() if s.user_id == user_id and sid != keep]
        for sid in doomed:
            del self._sessions[sid]
        return len(doomed)

    async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
        """Drop sessions that expired before ``now`` (at most ``limit`` of them)."""
        check_limit(limit)
        doomed = [sid for sid, s in self._sessions.items() if s.expires_at < now]
        if limit is not None:
            doomed = doomed[:limit]
        for sid in doomed:
            del self._sessions[sid]
        return len(doomed)

    async def append_event(self, payload: Mapping[str, JSONValue], created_at: int) -> int:
        """Append an event; ids count up from 1 and are never reused."""
        self._last_event_id += 1
        self._events.append(
            EventRecord(self._last_event_id, copy.deepcopy(dict(payload)), created_at)
        )
        return self._last_event_id

    async def events_after(self, event_id: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events after ``event_id``, oldest first."""
        return [e for e in self._events if e.event_id > event_id][: max(0, limit)]

    async def last_event_id(self) -> int:
        """The id of the newest event ever appended, or 0."""
        return self._last_event_id

    async def delete_events_before(self, created_at: int) -> int:
        """Forget events older than ``created_at``."""
        kept = [e for e in self._events if e.created_at >= created_at]
        dropped = len(self._events) - len(kept)
        self._events = kept
        return dropped

    async def close(self) -> None:
        """Nothing to release."""
