"""Sign-in and session lookups as the tables grow: latency must stay flat (index lookups).

    .venv/bin/python benchmarks/scale.py [--sizes 10k 100k 1m] [--backend sqlite postgres]
        [--ops 1000] [--rounds 5] [--concurrency 1 8] [--postgres URL] [--sqlite-path FILE]

One database per backend grows through the sizes: N users (a user row, a password
credential and a ``local`` provider link each) and 10 x N sessions, 3 in 10 of them
expired. Rows are bulk-loaded on the bare driver (``executemany`` on sqlite3, COPY via
asyncpg's ``copy_records_to_table`` on PostgreSQL) into the tables the store created,
so the 1M step adds only the 900k users it lacks (see ``_scale_data.py``). After each
step but the last, a copy of the database keeps that size.

Then, through an ``SQLAlchemyAuthStore`` with every default per size (as an app makes
it), it measures ``get_login("local", email)`` (the sign-in's database read) and
``get_session_user(session_id)`` (every signed-in request) on random existing and
missing keys, one at a time and from 8 tasks: p50/p99 latency and ops/s. The sizes are
measured back to back in each round (order rotated), and each figure's ratio to the
smallest size is the median of the per-round ratios, so other processes slowing the
machine down hit every size alike (flat = ~1.0x). Last, the query plans of the two
lookups at the largest size.

PostgreSQL: ``--postgres URL`` uses (and empties) exactly that database; without it,
the server of $PYWIRE_AUTH_TEST_POSTGRES_URL with a database ``pywire_auth_bench_scale``
of its own (created if missing; never the tests' database). The copies are databases
named after it (``..._10k``), made with ``CREATE DATABASE ... TEMPLATE`` (the role needs
CREATEDB). Copies are dropped at the end, and the grown tables too unless ``--keep``.
SQLite: a file in a temporary directory, or ``--sqlite-path`` (replaced). The full run
takes about 10 minutes on 2 idle cores, and 4-5 GB of disk per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from _scale_data import (
    MISSING,
    SESSIONS_PER_USER,
    Backend,
    PostgresBackend,
    SqliteBackend,
    email,
    session_id,
    size_label,
)

from pywire_auth import SQLAlchemyAuthStore
from pywire_auth.stores import _sql_queries

POSTGRES_ENV = "PYWIRE_AUTH_TEST_POSTGRES_URL"
BENCH_DB = "pywire_auth_bench_scale"
WARM_UP = 300  # lookups per case and size before measuring

Lookup = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    lookup: str  # "get_login" or "get_session_user"
    found: bool
    concurrency: int

    @property
    def label(self) -> str:
        return f"`{self.lookup}` | {'existing' if self.found else 'missing'} | {self.concurrency}"


@dataclass
class Figures:
    """One case at one size: each round's latencies (seconds) and ops/s."""

    latencies: list[list[float]] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    def p(self, q: float, rnd: int | None = None) -> float:
        """The ``q`` quantile in microseconds, of one round or of all pooled."""
        pool = self.latencies[rnd] if rnd is not None else list(itertools.chain(*self.latencies))
        ordered = sorted(pool)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def ratio(f: Figures, base: Figures, metric: Callable[[Figures, int], float]) -> float:
    """Median over rounds of ``metric(f) / metric(base)``, each pair measured back to back."""
    return statistics.median(metric(f, r) / metric(base, r) for r in range(len(f.rates)))


async def timed(
    op: Lookup, keys: list[str], concurrency: int, found: bool
) -> tuple[list[float], float]:
    """Run ``op`` on every key from ``concurrency`` tasks; latencies and ops/s.

    Each answer is checked: an existing key must find its row, a missing one none.
    """
    latencies: list[float] = []

    async def worker(chunk: list[str]) -> None:
        clock = time.perf_counter
        for key in chunk:
            start = clock()
            answer = await op(key)
            latencies.append(clock() - start)
            assert (answer is not None) == found, f"{key!r}: expected found={found}"

    gc.collect()
    start = time.perf_counter()
    await asyncio.gather(*(worker(keys[w::concurrency]) for w in range(concurrency)))
    return latencies, len(keys) / (time.perf_counter() - start)


def draw_keys(case: Case, users_n: int, count: int, rnd: random.Random) -> list[str]:
    """Uniformly random keys over the whole table, or keys that were never inserted."""
    offset = 0 if case.found else MISSING
    if case.lookup == "get_login":
        return [email(offset + rnd.randrange(users_n)) for _ in range(count)]
    sessions_n = users_n * SESSIONS_PER_USER
    return [session_id(offset + rnd.randrange(sessions_n)) for _ in range(count)]


def lookups(store: SQLAlchemyAuthStore) -> dict[str, Lookup]:
    async def get_login(key: str) -> Any:
        return await store.get_login("local", key)

    return {"get_login": get_login, "get_session_user": store.get_session_user}


