"""AuthStore on any async SQLAlchemy database (SQLite, PostgreSQL, MySQL/MariaDB, ...).

Needs the ``sqlalchemy`` extra: ``pip install 'pywire-auth[sqlalchemy]'``.

Alembic users import the table metadata from here::

    from pywire_auth.stores.sqlalchemy import metadata
    target_metadata = metadata
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, TypeVar

try:
    import sqlalchemy as sa
    from sqlalchemy import event, exc
    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "SQLAlchemyAuthStore needs the 'sqlalchemy' extra: pip install 'pywire-auth[sqlalchemy]'"
    ) from _missing

from pywire_auth.exceptions import (
    ConfigurationError,
    InvalidInputError,
    LastSignInMethodError,
    StoreUnavailableError,
    UserExistsError,
    UserNotFoundError,
)
from pywire_auth.migrations import ensure_schema, schema_lock
from pywire_auth.stores._hot_reads import (
    DRIVER_ERRORS,
    HotQuery,
    SQLiteReader,
    fetch_one_raw,
)
from pywire_auth.stores._limits import SESSION_ID_LENGTH
from pywire_auth.stores._listing import check_listing, prefix_upper_bound
from pywire_auth.stores._schema import (
    credentials,
    events,
    metadata,
    provider_links,
    sessions,
    users,
)
from pywire_auth.stores._sql_engine import (
    DEADLOCK_RETRIES,
    OPERATION_TIMEOUT,
    SCHEMA_ATTEMPTS,
    STALE_RETRIES,
    RetryTransaction,
    configure_sqlite,
    create_private_sqlite_file,
    make_engine,
    mapped_errors,
    run_bounded,
    unavailable,
)
from pywire_auth.stores._sql_queries import (
    LOGIN_QUERY,
    SESSION_USER_QUERY,
    USER_COLUMNS,
    USER_QUERY,
    insert_link,
    user_exists,
    user_from_values,
)
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

__all__ = ["SQLAlchemyAuthStore", "metadata"]

_T = TypeVar("_T")


class SQLAlchemyAuthStore:
    """An :class:`~pywire_auth.AuthStore` and session store in SQL tables, created on first use.

    Give it a URL and it owns (and on :meth:`close` disposes) its engine; give it
    an ``AsyncEngine`` you share with the rest of your app and it never disposes it.

    >>> store = SQLAlchemyAuthStore("sqlite+aiosqlite:///./local-auth.db")  # doctest: +SKIP
    """

    def __init__(
        self,
        url_or_engine: str | AsyncEngine,
        *,
        create_tables: bool = True,
        timeout: float = OPERATION_TIMEOUT,
    ) -> None:
        if timeout <= 0:
            raise ConfigurationError("timeout must be positive")
        if isinstance(url_or_engine, AsyncEngine):
            self._engine = url_or_engine
            self._owns_engine = False
        elif isinstance(url_or_engine, str) and url_or_engine:
            self._engine = make_engine(url_or_engine)
            self._owns_engine = True
        else:
            raise ConfigurationError("SQLAlchemyAuthStore needs a database URL or an AsyncEngine")
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine.sync_engine, "connect", configure_sqlite)
            event.listen(self._engine.sync_engine, "do_connect", create_private_sqlite_file)
        # Single-statement reads need no transaction: in autocommit asyncpg skips
        # BEGIN and ROLLBACK, two of a lookup's three round trips. Elsewhere the
        # switch itself costs (MySQL sends SETs, aiosqlite hops threads), so no.
        self._reads = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._engine.dialect.name == "postgresql"
            else self._engine
        )
        self._timeout = timeout
        self._sqlite_reader = SQLiteReader.for_engine(self._engine)
        self._hot_user = HotQuery(USER_QUERY, self._engine)
        self._hot_login = HotQuery(LOGIN_QUERY, self._engine)
        self._hot_session = HotQuery(SESSION_USER_QUERY, self._engine)
        self._schema_ready = not create_tables
        self._closed = False
        self._schema_lock = asyncio.Lock()

    def __repr__(self) -> str:
        # render_as_string hides the password by default.
        return f"SQLAlchemyAuthStore({self._engine.url!r})"

    @property
    def engine(self) -> AsyncEngine:
        """The engine this store runs its queries on."""
        return self._engine

    @property
    def timeout(self) -> float:
        """The longest one operation may take before it is unavailable, in seconds."""
        return self._timeout

    async def create_tables(self) -> None:
        """Create the tables, or migrate them to this version (done on first use).

        Records the schema's revision in ``pywire_auth_alembic_version``, so
        ``pywire-auth db upgrade`` later knows where it stands.
        """
        async with self._schema_lock:
            if self._schema_ready:
                return
            # Several processes may create the tables at once; each pass skips the
            # tables that exist by then, so a few passes settle any race.
            for attempt in range(SCHEMA_ATTEMPTS):
                try:
                    await self._create_all()
                    break
                except StoreUnavailableError:
                    if attempt == SCHEMA_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.05 * (attempt + 1))
            self._schema_ready = True

    async def _create_all(self) -> None:
        try:
            async with schema_lock(), self._mapped_errors(), self._engine.begin() as conn:
                await conn.run_sync(ensure_schema)
        except exc.IntegrityError as err:
            # PostgreSQL reports two processes creating one table or index at once
            # as a duplicate in its catalog; the next pass finds it there.
            raise StoreUnavailableError("the schema was being created concurrently") from err

    @staticmethod
    def _mapped_errors(*, retryable: bool = False) -> AbstractAsyncContextManager[None]:
        return mapped_errors(retryable=retryable)

    async def _rows(
        self, statement: sa.Executable, params: dict[str, Any] | None = None
    ) -> list[Row[Any]]:
        """Run one read statement on a pooled connection and return all its rows."""

        self._check_open()

        async def read() -> list[Row[Any]]:
            if not self._schema_ready:
                await self.create_tables()
            for _ in range(STALE_RETRIES):
                try:
                    async with self._mapped_errors(retryable=True), self._reads.connect() as conn:
                        return list((await conn.execute(statement, params or {})).all())
                except RetryTransaction:
                    continue
            raise StoreUnavailableError("the user store keeps dropping connections")

        return await run_bounded(read(), self._timeout)

    async def _row(
        self, statement: sa.Executable, params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        rows = await self._rows(statement, params)
        return rows[0] if rows else None

    async def _hot_row(self, hot: HotQuery, params: dict[str, Any]) -> Sequence[Any] | None:
        """One row of a per-request lookup, straight from the driver where possible."""
        if not hot.raw:
            row = await self._row(hot.query, params)
            return tuple(row) if row is not None else None
        self._check_open()
        if self._sqlite_reader is not None and self._schema_ready:
            # A local file needs no network deadline: WAL readers never wait for
            # the writer, and the busy timeout bounds the rare checkpoint wait.
            try:
                return await self._sqlite_reader.fetch_one(hot, params)
            except DRIVER_ERRORS as err:
                raise unavailable(err) from err

        async def read() -> Sequence[Any] | None:
            if not self._schema_ready:
                await self.create_tables()
            failure: BaseException | None = None
            for _ in range(STALE_RETRIES):
                async with self._mapped_errors(), self._reads.connect() as conn:
                    try:
                        return await fetch_one_raw(conn, hot, params)
                    except DRIVER_ERRORS as err:
                        # SQLAlchemy never saw this error: drop the connection here
                        # so a dead one does not go back to the pool, then retry.
                        failure = err
                        await conn.invalidate()
            raise unavailable(failure) from failure

        return await run_bounded(read(), self._timeout)

    def _check_open(self) -> None:
        # A disposed engine would quietly open a new pool; after close() nothing
        # may (a background follower outliving its app would leak connections).
        if self._closed:
            raise StoreUnavailableError("the store was closed")

    async def _transact(self, work: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
        """Run ``work`` in one transaction, retrying it when the database picked it as
        a deadlock or serialization victim (InnoDB does so for racing inserts of one
        key; the retry then sees the winner's row and fails cleanly) or when its
        pooled connection turned out to be dead (nothing was committed on it)."""

        self._check_open()

        async def attempts() -> _T:
            if not self._schema_ready:
                await self.create_tables()
            for attempt in range(DEADLOCK_RETRIES):
                try:
                    async with self._mapped_errors(retryable=True), self._engine.begin() as conn:
                        return await work(conn)
                except RetryTransaction:
                    await asyncio.sleep(0.005 * (attempt + 1))
            raise StoreUnavailableError("the user store kept aborting the transaction")

        return await run_bounded(attempts(), self._timeout)

    async def create_user(
        self,
        user: UserRecord,
        *,
        link: ProviderLink,
        pw_hash: str | None = None,
        extra_links: Sequence[ProviderLink] = (),
    ) -> None:
        """Insert user, links and credential in one transaction; all or nothing."""
        check_registration(user, link, pw_hash, extra_links)

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                users.insert().values(
                    user_id=user.user_id,
                    email=user.email,
                    name=user.name,
                    claims=dict(user.claims),
                    extras=dict(user.extras),
                    disabled=bool(user.disabled),
                )
            )
            # The primary key on (provider, subject) decides races: of two
            # concurrent registrations for one email, the second insert fails.
            await conn.execute(insert_link(link))
            for extra in extra_links:
                await conn.execute(insert_link(extra))
            if pw_hash is not None:
                await conn.execute(
                    credentials.insert().values(user_id=user.user_id, pw_hash=pw_hash)
                )

        try:
            await self._transact(work)
        except exc.IntegrityError as err:
            raise UserExistsError(f"{link.provider} identity already registered") from err

    async def get_user(self, user_id: str) -> UserRecord | None:
        """The user with this id, or ``None``."""
        row = await self._hot_row(self._hot_user, {"user_id": user_id})
        return user_from_values(row) if row else None

    async def get_user_by_link(self, provider: str, subject: str) -> UserRecord | None:
        """The user linked to ``(provider, subject)``, or ``None``."""
        login = await self.get_login(provider, subject)
        return login.user if login else None

    async def get_login(self, provider: str, subject: str) -> LoginRecord | None:
        """User and password hash for an identity, in one indexed query."""
        row = await self._hot_row(self._hot_login, {"provider": provider, "subject": subject})
        return LoginRecord(user=user_from_values(row), pw_hash=row[USER_COLUMNS]) if row else None

    async def get_password_hash(self, user_id: str) -> str | None:
        """The user's hash, or ``None``."""
        row = await self._row(
            sa.select(credentials.c.pw_hash).where(credentials.c.user_id == user_id)
        )
        return str(row.pw_hash) if row else None

    async def set_password_hash(
        self, user_id: str, pw_hash: str, *, expected: str | None = None
    ) -> bool:
        """Write the hash; with ``expected``, only if the stored hash still equals it."""
        check_pw_hash(pw_hash)
        where = [credentials.c.user_id == user_id]
        if expected is not None:
            where.append(credentials.c.pw_hash == expected)

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(credentials.update().where(*where).values(pw_hash=pw_hash))
            if result.rowcount or expected is not None:
                return bool(result.rowcount)
            if not await user_exists(conn, user_id):
                return False
            await conn.execute(credentials.insert().values(user_id=user_id, pw_hash=pw_hash))
            return True

        try:
            return await self._transact(work)
        except exc.IntegrityError:
            # A concurrent writer created the credential first; an unconditional
            # set promises our hash wins, so write over it.
            return await self._transact(work)

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
        check_user(
            UserRecord(user_id, "", name=name or "", claims=claims or {}, extras=extras or {})
        )
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if claims is not None:
            values["claims"] = dict(claims)
        if extras is not None:
            values["extras"] = dict(extras)
        if disabled is not None:
            values["disabled"] = bool(disabled)

        async def work(conn: AsyncConnection) -> Row[Any] | None:
            if values:
                await conn.execute(
                    users.update().where(users.c.user_id == user_id).values(**values)
                )
            return (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).first()

        row = await self._transact(work)
        return user_from_values(row) if row else None

    async def change_email(
        self,
        user_id: str,
        email: str,
        *,
        expected: str,
        remove: Sequence[tuple[str, str]] = (),
        add: Sequence[ProviderLink] = (),
    ) -> bool:
        """Change the email and swap links in one transaction (see the protocol)."""
        for link in add:
            check_link(link)

        async def work(conn: AsyncConnection) -> bool:
            # Compare-and-set on the old email: two racing changes cannot both win.
            result = await conn.execute(
                users.update()
                .where(users.c.user_id == user_id, users.c.email == expected)
                .values(email=email)
            )
            if not result.rowcount:
                return False
            for provider, subject in remove:
                await conn.execute(
                    provider_links.delete().where(
                        provider_links.c.user_id == user_id,
                        provider_links.c.provider == provider,
                        provider_links.c.subject == subject,
                    )
                )
            for link in add:
                # The primary key on (provider, subject) refuses a taken identity.
                await conn.execute(insert_link(replace(link, user_id=user_id)))
            return True

        try:
            return await self._transact(work)
        except exc.IntegrityError as err:
            raise UserExistsError("that identity is already linked") from err

    async def add_link(self, link: ProviderLink) -> None:
        """Link another identity to an existing user; never re-points a link."""
        check_link(link)

        async def work(conn: AsyncConnection) -> None:
            if not await user_exists(conn, link.user_id):
                raise UserNotFoundError(f"no user {link.user_id!r}")
            await conn.execute(insert_link(link))

        try:
            await self._transact(work)
        except exc.IntegrityError as err:
            raise UserExistsError(f"{link.provider} identity already linked") from err

    async def refresh_identity(
        self,
        link: ProviderLink,
        *,
        name: str | None = None,
        claims: Mapping[str, JSONValue] | None = None,
    ) -> UserRecord | None:
        """Replace the link's claims and merge identity claims into the user's, atomically."""
        check_link(link)
        changes = dict(claims or {})
        check_user(UserRecord(link.user_id, "", name=name or "", claims=changes))

        async def work(conn: AsyncConnection) -> UserRecord | None:
            # The link's row is written first: from here on this transaction
            # holds the write lock (SQLite) or the row lock (PostgreSQL,
            # MariaDB), and the user row is read FOR UPDATE, so a role granted
            # concurrently is either seen here or written after us, never lost.
            result = await conn.execute(
                provider_links.update()
                .where(
                    provider_links.c.provider == link.provider,
                    provider_links.c.subject == link.subject,
                    provider_links.c.user_id == link.user_id,
                )
                .values(claims=dict(link.claims))
            )
            if result.rowcount == 0:
                return None
            query = sa.select(users).where(users.c.user_id == link.user_id).with_for_update()
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            user = user_from_values(row)
            updated = replace(
                user,
                name=user.name if name is None else name,
                claims=merge_claims(user.claims, changes),
            )
            check_user(updated)
            await conn.execute(
                users.update()
                .where(users.c.user_id == link.user_id)
                .values(name=updated.name, claims=dict(updated.claims))
            )
            return updated

        return await self._transact(work)

    async def get_links(self, user_id: str) -> list[ProviderLink]:
        """Every link of the user, sorted by ``(provider, subject)``."""
        query = (
            sa.select(provider_links)
            .where(provider_links.c.user_id == user_id)
            .order_by(provider_links.c.provider, provider_links.c.subject)
        )
        rows = await self._rows(query)
        return [ProviderLink(r.provider, r.subject, r.user_id, r.claims or {}) for r in rows]

    async def remove_link(self, user_id: str, provider: str, subject: str) -> bool:
        """Delete the link unless it is the user's last way in, in one transaction."""
        this_link = sa.and_(
            provider_links.c.user_id == user_id,
            provider_links.c.provider == provider,
            provider_links.c.subject == subject,
        )

        async def work(conn: AsyncConnection) -> bool:
            # A no-op write locks the user's row first (SQLite: the database),
            # so two unlinks of the user's last two providers run one after the
            # other and the second sees the first one's delete. Without the lock
            # both would see the other link and both delete (write skew).
            await conn.execute(
                users.update().where(users.c.user_id == user_id).values(user_id=users.c.user_id)
            )
            if (await conn.execute(sa.select(provider_links.c.user_id).where(this_link))).first():
                password = sa.select(credentials.c.user_id).where(credentials.c.user_id == user_id)
                other = sa.select(provider_links.c.user_id).where(
                    provider_links.c.user_id == user_id,
                    provider_links.c.provider.not_in(sorted(NOT_A_WAY_IN)),
                    sa.not_(
                        sa.and_(
                            provider_links.c.provider == provider,
                            provider_links.c.subject == subject,
                        )
                    ),
                )
                ways = (await conn.execute(password.limit(1))).first() or (
                    await conn.execute(other.limit(1))
                ).first()
                if not ways:
                    raise LastSignInMethodError(f"{provider} is the user's last way to sign in")
                await conn.execute(provider_links.delete().where(this_link))
                return True
            return False

        return await self._transact(work)

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user with their credential and links, in one transaction."""

        async def work(conn: AsyncConnection) -> bool:
            # Children first, explicitly: not every database enforces ON DELETE CASCADE.
            await conn.execute(credentials.delete().where(credentials.c.user_id == user_id))
            await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
            await conn.execute(provider_links.delete().where(provider_links.c.user_id == user_id))
            result = await conn.execute(users.delete().where(users.c.user_id == user_id))
            return bool(result.rowcount)

        return await self._transact(work)

    async def list_users(
        self, *, email_prefix: str = "", after: tuple[str, str] | None = None, limit: int = 50
    ) -> list[UserRecord]:
        """A page of users by ``(email, user_id)`` (see :class:`~pywire_auth.UserDirectory`).

        One seek on ``ix_pywire_auth_users_email_user_id`` and ``limit`` rows read
        in index order: no sort, no offset, the same cost on every page.
        """
        check_listing(email_prefix, after, limit)
        query = sa.select(users).order_by(users.c.email, users.c.user_id).limit(limit)
        if email_prefix:
            # A range, not LIKE: SQLite's LIKE ignores case and seeks no index.
            query = query.where(users.c.email >= email_prefix)
            upper = prefix_upper_bound(email_prefix)
            if upper is not None:
                query = query.where(users.c.email < upper)
        if after is not None:
            # The leading ">=" is what the index seeks; the OR only breaks email ties.
            email, user_id = after
            query = query.where(
                users.c.email >= email,
                sa.or_(users.c.email > email, users.c.user_id > user_id),
            )
        return [user_from_values(tuple(row)) for row in await self._rows(query)]

    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions, by ``(created_at, session_id)``, through the user_id index."""
        query = (
            sa.select(sessions)
            .where(sessions.c.user_id == user_id)
            .order_by(sessions.c.created_at, sessions.c.session_id)
        )
        rows = await self._rows(query)
        return [
            SessionRecord(r.session_id, r.user_id, int(r.created_at), int(r.expires_at))
            for r in rows
        ]

    async def create_session(self, session: SessionRecord) -> None:
        """Store a new session of an existing user."""
        check_text("session_id", session.session_id, SESSION_ID_LENGTH)

        async def work(conn: AsyncConnection) -> None:
            if not await user_exists(conn, session.user_id):
                raise UserNotFoundError(f"no user {session.user_id!r}")
            await conn.execute(
                sessions.insert().values(
                    session_id=session.session_id,
                    user_id=session.user_id,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                )
            )

        try:
            await self._transact(work)
        except exc.IntegrityError as err:
            raise InvalidInputError("session id already in use") from err

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session, or ``None``."""
        row = await self._row(sa.select(sessions).where(sessions.c.session_id == session_id))
        if row is None:
            return None
        return SessionRecord(row.session_id, row.user_id, row.created_at, row.expires_at)

    async def get_session_user(self, session_id: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session and its user, in one indexed query."""
        row = await self._hot_row(self._hot_session, {"session_id": session_id})
        if row is None:
            return None
        session_id, created_at, expires_at = row[USER_COLUMNS : USER_COLUMNS + 3]
        session = SessionRecord(session_id, row[0], int(created_at), int(expires_at))
        return session, user_from_values(row)

    async def touch_session(self, session_id: str, expires_at: int) -> bool:
        """Move the session's expiry."""
        update = (
            sessions.update()
            .where(sessions.c.session_id == session_id)
            .values(expires_at=expires_at)
        )

        async def work(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(update)).rowcount)

        return await self._transact(work)

    async def delete_session(self, session_id: str) -> bool:
        """End one session."""
        return await self._delete_sessions(sessions.c.session_id == session_id) > 0

    async def delete_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of the user except ``keep`` (a session id), in one statement."""
        which = sessions.c.user_id == user_id
        if keep is not None:
            which = sa.and_(which, sessions.c.session_id != keep)
        return await self._delete_sessions(which)

    async def delete_expired_sessions(self, now: int, *, limit: int | None = None) -> int:
        """Drop sessions that expired before ``now``; with ``limit``, at most that many.

        A batch picks its rows through the ``expires_at`` index and deletes them by
        primary key in the same transaction: the portable form of ``DELETE ...
        LIMIT`` (PostgreSQL has none, MariaDB refuses it in a subquery of the same
        table), and it locks exactly the rows it deletes.
        """
        check_limit(limit)
        expired = sessions.c.expires_at < now
        if limit is None:
            return await self._delete_sessions(expired)
        pick = sa.select(sessions.c.session_id).where(expired).limit(limit)

        async def work(conn: AsyncConnection) -> int:
            ids = [row[0] for row in await conn.execute(pick)]
            if not ids:
                return 0
            # Expiry checked again: a session refreshed since the pick stays.
            doomed = sessions.delete().where(sessions.c.session_id.in_(ids), expired)
            return int((await conn.execute(doomed)).rowcount)

        return await self._transact(work)

    async def _delete_sessions(self, where: sa.ColumnElement[bool]) -> int:
        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(sessions.delete().where(where))).rowcount)

        return await self._transact(work)

    # The event log (the embedded auth channel) ------------------------------

    async def append_event(self, payload: Mapping[str, JSONValue], created_at: int) -> int:
        """Append one event in its own short transaction and return its id."""

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                events.insert().values(payload=dict(payload), created_at=created_at)
            )
            key = result.inserted_primary_key
            if key is None or key[0] is None:
                raise StoreUnavailableError("the database returned no event id")
            return int(key[0])

        return await self._transact(work)

    async def events_after(self, event_id: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events with ids above ``event_id``, by ascending id."""
        query = (
            sa.select(events.c.event_id, events.c.payload, events.c.created_at)
            .where(events.c.event_id > event_id)
            .order_by(events.c.event_id)
            .limit(max(0, limit))
        )
        rows = await self._rows(query)
        return [EventRecord(int(r.event_id), r.payload or {}, int(r.created_at)) for r in rows]

    async def last_event_id(self) -> int:
        """The highest event id in the log, or 0."""
        top: Any = await self._row(sa.select(sa.func.max(events.c.event_id)))
        return int(top[0]) if top is not None and top[0] is not None else 0

    async def delete_events_before(self, created_at: int) -> int:
        """Drop events created before ``created_at``."""

        async def work(conn: AsyncConnection) -> int:
            doomed = events.delete().where(events.c.created_at < created_at)
            return int((await conn.execute(doomed)).rowcount)

        return await self._transact(work)

    # Operator queries (the pywire-auth command line) ---------------------------

    async def count_users(self) -> int:
        """How many users the store holds."""
        row = await self._row(sa.select(sa.func.count()).select_from(users))
        return int(row[0]) if row is not None else 0

    async def close(self) -> None:
        """Dispose the engine if this store created it; a shared engine is left alone.

        Every later call raises :class:`~pywire_auth.StoreUnavailableError`.
        """
        self._closed = True
        if self._sqlite_reader is not None:
            await self._sqlite_reader.close()
        if self._owns_engine:
            await self._engine.dispose()
