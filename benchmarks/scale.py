"""Sign-in and session lookups as the tables grow: latency must stay flat (index lookups).

    .venv/bin/python benchmarks/scale.py [--sizes 10k 100k 1m] [--backend sqlite postgres]
        [--ops 3000] [--rounds 3] [--concurrency 1 8] [--postgres URL] [--sqlite-path FILE]

One database per backend grows through the sizes: N users (a user row, a password
credential and a ``local`` provider link each) and 10 x N sessions, 30% of them
expired. Rows are bulk-loaded on the bare driver (``executemany`` on sqlite3, COPY via
asyncpg's ``copy_records_to_table`` on PostgreSQL) into the tables the store created,
so the 1M step only adds the 900k users it lacks. Keys are derived from the row number
(user ``i``, session ``j`` of user ``j // 10``), so random keys can be drawn at every
size without keeping ten million strings in memory.

At each size, through an ``SQLAlchemyAuthStore`` with every default (as an app makes
it), this measures ``get_login("local", email)`` (the sign-in's database read) and
``get_session_user(session_id)`` (every signed-in request) on random existing and
missing keys, one at a time and from 8 tasks: p50/p99 latency and ops/s, and each
figure's ratio to the first size's (flat = ~1.0x). As a control for the machine's
speed, which other processes change during a run, it also times ``SELECT 1`` on the
bare driver at each size. Then it prints the query plans of the hot queries.

PostgreSQL: ``--postgres URL`` uses (and empties) exactly that database; without it,
the server of $PYWIRE_AUTH_TEST_POSTGRES_URL with a database ``pywire_auth_bench_scale``
of its own (created if missing; never the tests' database). Its tables are dropped at
the end unless ``--keep``. SQLite: a file in a temporary directory, or ``--sqlite-path``
(replaced). The full run (10k, 100k, 1M on both) takes about 10-15 minutes on 2 cores
and needs about 5 GB of disk on each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import sqlalchemy as sa

from pywire_auth import SQLAlchemyAuthStore
from pywire_auth.stores import _sql_queries
from pywire_auth.stores._schema import credentials, metadata, provider_links, sessions, users

POSTGRES_ENV = "PYWIRE_AUTH_TEST_POSTGRES_URL"
BENCH_DB = "pywire_auth_bench_scale"
SESSIONS_PER_USER = 10
EXPIRED_PER_10 = 3  # of each user's 10 sessions, 3 have expired
BATCH = 20_000  # users per bulk insert (and 10 x as many sessions)
COMMIT_EVERY = 10  # SQLite: batches per transaction
NOW = 1_790_000_000  # a fixed "now" (2026): the data do not depend on the clock
DAY = 86_400
# A well-formed but fake hash: this benchmark measures the database path, not Argon2.
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
CLAIMS = json.dumps({"role": ["member"], "locale": "en"})
LINK_CLAIMS = json.dumps({"email_verified": True})

# Synthetic but realistic identities ----------------------------------------------------

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
MISSING = 10**9  # row numbers from here on were never inserted


def email(i: int) -> str:
    """User ``i``'s email (normalized: lower case, as the local provider stores it)."""
    first = FIRST[i % len(FIRST)]
    last = LAST[(i // len(FIRST)) % len(LAST)]
    return f"{first}.{last}{i}@{DOMAINS[(i * 7) % len(DOMAINS)]}"


def full_name(i: int) -> str:
    return f"{FIRST[i % len(FIRST)].title()} {LAST[(i // len(FIRST)) % len(LAST)].title()}"


# 2**256 / golden ratio, odd: j -> j * _SPREAD mod 2**256 is a bijection whose values
# spread like random ones (Fibonacci hashing), at a tenth of the cost of SHA-256.
_SPREAD = (math.isqrt(5 << 512) - (1 << 256)) // 2 | 1
_MASK = (1 << 256) - 1
_MASK128 = (1 << 128) - 1


def user_id(i: int) -> str:
    """A version-4 UUID, fixed for row ``i`` (see ``_SPREAD``)."""
    h = f"{(i + 1) * _SPREAD >> 128 & _MASK128:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def session_id(j: int) -> str:
    """Session ``j``'s id: 64 hex digits, as the SHA-256 ids of ``SessionManager``."""
    return f"{(j + 1) * _SPREAD & _MASK:064x}"


def sessions_of(i: int, uid: str) -> list[tuple[str, str, int, int]]:
    """User ``i``'s sessions: ``j`` from ``10 i`` to ``10 i + 9``, the first 3 expired."""
    first = i * SESSIONS_PER_USER
    rows = []
    for j in range(first, first + SESSIONS_PER_USER):
        created = NOW - (j * 7919) % (30 * DAY)
        expired = j - first < EXPIRED_PER_10
        expires = NOW - 1 - (j % 997) if expired else created + 14 * DAY + 3600
        rows.append((f"{(j + 1) * _SPREAD & _MASK:064x}", uid, created, expires))
    return rows


TABLES = {"users": users, "credentials": credentials, "links": provider_links, "sessions": sessions}


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


# Backends: bulk loading, a bare-driver control, plans ------------------------------


class SqliteBackend:
    name = "SQLite"
    explain_prefix = "EXPLAIN QUERY PLAN "

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite+aiosqlite:///{path}"
        self.control: aiosqlite.Connection | None = None

    async def reset(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - setup

    async def grow(self, first: int, end: int) -> None:
        """executemany into the store's tables, indexes in place (they grow as an app's do).

        A bulk load's settings, on this connection only: no journal (the benchmark
        has nothing to roll back) and a page cache that holds the indexes, where the
        store's WAL would rewrite every index page each random insert touched at
        every commit. WAL mode is back on before the store opens the file.
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

    async def open_control(self) -> None:
        self.control = await aiosqlite.connect(self.path)

    async def select_one(self) -> Any:
        assert self.control is not None
        return next(iter(await self.control.execute_fetchall("SELECT 1")))

    async def explain(self, sql: str, args: Sequence[Any]) -> list[str]:
        assert self.control is not None
        plan = await self.control.execute_fetchall(self.explain_prefix + sql, tuple(args))
        return [str(row[-1]) for row in plan]

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
            self.control = None

    async def drop(self) -> None:
        await self.reset()


class PostgresBackend:
    name = "PostgreSQL"
    explain_prefix = "EXPLAIN "

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
        self.control: Any = None

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

    async def open_control(self) -> None:
        self.control = await asyncpg.connect(self.dsn)

    async def select_one(self) -> Any:
        return await self.control.fetchrow("SELECT 1")

    async def explain(self, sql: str, args: Sequence[Any]) -> list[str]:
        return [str(row[0]) for row in await self.control.fetch(self.explain_prefix + sql, *args)]

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
            self.control = None

    async def drop(self) -> None:
        await self.reset()


Backend = SqliteBackend | PostgresBackend


# Measuring ---------------------------------------------------------------------------


@dataclass
class Figures:
    """One case at one size: latencies of every round pooled, ops/s per round."""

    latencies: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


Lookup = Callable[[str], Awaitable[Any]]


async def timed(op: Lookup, keys: list[str], concurrency: int, found: bool) -> Figures:
    """Run ``op`` on every key from ``concurrency`` tasks; each answer is checked."""
    figures = Figures()

    async def worker(chunk: list[str]) -> None:
        clock = time.perf_counter
        for key in chunk:
            start = clock()
            answer = await op(key)
            figures.latencies.append(clock() - start)
            assert (answer is not None) == found, f"{key!r}: expected found={found}"

    gc.collect()
    start = time.perf_counter()
    await asyncio.gather(*(worker(keys[w::concurrency]) for w in range(concurrency)))
    figures.rates.append(len(keys) / (time.perf_counter() - start))
    return figures


@dataclass(frozen=True)
class Case:
    lookup: str  # "get_login" or "get_session_user"
    found: bool
    concurrency: int

    @property
    def label(self) -> str:
        return f"`{self.lookup}` | {'existing' if self.found else 'missing'} | {self.concurrency}"


def draw_keys(case: Case, users_n: int, count: int, rnd: random.Random) -> list[str]:
    if case.lookup == "get_login":
        pick = (
            (lambda: rnd.randrange(users_n))
            if case.found
            else (lambda: MISSING + rnd.randrange(users_n))
        )
        return [email(pick()) for _ in range(count)]
    sessions_n = users_n * SESSIONS_PER_USER
    offset = 0 if case.found else MISSING
    return [session_id(offset + rnd.randrange(sessions_n)) for _ in range(count)]


async def measure_size(
    backend: Backend, users_n: int, cases: list[Case], args: argparse.Namespace
) -> tuple[dict[Case, Figures], Figures]:
    store = SQLAlchemyAuthStore(backend.url)  # every default, as an app would make it
    ops: dict[str, Lookup] = {
        "get_login": lambda key: store.get_login("local", key),
        "get_session_user": store.get_session_user,
    }
    results = {case: Figures() for case in cases}
    control = Figures()
    rnd = random.Random(users_n)
    await backend.open_control()
    try:
        # Warm-up: opens the pool's and the reader's connections, prepares statements.
        for case in cases:
            await timed(ops[case.lookup], draw_keys(case, users_n, 300, rnd), 8, case.found)
        for r in range(args.rounds):
            # Rotate the order each round, so drift of the machine's speed spreads evenly.
            order = cases[r % len(cases) :] + cases[: r % len(cases)]
            for case in order:
                keys = draw_keys(case, users_n, args.ops, rnd)
                got = await timed(ops[case.lookup], keys, case.concurrency, case.found)
                results[case].latencies += got.latencies
                results[case].rates += got.rates
            got = await timed(lambda _key: backend.select_one(), [""] * args.ops, 1, True)
            control.latencies += got.latencies
            control.rates += got.rates
    finally:
        await backend.close()
        await store.close()
    return results, control


async def print_plans(backend: Backend, users_n: int) -> None:
    store = SQLAlchemyAuthStore(backend.url, create_tables=False)
    dialect = store.engine.dialect  # the SQL text the store compiles for this database
    await store.close()
    queries = {
        "get_login (provider_links JOIN users LEFT JOIN credentials)": (
            _sql_queries.LOGIN_QUERY,
            {"provider": "local", "subject": email(users_n // 2)},
        ),
        "get_session_user (sessions JOIN users)": (
            _sql_queries.SESSION_USER_QUERY,
            {"session_id": session_id(users_n // 2)},
        ),
    }
    await backend.open_control()
    try:
        print(
            f"\n{backend.name} query plans ({backend.explain_prefix.strip()}), {users_n:,} users:"
        )
        for label, (query, params) in queries.items():
            compiled = query.compile(dialect=dialect)
            args = [params[name] for name in compiled.positiontup or ()]
            lines = await backend.explain(str(compiled), args)
            scan = any(line.startswith("SCAN ") or "Seq Scan" in line for line in lines)
            print(f"  {label}:{'  <- WARNING: full scan' if scan else ''}")
            for line in lines:
                print(f"    {line}")
    finally:
        await backend.close()


# Reporting -----------------------------------------------------------------------------


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def print_table(
    backend: Backend, table: dict[int, dict[Case, Figures]], controls: dict[int, Figures]
) -> None:
    sizes = list(table)
    base = sizes[0]
    head = " | ".join(f"{size_label(n)} p50 / p99 µs | {size_label(n)} ops/s" for n in sizes)
    print(f"\n{backend.name}: users (sessions = 10 x users); ratios are to {size_label(base)}")
    print(f"| lookup | keys | c | {head} |")
    print("| --- | --- | --- |" + " --- | --- |" * len(sizes))
    for case in table[base]:
        cells = []
        for n in sizes:
            f, b = table[n][case], table[base][case]
            lat = f"{f.p(0.5):,.0f} / {f.p(0.99):,.0f}"
            ops = f"{f.rate:,.0f}"
            if n != base:
                lat += f" ({f.p(0.5) / b.p(0.5):.2f}x / {f.p(0.99) / b.p(0.99):.2f}x)"
                ops += f" ({f.rate / b.rate:.2f}x)"
            cells += [lat, ops]
        print(f"| {case.label} | {' | '.join(cells)} |")
    control = ", ".join(
        f"{size_label(n)} {c.p(0.5):.0f} µs ({c.p(0.5) / controls[base].p(0.5):.2f}x)"
        for n, c in controls.items()
    )
    print(f"control, `SELECT 1` on the bare driver, p50 (machine speed at each size): {control}")


# Running -------------------------------------------------------------------------------


async def run_backend(backend: Backend, args: argparse.Namespace) -> None:
    print(f"\n{backend.name}: filling {backend.url.split('@')[-1]}", flush=True)
    await backend.reset()
    store = SQLAlchemyAuthStore(backend.url)
    try:
        await store.create_tables()  # the store's own schema
    finally:
        await store.close()
    cases = [
        Case(lookup, found, c)
        for lookup in ("get_login", "get_session_user")
        for found in (True, False)
        for c in args.concurrency
    ]
    table: dict[int, dict[Case, Figures]] = {}
    controls: dict[int, Figures] = {}
    have = 0
    try:
        for n in args.sizes:
            started = time.perf_counter()
            await backend.grow(have, n)
            loaded = time.perf_counter() - started
            await backend.settle()
            added = (n - have) * (3 + SESSIONS_PER_USER)
            print(
                f"  {size_label(n)} users / {size_label(n * SESSIONS_PER_USER)} sessions: "
                f"+{added:,} rows in {loaded:.0f} s ({added / loaded:,.0f} rows/s), "
                f"settled in {time.perf_counter() - started - loaded:.0f} s; measuring...",
                flush=True,
            )
            have = n
            table[n], controls[n] = await measure_size(backend, n, cases, args)
        print_table(backend, table, controls)
        await print_plans(backend, have)
    finally:
        if not args.keep:
            await backend.drop()


async def bench_database_url(url: str) -> str:
    """This benchmark's own database on the server of ``url`` (created if missing)."""
    parsed = sa.make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DB):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent run
                await conn.execute(f"CREATE DATABASE {BENCH_DB}")
    finally:
        await conn.close()
    return parsed.set(database=BENCH_DB).render_as_string(hide_password=False)


async def run(args: argparse.Namespace) -> None:
    print(
        f"scale: sizes {[size_label(n) for n in args.sizes]} users x {SESSIONS_PER_USER} "
        f"sessions; {args.rounds} rounds x {args.ops} random keys per case; concurrency "
        f"{args.concurrency}; {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    if "sqlite" in args.backend:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(args.sqlite_path) if args.sqlite_path else Path(tmp) / "scale.db"
            await run_backend(SqliteBackend(path), args)
    if "postgres" in args.backend:
        url = args.postgres
        if not url and os.environ.get(POSTGRES_ENV):
            url = await bench_database_url(os.environ[POSTGRES_ENV])
        if url:
            await run_backend(PostgresBackend(url), args)
        else:
            print(f"\nPostgreSQL: skipped; set {POSTGRES_ENV} or pass --postgres URL")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


def count(text: str) -> int:
    """``10k`` / ``1m`` / ``250000`` as a number."""
    scale = {"k": 1000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=count, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--ops", type=int, default=3000, help="random keys per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--postgres", metavar="URL", help="use (and empty) exactly this database")
    parser.add_argument("--sqlite-path", metavar="FILE", help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="leave the filled tables in place")
    args = parser.parse_args(argv)
    if args.sizes != sorted(set(args.sizes)):
        parser.error("--sizes must grow: 10k 100k 1m")
    return args


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