async def measure(
    urls: dict[int, str], cases: list[Case], args: argparse.Namespace
) -> dict[int, dict[Case, Figures]]:
    """Every case at every size, the sizes back to back, for ``args.rounds`` rounds."""
    stores = {n: SQLAlchemyAuthStore(url) for n, url in urls.items()}  # every default
    ops = {n: lookups(store) for n, store in stores.items()}
    results = {n: {case: Figures() for case in cases} for n in urls}
    rnd = random.Random(7)
    sizes = list(urls)
    try:
        # Opens the pools' and readers' connections and prepares the statements.
        for n in sizes:
            for case in cases:
                keys = draw_keys(case, n, WARM_UP, rnd)
                await timed(ops[n][case.lookup], keys, 8, case.found)
        for r in range(args.rounds):
            order = sizes[r % len(sizes) :] + sizes[: r % len(sizes)]
            for case in cases[r % len(cases) :] + cases[: r % len(cases)]:
                for n in order:
                    keys = draw_keys(case, n, args.ops, rnd)
                    got, rate = await timed(ops[n][case.lookup], keys, case.concurrency, case.found)
                    results[n][case].latencies.append(got)
                    results[n][case].rates.append(rate)
            print(f"    round {r + 1}/{args.rounds} done", flush=True)
    finally:
        for store in stores.values():
            await store.close()
    return results


def print_table(name: str, results: dict[int, dict[Case, Figures]]) -> None:
    sizes = list(results)
    base = sizes[0]
    head = " | ".join(f"{size_label(n)} p50 / p99 µs | {size_label(n)} ops/s" for n in sizes)
    print(
        f"\n{name} (sessions = {SESSIONS_PER_USER} x users; (x) = median per-round ratio "
        f"to {size_label(base)}):"
    )
    print(f"| lookup | keys | c | {head} |")
    print("| --- | --- | --- |" + " --- | --- |" * len(sizes))
    for case in results[base]:
        cells = []
        for n in sizes:
            f, b = results[n][case], results[base][case]
            lat = f"{f.p(0.5):,.0f} / {f.p(0.99):,.0f}"
            ops = f"{f.rate:,.0f}"
            if n != base:
                p50 = ratio(f, b, lambda x, r: x.p(0.5, r))
                p99 = ratio(f, b, lambda x, r: x.p(0.99, r))
                lat += f" ({p50:.2f}x / {p99:.2f}x)"
                ops += f" ({ratio(f, b, lambda x, r: x.rates[r]):.2f}x)"
            cells += [lat, ops]
        print(f"| {case.label} | {' | '.join(cells)} |")


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
    how = backend.explain_prefix.strip()
    print(f"\n{backend.name} query plans ({how}), {users_n:,} users:")
    for label, (query, params) in queries.items():
        compiled = query.compile(dialect=dialect)
        args = [params[name] for name in compiled.positiontup or ()]
        lines = await backend.explain(str(compiled), args)
        scan = any(line.startswith("SCAN ") or "Seq Scan" in line for line in lines)
        print(f"  {label}:{'  <- WARNING: full scan' if scan else ''}")
        for line in lines:
            print(f"    {line}")


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
    urls: dict[int, str] = {}
    have = 0
    try:
        for n in args.sizes:
            started = time.perf_counter()
            await backend.grow(have, n)
            loaded = time.perf_counter() - started
            await backend.settle()
            urls[n] = backend.url if n == args.sizes[-1] else await backend.snapshot(n)
            added = (n - have) * (3 + SESSIONS_PER_USER)
            print(
                f"  {size_label(n)} users / {size_label(n * SESSIONS_PER_USER)} sessions: "
                f"+{added:,} rows in {loaded:.0f} s ({added / loaded:,.0f} rows/s), settled "
                f"and copied in {time.perf_counter() - started - loaded:.0f} s",
                flush=True,
            )
            have = n
        print("  measuring...", flush=True)
        started = time.perf_counter()
        results = await measure(urls, cases, args)
        print(f"  measured in {time.perf_counter() - started:.0f} s")
        print_table(backend.name, results)
        await print_plans(backend, have)
    finally:
        await backend.drop(keep_main=args.keep)


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
        f"scale: {[size_label(n) for n in args.sizes]} users x {SESSIONS_PER_USER} sessions; "
        f"{args.rounds} rounds x {args.ops} random keys per case and size; concurrency "
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
    unit = {"k": 1000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if unit > 1 else text) * unit)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=count, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--ops", type=int, default=1000, help="random keys per case, size, round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--postgres", metavar="URL", help="use (and empty) exactly this database")
    parser.add_argument("--sqlite-path", metavar="FILE", help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="leave the largest database filled")
    args = parser.parse_args(argv)
    if args.sizes != sorted(set(args.sizes)):
        parser.error("--sizes must grow: 10k 100k 1m")
    return args


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
