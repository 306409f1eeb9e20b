"""Login and token->principal lookups: the store against the raw driver running the same SQL.

    .venv/bin/python benchmarks/db_path.py [--users 1000] [--seconds 0.2] [--rounds 5]
        [--concurrency 1 16] [--postgres URL | --no-postgres] [--variants]

PostgreSQL runs when PYWIRE_AUTH_TEST_POSTGRES_URL is set (start the server with
``eval "$(bash scripts/services/postgres.sh start)"``) or ``--postgres URL`` is given.
The benchmark never touches the tests' database: it creates (once) and uses its own
database ``pywire_auth_bench`` on that server, and empties it at each run.

Prints, measured in this run on this machine, for SQLite (a file in a temp dir) and
PostgreSQL, at each concurrency:
  * library ops/s of ``store.get_login``, ``store.get_session_user``,
    ``SessionManager.load_with_user`` + ``principal_for`` (the middleware's lookup
    without HTTP) and ``LocalIdP.principal_from_id_token`` (JWT verify + user row);
  * the raw baseline: the same SQL text, compiled by SQLAlchemy for the dialect, run
    with bare aiosqlite (a pool of connections as large as SQLAlchemy's) or an
    ``asyncpg.create_pool`` of the same size (statements prepared and cached by
    asyncpg), at the same concurrency; for JWTs, joserfc's verify + json.loads first;
  * library/raw as the median of per-round ratios, rounds interleaved A/B, B/A, ...
    so drift of the machine's speed cancels (goal >= 0.5), with the event loop's CPU
    time per lookup and the connections the library's pool opened while measured;
  * driver round trips per lookup, and the query plans of the lookups (primary keys).

``--variants`` adds, for diagnosis, the same store on engines configured otherwise
(bigger pool, no ``pool_pre_ping``, AUTOCOMMIT reads), passed in through the
public ``SQLAlchemyAuthStore(engine)`` API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import sqlalchemy as sa
from joserfc import jws
from joserfc.jwk import OctKey
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pywire_auth import LocalIdP, ProviderLink, SQLAlchemyAuthStore, UserRecord
from pywire_auth.local.principal import principal_for
from pywire_auth.sessions import SessionConfig, SessionManager
from pywire_auth.stores import _sql_engine, _sql_queries
from pywire_auth.stores._schema import metadata

BENCH_DB = "pywire_auth_bench"
POSTGRES_ENV = "PYWIRE_AUTH_TEST_POSTGRES_URL"
SECRET = "00c87aa339e388427f7903432f92a47f"
SESSION_SECRET = "49e8e8707390d96c2dd334c83175e5f4"
# A well-formed but fake hash: this benchmark measures the database path, not Argon2.
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
# What principal_from_id_token runs (store.get_user), as one reusable statement.
USER_BY_ID_QUERY = _sql_queries.USER_QUERY
GOAL = 0.5

Op = Callable[[int], Awaitable[Any]]


@dataclass
class Dataset:
    user_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # session tokens, as in the cookie
    jwts: list[str] = field(default_factory=list)


@dataclass
class Result:
    backend: str
    name: str
    concurrency: int
    library: float
    raw: float
    ratio: float


# Raw drivers ----------------------------------------------------------------------


class Compiled:
    """A SQLAlchemy query as the exact SQL text and parameter order the dialect sends."""

    def __init__(self, query: sa.Select[Any], dialect: sa.Dialect) -> None:
        compiled = query.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup or [])

    def args(self, **values: Any) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.order)


class RawSqlite:
    """Bare aiosqlite: a fixed pool of open connections handed out through a queue."""

    def __init__(self, path: str, size: int) -> None:
        self.path, self.size = path, size
        self.idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self.conns: list[aiosqlite.Connection] = []

    async def open(self) -> None:
        for _ in range(self.size):
            conn = await aiosqlite.connect(self.path)
            self.conns.append(conn)
            self.idle.put_nowait(conn)

    async def fetchone(self, sql: str, args: tuple[Any, ...]) -> Any:
        conn = await self.idle.get()
        try:
            # aiosqlite's fastest read: execute, fetch and close in one thread
            # hand-off, the same call the store's hot path makes.
            rows = list(await conn.execute_fetchall(sql, args))
            return rows[0] if rows else None
        finally:
            self.idle.put_nowait(conn)

    async def fetch_all(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        conn = await self.idle.get()
        try:
            return list(await conn.execute_fetchall(sql, args))
        finally:
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self.conns:
            await conn.close()


class RawAsyncpg:
    """Bare asyncpg: ``create_pool``; ``fetchrow`` prepares and caches the statement."""

    def __init__(self, dsn: str, size: int) -> None:
        self.dsn, self.size = dsn, size
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.size)

    async def fetchone(self, sql: str, args: tuple[Any, ...]) -> Any:
        return await self.pool.fetchrow(sql, *args)

    async def fetch_all(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        return list(await self.pool.fetch(sql, *args))

    async def close(self) -> None:
        await self.pool.close()


Raw = RawSqlite | RawAsyncpg


# Measuring ------------------------------------------------------------------------


async def rate(
    op: Op, count: int, concurrency: int, seconds: float, seed: int
) -> tuple[float, float]:
    """Ops/s of ``op(random index)`` run by ``concurrency`` tasks for ``seconds``, and
    the CPU time the event loop's thread spent per op (in microseconds)."""
    done = [0] * concurrency

    async def worker(w: int) -> None:
        rnd = random.Random(seed * 1000 + w)
        n = 0
        while time.perf_counter() < deadline:
            await op(rnd.randrange(count))
            n += 1
        done[w] = n

    gc.collect()
    cpu = time.thread_time()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - start
    total = max(1, sum(done))
    return total / elapsed, (time.thread_time() - cpu) / total * 1e6


