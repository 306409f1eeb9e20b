"""The rows of benchmarks/scale.py, and bulk loading them into SQLite and PostgreSQL.

Every key is derived from its row number: user ``i`` has email ``email(i)`` and id
``user_id(i)``, and owns sessions ``10 i .. 10 i + 9`` (the first 3 expired). So a
benchmark can draw random existing keys (row numbers below the size) and missing
ones (row numbers from ``MISSING`` on) at any size, without keeping ten million
strings in memory, and a database can grow from N to M users by adding rows N..M-1.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

from pywire_auth.stores._schema import credentials, metadata, provider_links, sessions, users

SESSIONS_PER_USER = 10
EXPIRED_PER_USER = 3
BATCH = 20_000  # users per bulk insert (and 10 x as many sessions)
COMMIT_EVERY = 10  # SQLite: batches per transaction
MISSING = 10**9  # row numbers from here on are never inserted
NOW = 1_790_000_000  # a fixed "now" (2026): the rows do not depend on the clock
DAY = 86_400
# A well-formed but fake hash: the benchmark measures the database path, not Argon2.
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
CLAIMS = json.dumps({"role": ["member"], "locale": "en"})
LINK_CLAIMS = json.dumps({"email_verified": True})
TABLES = {"users": users, "credentials": credentials, "links": provider_links, "sessions": sessions}

# fmt: off
FIRST = (
    "olivia", "emma", "ava", "sophia", "mia", "amelia", "harper", "evelyn", "abigail", "emily",
    "liam", "noah", "oliver", "elijah", "james", "william", "benjamin", "lucas", "henry", "mateo",
    "leo", "jack", "levi", "sebastian", "aiden", "yuki", "hana", "sofia", "lucia", "chloe",
    "camille", "nora", "ingrid", "aisha", "fatima", "priya", "ananya", "chen", "wei", "theodore",
)
LAST = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright",
    "nguyen", "kim", "patel", "mueller", "rossi", "dubois", "novak", "kowalski", "tanaka", "silva",
)
DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "example.org",
    "acme-corp.com", "mail.example.net", "web.de", "gmx.net",
)
# fmt: on

# 2**256 / golden ratio, odd: k -> k * _SPREAD mod 2**256 is a bijection whose values
# spread like random ones (Fibonacci hashing), at a fraction of SHA-256's cost.
_SPREAD = (math.isqrt(5 << 512) - (1 << 256)) // 2 | 1
_MASK = (1 << 256) - 1
_MASK128 = (1 << 128) - 1


def email(i: int) -> str:
    """User ``i``'s email, normalized (lower case) as the local provider stores it."""
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    return f"{first}.{last}{i}@{DOMAINS[(i * 7) % len(DOMAINS)]}"


def full_name(i: int) -> str:
    return f"{FIRST[i % len(FIRST)].title()} {LAST[(i // len(FIRST)) % len(LAST)].title()}"


def user_id(i: int) -> str:
    """A version-4 UUID, fixed for row ``i``."""
    h = f"{(i + 1) * _SPREAD >> 128 & _MASK128:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def session_id(j: int) -> str:
    """Session ``j``'s id: 64 hex digits, like ``SessionManager``'s SHA-256 ids."""
    return f"{(j + 1) * _SPREAD & _MASK:064x}"


def sessions_of(i: int, uid: str) -> list[tuple[str, str, int, int]]:
    first = i * SESSIONS_PER_USER
    rows = []
    for j in range(first, first + SESSIONS_PER_USER):
        created = NOW - (j * 7919) % (30 * DAY)
        expired = j - first < EXPIRED_PER_USER
        expires = NOW - 1 - (j % 997) if expired else created + 14 * DAY + 3600
        rows.append((f"{(j + 1) * _SPREAD & _MASK:064x}", uid, created, expires))
    return rows


def batches(first: int, end: int) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The rows of users ``first..end-1`` for each table, in batches of BATCH users."""
    for low in range(first, end, BATCH):
        ids = [(i, user_id(i), email(i)) for i in range(low, min(end, low + BATCH))]
        yield {
            "users": [(uid, mail, full_name(i), CLAIMS, "{}") for i, uid, mail in ids],
            "credentials": [(uid, FAKE_HASH) for _, uid, _ in ids],
            "links": [("local", mail, uid, LINK_CLAIMS) for _, uid, mail in ids],
            "sessions": [row for i, uid, _ in ids for row in sessions_of(i, uid)],
        }


def size_label(n: int) -> str:
    """10000 -> "10k", 1000000 -> "1M"."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


