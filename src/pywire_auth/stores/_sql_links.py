"""The SQL store's provider links: add, refresh, list and remove.

Private to :mod:`pywire_auth.stores.sqlalchemy`; mixed into
:class:`~pywire_auth.stores.sqlalchemy.SQLAlchemyAuthStore`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from pywire_auth.exceptions import LastSignInMethodError, UserExistsError, UserNotFoundError
from pywire_auth.stores._schema import credentials, provider_links, users
from pywire_auth.stores._sql_core import SQLCore
from pywire_auth.stores._sql_queries import insert_link, user_exists, user_from_values
from pywire_auth.stores._validate import NOT_A_WAY_IN, check_link, check_user, merge_claims
from pywire_auth.types import JSONValue, ProviderLink, UserRecord

__all__ = ["SQLLinks"]


class SQLLinks(SQLCore):
    """The identities (provider, subject) linked to a user."""

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