class ConnectCounter:
    """Counts the connections an engine's pool opens (QueuePool overflow churn)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine.pool, "connect", self._connected)

    def _connected(self, *_args: Any) -> None:
        self.count += 1


async def compare(
    backend: str,
    name: str,
    library: Op,
    raw: Op,
    count: int,
    concurrency: int,
    args: argparse.Namespace,
    connects: ConnectCounter | None = None,
) -> Result:
    # Warm-up: opens connections, prepares statements, caches compiled SQL.
    for op in (library, raw):
        assert await op(0) is not None, f"{name}: lookup found nothing"
        await rate(op, count, concurrency, args.seconds / 2, seed=0)
    libs, raws, ratios, lib_cpu, raw_cpu = [], [], [], [], []
    opened = connects.count if connects else 0
    for r in range(args.rounds):
        # A/B then B/A: a steady drift of the machine's speed hits both sides alike.
        sides = [(library, libs, lib_cpu), (raw, raws, raw_cpu)]
        for op, rates, cpus in sides if r % 2 == 0 else sides[::-1]:
            ops, cpu = await rate(op, count, concurrency, args.seconds, seed=r + 1)
            rates.append(ops)
            cpus.append(cpu)
        ratios.append(libs[-1] / raws[-1])
    opened = (connects.count - opened) if connects else 0
    result = Result(
        backend,
        name,
        concurrency,
        statistics.median(libs),
        statistics.median(raws),
        statistics.median(ratios),
    )
    print(
        f"  {name:<44} c={concurrency:<3} library {result.library:>7,.0f}/s "
        f"({statistics.median(lib_cpu):>4.0f} us loop CPU/op, {opened:>2} new conns)  "
        f"raw {result.raw:>7,.0f}/s ({statistics.median(raw_cpu):>4.0f} us)  "
        f"= {result.ratio:.2f} x raw [{min(ratios):.2f}..{max(ratios):.2f}]",
        flush=True,
    )
    return result


class RoundTrips:
    """Counts a lookup's trips to the database: thread hops of aiosqlite (each a hand-off
    to the connection's thread and back), or socket writes to PostgreSQL (asyncpg sends
    each request of a request/response exchange in one write)."""

    @staticmethod
    def unit(backend: str) -> str:
        return "aiosqlite thread hops" if backend == "sqlite" else "socket writes to the server"

    @staticmethod
    async def per_call(backend: str, op: Op, calls: int = 50) -> float:
        await op(0)  # connection open, statement prepared
        count = 0
        owner: Any
        if backend == "sqlite":
            owner, attr = aiosqlite.Connection, "_execute"
            original = owner._execute

            async def counted(self: Any, *a: Any, **k: Any) -> Any:
                nonlocal count
                count += 1
                return await original(self, *a, **k)

        else:
            from asyncio import selector_events

            owner, attr = selector_events._SelectorSocketTransport, "write"
            original = owner.write

            def counted(self: Any, *a: Any, **k: Any) -> Any:  # type: ignore[misc]
                nonlocal count
                count += 1
                return original(self, *a, **k)

        setattr(owner, attr, counted)
        try:
            for i in range(calls):
                await op(i)
        finally:
            setattr(owner, attr, original)
        return count / calls


# Setting up -----------------------------------------------------------------------


async def populate(url: str, idp: LocalIdP, n: int) -> Dataset:
    """N users with a (fake) password hash, a session and a JWT each, via the store API.

    Written through a store of its own (the measured one keeps every default): on
    SQLite without fsync on commit and one write at a time (SQLite has one writer;
    concurrent ones only wait for its lock); on PostgreSQL 16 at a time.
    """
    engine = create_async_engine(url, pool_size=16)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        event.listen(engine.sync_engine, "connect", _no_fsync)
    store = SQLAlchemyAuthStore(engine)
    sessions = SessionManager(store, SESSION_SECRET)
    data = Dataset()

    async def one(i: int) -> tuple[str, str, str, str]:
        uid = str(uuid.uuid4())
        email = f"user{i:05d}@bench.example"
        user = UserRecord(uid, email, name=f"User {i}", claims={"role": ["member", "reader"]})
        link = ProviderLink("local", email, uid)
        await store.create_user(user, link=link, pw_hash=FAKE_HASH)
        token = await sessions.start(uid)
        return uid, email, token, idp.issue_id_token(user_id=uid)

    batch = 1 if sqlite else 16
    try:
        for first in range(0, n, batch):
            for uid, email, token, jwt in await asyncio.gather(
                *(one(i) for i in range(first, min(n, first + batch)))
            ):
                data.user_ids.append(uid)
                data.emails.append(email)
                data.tokens.append(token)
                data.jwts.append(jwt)
    finally:
        await engine.dispose()
    return data


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=OFF")
    finally:
        cursor.close()


async def bench_database_url(url: str) -> str:
    """Create (if missing) this benchmark's own database on the server of ``url``."""
    import asyncpg

    parsed = sa.make_url(url)
    conn = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    )
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DB):
            # Another run may create it meanwhile.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {BENCH_DB}")
    finally:
        await conn.close()
    return parsed.set(database=BENCH_DB).render_as_string(hide_password=False)