class SqliteBackend:
    """A database file that grows; copies of it keep the smaller sizes."""

    name = "SQLite"
    explain_prefix = "EXPLAIN QUERY PLAN "

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite+aiosqlite:///{path}"
        self.copies: list[Path] = []

    async def reset(self) -> None:
        await self.drop()

    async def grow(self, first: int, end: int) -> None:
        """executemany into the store's tables, indexes in place (they grow as an app's do).

        A bulk load's settings, on this connection only: no journal (nothing to roll
        back) and a page cache that holds the indexes. With the store's WAL, every
        commit would write again each index page that the random keys touched. WAL
        mode is back on before the store opens the file.
        """
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-2097152")  # 2 GiB
            inserts = {
                key: f"INSERT INTO {t.name} VALUES ({', '.join('?' * len(t.columns))})"  # noqa: S608
                for key, t in TABLES.items()
            }
            for n, batch in enumerate(batches(first, end), 1):
                for key, chunk in batch.items():
                    conn.executemany(inserts[key], chunk)
                if n % COMMIT_EVERY == 0:
                    conn.commit()
            conn.commit()
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()

    async def settle(self) -> None:
        """Nothing: an app's SQLite database has no ANALYZE statistics either."""

    async def snapshot(self, users_n: int) -> str:
        """A copy of the database as it is now: the URL to measure this size at."""
        copy = self.path.with_name(f"{self.path.stem}-{size_label(users_n)}.db")
        await asyncio.to_thread(shutil.copyfile, self.path, copy)
        self.copies.append(copy)
        return f"sqlite+aiosqlite:///{copy}"

    async def explain(self, sql: str, args: Sequence[Any]) -> list[str]:
        conn = sqlite3.connect(self.path)
        try:
            return [str(row[-1]) for row in conn.execute(self.explain_prefix + sql, tuple(args))]
        finally:
            conn.close()

    async def drop(self, *, keep_main: bool = False) -> None:
        """Delete the copies, and unless ``keep_main`` the grown database too."""
        for db in self.copies if keep_main else [*self.copies, self.path]:
            for suffix in ("", "-wal", "-shm"):
                await asyncio.to_thread(Path(f"{db}{suffix}").unlink, missing_ok=True)
        self.copies = []


class PostgresBackend:
    """A database that grows; ``CREATE DATABASE ... TEMPLATE`` copies keep smaller sizes."""

    name = "PostgreSQL"
    explain_prefix = "EXPLAIN "

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = sa.make_url(url)
        self.database = parsed.database or ""
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        # Copies are made from another database: the template must have no sessions.
        self.admin_dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False
        )
        self.copies: list[str] = []

    async def reset(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(f"DROP TABLE IF EXISTS {table.name} CASCADE")
        finally:
            await conn.close()

    async def grow(self, first: int, end: int) -> None:
        """COPY the rows in with the tables' keys and indexes set aside, then rebuild them.

        Inserted one by one into indexes far larger than shared_buffers (128 MB here),
        random keys cost a page read, an eviction and a full-page WAL image each, and
        every foreign key a lookup and a row lock; the 1M step then takes most of an
        hour. Rebuilt from PostgreSQL's own description of each (``pg_get_indexdef``,
        ``pg_get_constraintdef``), they are sorted once. The rebuilt indexes are the
        same but packed (90% full pages, where random inserts leave about 70%).
        """
        names = [t.name for t in TABLES.values()]
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '512MB'")
            async with conn.transaction():
                constraints = await conn.fetch(
                    "SELECT conrelid::regclass::text AS tbl, conname, contype,"
                    " pg_get_constraintdef(oid) AS def FROM pg_constraint"
                    " WHERE contype IN ('f', 'p', 'u')"
                    " AND conrelid::regclass::text = ANY($1::text[])"
                    " ORDER BY contype = 'f' DESC",  # foreign keys go first, come back last
                    names,
                )
                indexes = await conn.fetch(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[])"
                    " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                    names,
                )
                for c in constraints:
                    await conn.execute(f"ALTER TABLE {c['tbl']} DROP CONSTRAINT {c['conname']}")
                for index in indexes:
                    await conn.execute(f"DROP INDEX {index['indexname']}")
                for batch in batches(first, end):
                    for key, chunk in batch.items():
                        table = TABLES[key]
                        columns = [c.name for c in table.columns]
                        await conn.copy_records_to_table(table.name, records=chunk, columns=columns)
                for index in indexes:
                    await conn.execute(index["indexdef"])
                for c in reversed(constraints):
                    await conn.execute(
                        f"ALTER TABLE {c['tbl']} ADD CONSTRAINT {c['conname']} {c['def']}"
                    )
        finally:
            await conn.close()

    async def settle(self) -> None:
        """VACUUM ANALYZE, as autovacuum would have done by the time the rows are old."""
        conn = await asyncpg.connect(self.dsn)
        try:
            for table in metadata.sorted_tables:
                await conn.execute(f"VACUUM ANALYZE {table.name}")
        finally:
            await conn.close()

    async def snapshot(self, users_n: int) -> str:
        """A copy of the database as it is now: the URL to measure this size at."""
        copy = f"{self.database}_{size_label(users_n).lower()}"
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {copy}")
            for attempt in range(20):
                try:
                    await conn.execute(f"CREATE DATABASE {copy} TEMPLATE {self.database}")
                    break
                except asyncpg.ObjectInUseError:  # an autovacuum worker is in there
                    if attempt == 19:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await conn.close()
        self.copies.append(copy)
        return sa.make_url(self.url).set(database=copy).render_as_string(hide_password=False)

    async def explain(self, sql: str, args: Sequence[Any]) -> list[str]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return [str(row[0]) for row in await conn.fetch(self.explain_prefix + sql, *args)]
        finally:
            await conn.close()

    async def drop(self, *, keep_main: bool = False) -> None:
        """Drop the copies, and unless ``keep_main`` the grown tables too."""
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            for copy in self.copies:
                await conn.execute(f"DROP DATABASE IF EXISTS {copy} WITH (FORCE)")
        finally:
            await conn.close()
        self.copies = []
        if not keep_main:
            await self.reset()


Backend = SqliteBackend | PostgresBackend
