"""The SQL store's users and password credentials.

Private to :mod:`pywire_auth.stores.sqlalchemy`; mixed into
:class:`~pywire_auth.stores.sqlalchemy.SQLAlchemyAuthStore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from pywire_auth.exceptions import UserExistsError
from pywire_auth.stores._schema import credentials, provider_links, sessions, users
from pywire_auth.stores._sql_core import SQLCore
from pywire_auth.stores._sql_queries import USER_COLUMNS, insert_link, user_exists, user_from_values
from pywire_auth.stores._validate import check_link, check_pw_hash, check_registration, check_user
from pywire_auth.types import JSONValue, LoginRecord, ProviderLink, UserRecord

__all__ = ["SQLUsers"]


class SQLUsers(SQLCore):
    """Register, read, update and delete users and their password hashes."""

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