def pool_capacity(engine: AsyncEngine) -> tuple[int, int]:
    """(pool_size, max_overflow) of the engine's QueuePool."""
    pool = engine.pool
    size = pool.size() if hasattr(pool, "size") else 5
    return int(size), int(getattr(pool, "_max_overflow", 0))


async def explain(backend: str, raw: Raw, queries: dict[str, tuple[Compiled, tuple[Any, ...]]]):
    print(f"  query plans ({'EXPLAIN QUERY PLAN' if backend == 'sqlite' else 'EXPLAIN'}):")
    prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    for label, (compiled, args) in queries.items():
        lines = [str(row[-1]) for row in await raw.fetch_all(prefix + compiled.sql, args)]
        full_scan = any(
            ("SCAN" in line and "USING" not in line) or "Seq Scan" in line for line in lines
        )
        print(f"    {label}:{'  <- WARNING: full scan' if full_scan else ''}")
        for line in lines:
            print(f"      {line}")


# One backend ----------------------------------------------------------------------


class Queries:
    def __init__(self, dialect: sa.Dialect) -> None:
        self.login = Compiled(_sql_queries.LOGIN_QUERY, dialect)
        self.session = Compiled(_sql_queries.SESSION_USER_QUERY, dialect)
        self.user = Compiled(USER_BY_ID_QUERY, dialect)


NAMES = {
    "login": "store.get_login",
    "session": "store.get_session_user",
    "session+principal": "sessions.load_with_user + principal_for",
    "jwt": "idp.principal_from_id_token",
}


def library_ops(store: SQLAlchemyAuthStore, data: Dataset, session_ids: list[str]) -> dict[str, Op]:
    idp = LocalIdP(store=store, secret=SECRET)
    # No session cache: this benchmark measures the store read every request made
    # before it (signed_in_overhead.py measures the cache over HTTP).
    manager = SessionManager(store, SESSION_SECRET, SessionConfig(cache_ttl=0))

    async def login(i: int) -> Any:
        return await store.get_login("local", data.emails[i])

    async def session(i: int) -> Any:
        return await store.get_session_user(session_ids[i])

    async def session_principal(i: int) -> Any:
        found = await manager.load_with_user(data.tokens[i])
        return principal_for(found[1]) if found else None

    async def jwt(i: int) -> Any:
        return await idp.principal_from_id_token(data.jwts[i])

    return {"login": login, "session": session, "session+principal": session_principal, "jwt": jwt}


def raw_ops(raw: Raw, q: Queries, data: Dataset, session_ids: list[str], key: Any) -> dict[str, Op]:
    async def login(i: int) -> Any:
        return await raw.fetchone(
            q.login.sql, q.login.args(provider="local", subject=data.emails[i])
        )

    async def session(i: int) -> Any:
        return await raw.fetchone(q.session.sql, q.session.args(session_id=session_ids[i]))

    async def session_from_token(i: int) -> Any:
        # The same work to find the row: the id is the token's SHA-256.
        sid = hashlib.sha256(data.tokens[i].encode()).hexdigest()
        return await raw.fetchone(q.session.sql, q.session.args(session_id=sid))

    async def jwt(i: int) -> Any:
        obj = jws.deserialize_compact(data.jwts[i], key, algorithms=["HS256"])
        claims = json.loads(obj.payload or b"")
        return await raw.fetchone(q.user.sql, q.user.args(user_id=claims["sub"]))

    return {"login": login, "session": session, "session+principal": session_from_token, "jwt": jwt}


async def run_backend(backend: str, url: str, raw: Raw, args: argparse.Namespace) -> list[Result]:
    print(f"\n{backend}:")
    store = SQLAlchemyAuthStore(url)  # every default, as an app would make it
    if backend == "postgres":
        # Our own database, but maybe left over from an earlier run: start empty.
        async with store.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    idp = LocalIdP(store=store, secret=SECRET)
    started = time.perf_counter()
    data = await populate(url, idp, args.users)
    if backend == "postgres":
        async with store.engine.connect() as conn:
            await conn.execute(sa.text("ANALYZE"))
            await conn.commit()
    size, overflow = pool_capacity(store.engine)
    print(
        f"  {args.users} users + sessions + JWTs written through the store in "
        f"{time.perf_counter() - started:.1f} s; library pool: QueuePool size {size} + "
        f"overflow {overflow}; raw pool: {raw.size} connections"
    )
    await raw.open()
    q = Queries(store.engine.dialect)
    session_ids = [SessionManager.session_id(t) for t in data.tokens]
    await explain(
        backend,
        raw,
        {
            "get_login (provider_links JOIN users LEFT JOIN credentials)": (
                q.login,
                q.login.args(provider="local", subject=data.emails[0]),
            ),
            "get_session_user (sessions JOIN users)": (
                q.session,
                q.session.args(session_id=session_ids[0]),
            ),
            "get_user (in principal_from_id_token)": (
                q.user,
                q.user.args(user_id=data.user_ids[0]),
            ),
        },
    )
    key = OctKey.import_key(SECRET.encode())  # the secret the IdP signs with
    lib = library_ops(store, data, session_ids)
    base = raw_ops(raw, q, data, session_ids, key)
    connects = ConnectCounter(store.engine)
    results = []
    n = len(data.user_ids)
    try:
        print(f"  round trips per lookup ({RoundTrips.unit(backend)}):")
        for op in NAMES:
            lib_trips = await RoundTrips.per_call(backend, lib[op])
            raw_trips = await RoundTrips.per_call(backend, base[op])
            print(f"    {NAMES[op]:<42} library {lib_trips:.1f}, raw {raw_trips:.1f}")
        print(
            f"  ops/s, median of {args.rounds} interleaved rounds of {args.seconds} s "
            f"(goal: library >= {GOAL} x raw):"
        )
        for op in NAMES:
            for concurrency in args.concurrency:
                result = await compare(
                    backend, NAMES[op], lib[op], base[op], n, concurrency, args, connects
                )
                results.append(result)
        if args.variants:
            keys = {"login": data.emails, "session": session_ids}
            results += await variants(backend, url, store, base, keys, args)
    finally:
        await raw.close()
        await idp.aclose()
    return results


async def variants(
    backend: str,
    url: str,
    store: SQLAlchemyAuthStore,
    base: dict[str, Op],
    keys: dict[str, list[str]],
    args: argparse.Namespace,
) -> list[Result]:
    """The same store on engines configured otherwise: where does the gap come from?"""
    connect_args = _sql_engine._DRIVER_ARGS.get(store.engine.dialect.driver, {})
    size, overflow = pool_capacity(store.engine)
    whole = {"pool_size": size + overflow, "max_overflow": 0}
    configs: dict[str, dict[str, Any]] = {
        f"pool_size={size + overflow}": {"pool_pre_ping": True, **whole},
        "no pre_ping": {"pool_pre_ping": False},
        f"pool_size={size + overflow}, no pre_ping, AUTOCOMMIT": {
            "pool_pre_ping": False,
            "isolation_level": "AUTOCOMMIT",
            **whole,
        },
    }
    print("  variants (diagnosis only: the same store on engines configured otherwise):")
    results = []
    for label, options in configs.items():
        engine = create_async_engine(url, connect_args=connect_args, **options)
        # The store registers its SQLite PRAGMAs on an engine it is given, too.
        variant = SQLAlchemyAuthStore(engine, create_tables=False)

        async def login(i: int, s: SQLAlchemyAuthStore = variant) -> Any:
            return await s.get_login("local", keys["login"][i])

        async def session(i: int, s: SQLAlchemyAuthStore = variant) -> Any:
            return await s.get_session_user(keys["session"][i])

        ops = {"login": login, "session": session}
        connects = ConnectCounter(engine)
        try:
            trips = await RoundTrips.per_call(backend, login)
            print(f"    [{label}]: {trips:.1f} {RoundTrips.unit(backend)} per lookup")
            for op, fn in ops.items():
                for concurrency in args.concurrency:
                    name = f"{NAMES[op]} [{label}]"
                    count = len(keys[op])
                    results.append(
                        await compare(
                            backend, name, fn, base[op], count, concurrency, args, connects
                        )
                    )
        finally:
            await engine.dispose()
    return results


async def run(args: argparse.Namespace) -> None:
    print(
        f"db_path: {args.users} users; {args.rounds} rounds x {args.seconds} s per side; "
        f"concurrency {args.concurrency}; {os.cpu_count()} CPUs"
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        size = sum(pool_capacity(create_async_engine(url)))
        results += await run_backend("sqlite", url, RawSqlite(path, size), args)
    pg_url = None if args.no_postgres else (args.postgres or os.environ.get(POSTGRES_ENV))
    if pg_url:
        url = await bench_database_url(pg_url)
        size = sum(pool_capacity(create_async_engine(url)))
        dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        results += await run_backend("postgres", url, RawAsyncpg(dsn, size), args)
    else:
        print(
            '\npostgres: skipped. Enable with: eval "$(bash scripts/services/postgres.sh start)"'
            f" (sets {POSTGRES_ENV}), or --postgres postgresql+asyncpg://USER:PW@HOST:PORT/DB"
        )
    print(f"\nsummary (library / raw driver, median of per-round ratios; goal >= {GOAL}):")
    for r in results:
        verdict = "met" if r.ratio >= GOAL else "MISSED"
        print(
            f"  {r.backend:<8} {r.name:<62} c={r.concurrency:<3} {r.library:>7,.0f}/s vs "
            f"{r.raw:>7,.0f}/s = {r.ratio:.2f}  {verdict}"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=0.2, help="per measurement and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--postgres", metavar="URL", help=f"default: ${POSTGRES_ENV}")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--variants", action="store_true", help="diagnostic engine variants")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
