"""Login and token->principal lookups: the store against the raw driver running the same SQL.

    .venv/bin/python benchmarks/db_path.py [--users 2000] [--seconds 0.4] [--rounds 3]
        [--concurrency 1 16] [--postgres URL | --no-postgres] [--variants]

PostgreSQL runs when PYWIRE_AUTH_TEST_POSTGRES_URL is set (start the server with
``eval "$(bash scripts/services/postgres.sh start)"``) or ``--postgres URL`` is given.
The benchmark never touches the tests' database: it creates (once) and uses its own
database ``pywire_auth_bench`` on that server.

Prints, measured in this run on this machine, for SQLite (a file in a temp dir) and
PostgreSQL, at each concurrency:
  * library ops/s of ``store.get_login``, ``store.get_session_user``,
    ``SessionManager.load_with_user`` + ``principal_for`` (the middleware's lookup
    without HTTP) and ``LocalIdP.principal_from_id_token`` (JWT verify + user);
  * the raw baseline: the same SQL text, compiled by SQLAlchemy for the dialect, run
    with bare aiosqlite (a pool of connections as large as SQLAlchemy's) or an
    ``asyncpg.create_pool`` of the same size (statements prepared and cached by
    asyncpg), at the same concurrency; for JWTs, joserfc's own verify + json.loads
    before that raw query;
  * library/raw as the median of per-round ratios, rounds interleaved A/B/B/A so
    drift of the machine's speed cancels (goal >= 0.5);
  * the query plans of the lookups once, to show they use primary keys.

``--variants`` adds, for diagnosis, the same store on engines configured otherwise
(no ``pool_pre_ping``; AUTOCOMMIT reads), passed in through the public API.
"""

from __future__ import annotations

import argparse
import asyncio
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
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth import LocalIdP, ProviderLink, SQLAlchemyAuthStore, UserRecord
from pywire_auth.local.principal import principal_for
from pywire_auth.sessions import SessionManager
from pywire_auth.stores import sqlalchemy as store_module
from pywire_auth.stores._schema import metadata, users

BENCH_DB = "pywire_auth_bench"
POSTGRES_ENV = "PYWIRE_AUTH_TEST_POSTGRES_URL"
SECRET = "b" * 32
SESSION_SECRET = "s" * 32
# A well-formed but fake hash: this benchmark measures the database path, not Argon2.
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
USER_BY_ID_QUERY = sa.select(users).where(users.c.user_id == sa.bindparam("user_id"))

Op = Callable[[int], Awaitable[Any]]


@dataclass
class Dataset:
    user_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # session tokens (cookie values)
    jwts: list[str] = field(default_factory=list)


@dataclass
class Result:
    backend: str
    name: str
    concurrency: int
    library: float
    raw: float
    ratio: float


# Raw drivers ----------------------------------------------------------------


class Compiled:
    """A SQLAlchemy query as the exact SQL text and positional order the dialect sends."""

    def __init__(self, query: sa.Select[Any], dialect: sa.Dialect) -> None:
        compiled = query.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup or [])

    def args(self, **values: Any) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.order)


class RawSqlite:
    """Bare aiosqlite: a fixed pool of connections handed out through a queue."""

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
            # The documented cursor idiom: the same execute + fetch calls
            # SQLAlchemy's aiosqlite adapter makes, without anything around them.
            async with conn.execute(sql, args) as cursor:
                return await cursor.fetchone()
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


# Measuring --------------------------------------------------------------------


async def rate(op: Op, count: int, concurrency: int, seconds: float, seed: int) -> float:
    """Ops/s of ``op(random index)`` run by ``concurrency`` tasks for ``seconds``."""
    done = [0] * concurrency

    async def worker(w: int) -> None:
        rnd = random.Random(seed * 1000 + w)
        n = 0
        while time.perf_counter() < deadline:
            await op(rnd.randrange(count))
            n += 1
        done[w] = n

    gc.collect()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return sum(done) / (time.perf_counter() - start)


async def compare(
    backend: str,
    name: str,
    library: Op,
    raw: Op,
    count: int,
    concurrency: int,
    args: argparse.Namespace,
) -> Result:
    # Warm-up: fills both pools, prepares statements, caches compiled SQL.
    for op in (library, raw):
        assert await op(0) is not None, f"{name}: lookup found nothing"
        await rate(op, count, concurrency, args.seconds / 2, seed=0)
    libs, raws, ratios = [], [], []
    for r in range(args.rounds):
        # A/B then B/A: a steady drift of the machine's speed hits both sides alike.
        if r % 2 == 0:
            lib = await rate(library, count, concurrency, args.seconds, seed=r + 1)
            base = await rate(raw, count, concurrency, args.seconds, seed=r + 1)
        else:
            base = await rate(raw, count, concurrency, args.seconds, seed=r + 1)
            lib = await rate(library, count, concurrency, args.seconds, seed=r + 1)
        libs.append(lib)
        raws.append(base)
        ratios.append(lib / base)
    result = Result(
        backend,
        name,
        concurrency,
        statistics.median(libs),
        statistics.median(raws),
        statistics.median(ratios),
    )
    spread = f"ratios {min(ratios):.2f}..{max(ratios):.2f}"
    print(
        f"  {backend:<8} {name:<40} c={concurrency:<3} library {result.library:>8,.0f}/s  "
        f"raw {result.raw:>8,.0f}/s  = {result.ratio:.2f} x raw ({spread}; goal >= 0.5)",
        flush=True,
    )
    return result


# Setting up -------------------------------------------------------------------


async def populate(store: SQLAlchemyAuthStore, idp: LocalIdP, n: int) -> Dataset:
    """N users with a (fake) password hash, one session and one JWT each, via the store API."""
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

    batch = 16
    for first in range(0, n, batch):
        for uid, email, token, jwt in await asyncio.gather(
            *(one(i) for i in range(first, min(n, first + batch)))
        ):
            data.user_ids.append(uid)
            data.emails.append(email)
            data.tokens.append(token)
            data.jwts.append(jwt)
    return data


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
            try:
                await conn.execute(f"CREATE DATABASE {BENCH_DB}")
            except asyncpg.DuplicateDatabaseError:
                pass  # another run created it meanwhile
    finally:
        await conn.close()
    return parsed.set(database=BENCH_DB).render_as_string(hide_password=False)


def pool_capacity(store: SQLAlchemyAuthStore) -> int:
    pool = store.engine.pool
    size = pool.size() if hasattr(pool, "size") else 5
    return int(size + getattr(pool, "_max_overflow", 0))


async def explain(backend: str, raw: RawSqlite | RawAsyncpg, queries: dict[str, Any]) -> None:
    print(f"  query plans ({backend}):")
    for label, (compiled, args) in queries.items():
        prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        rows = await raw.fetch_all(prefix + compiled.sql, args)
        lines = [str(row[-1]) for row in rows]
        print(f"    {label}:")
        for line in lines:
            print(f"      {line}")
        if any("SCAN" in line and "USING" not in line for line in lines) or any(
            "Seq Scan" in line for line in lines
        ):
            print("      ^ WARNING: a full scan")


# One backend ------------------------------------------------------------------


async def run_backend(
    backend: str,
    url: str,
    raw: RawSqlite | RawAsyncpg,
    args: argparse.Namespace,
) -> list[Result]:
    store = SQLAlchemyAuthStore(url)
    if backend == "postgres":
        # Our own database, but possibly left over from an earlier run: start clean.
        async with store.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    idp = LocalIdP(store=store, secret=SECRET)
    sessions = SessionManager(store, SESSION_SECRET)
    started = time.perf_counter()
    data = await populate(store, idp, args.users)
    if backend == "postgres":
        async with store.engine.connect() as conn:
            await conn.execute(sa.text("ANALYZE"))
            await conn.commit()
    print(
        f"  {backend}: {args.users} users + sessions + JWTs written through the store "
        f"in {time.perf_counter() - started:.1f} s; SQLAlchemy pool capacity "
        f"{pool_capacity(store)}, raw pool {raw.size}"
    )
    await raw.open()
    dialect = store.engine.dialect
    login_q = Compiled(store_module._LOGIN_QUERY, dialect)
    session_q = Compiled(store_module._SESSION_USER_QUERY, dialect)
    user_q = Compiled(USER_BY_ID_QUERY, dialect)
    session_ids = [SessionManager.session_id(t) for t in data.tokens]
    await explain(
        backend,
        raw,
        {
            "get_login (provider_links JOIN users LEFT JOIN credentials)": (
                login_q,
                login_q.args(provider="local", subject=data.emails[0]),
            ),
            "get_session_user (sessions JOIN users)": (
                session_q,
                session_q.args(session_id=session_ids[0]),
            ),
            "get_user (principal_from_id_token)": (
                user_q,
                user_q.args(user_id=data.user_ids[0]),
            ),
        },
    )
    key = next(iter(idp.tokens._keys.values()))

    def raw_ops(raw: RawSqlite | RawAsyncpg) -> dict[str, Op]:
        async def login(i: int) -> Any:
            return await raw.fetchone(
                login_q.sql, login_q.args(provider="local", subject=data.emails[i])
            )

        async def session(i: int) -> Any:
            return await raw.fetchone(session_q.sql, session_q.args(session_id=session_ids[i]))

        async def session_from_token(i: int) -> Any:
            sid = hashlib.sha256(data.tokens[i].encode()).hexdigest()
            return await raw.fetchone(session_q.sql, session_q.args(session_id=sid))

        async def jwt(i: int) -> Any:
            obj = jws.deserialize_compact(data.jwts[i], key, algorithms=["HS256"])
            claims = json.loads(obj.payload or b"")
            return await raw.fetchone(user_q.sql, user_q.args(user_id=claims["sub"]))

        return {
            "login": login,
            "session": session,
            "session+principal": session_from_token,
            "jwt": jwt,
        }

    def library_ops(store: SQLAlchemyAuthStore) -> dict[str, Op]:
        local = LocalIdP(store=store, secret=SECRET)
        manager = SessionManager(store, SESSION_SECRET)

        async def login(i: int) -> Any:
            return await store.get_login("local", data.emails[i])

        async def session(i: int) -> Any:
            return await store.get_session_user(session_ids[i])

        async def session_principal(i: int) -> Any:
            found = await manager.load_with_user(data.tokens[i])
            return principal_for(found[1]) if found else None

        async def jwt(i: int) -> Any:
            return await local.principal_from_id_token(data.jwts[i])

        return {
            "login": login,
            "session": session,
            "session+principal": session_principal,
            "jwt": jwt,
        }

    names = {
        "login": "store.get_login",
        "session": "store.get_session_user",
        "session+principal": "sessions.load_with_user + principal_for",
        "jwt": "idp.principal_from_id_token",
    }
    del sessions
    lib, base = library_ops(store), raw_ops(raw)
    results = []
    n = len(data.user_ids)
    try:
        for op in names:
            for concurrency in args.concurrency:
                results.append(
                    await compare(backend, names[op], lib[op], base[op], n, concurrency, args)
                )
        if args.variants:
            keys = {"login": data.emails, "session": session_ids}
            results += await variants(backend, url, store, base, names, keys, args)
    finally:
        await raw.close()
        await idp.aclose()
    return results


async def variants(
    backend: str,
    url: str,
    store: SQLAlchemyAuthStore,
    base: dict[str, Op],
    names: dict[str, str],
    keys: dict[str, list[str]],
    args: argparse.Namespace,
) -> list[Result]:
    """The same store on differently configured engines: where does the gap come from?"""
    connect_args = store_module._DRIVER_ARGS.get(store.engine.dialect.driver, {})
    configs: dict[str, dict[str, Any]] = {"no pre_ping": {"pool_pre_ping": False}}
    if backend == "postgres":
        configs["no pre_ping, AUTOCOMMIT"] = {
            "pool_pre_ping": False,
            "isolation_level": "AUTOCOMMIT",
        }
    results = []
    for label, options in configs.items():
        engine = create_async_engine(url, connect_args=connect_args, **options)
        # The store registers its SQLite PRAGMAs on an engine it is given, too.
        variant = SQLAlchemyAuthStore(engine, create_tables=False)

        async def login(i: int, s: SQLAlchemyAuthStore = variant) -> Any:
            return await s.get_login("local", keys["login"][i])

        async def session(i: int, s: SQLAlchemyAuthStore = variant) -> Any:
            return await s.get_session_user(keys["session"][i])

        try:
            for op, fn in {"login": login, "session": session}.items():
                for concurrency in args.concurrency:
                    results.append(
                        await compare(
                            backend,
                            f"{names[op]} [{label}]",
                            fn,
                            base[op],
                            len(keys[op]),
                            concurrency,
                            args,
                        )
                    )
        finally:
            await engine.dispose()
    return results


async def run(args: argparse.Namespace) -> None:
    print(
        f"db_path: {args.users} users, {args.rounds} rounds x {args.seconds} s per side, "
        f"concurrency {args.concurrency}, {os.cpu_count()} CPUs"
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        size = pool_capacity(SQLAlchemyAuthStore(url))
        results += await _run_one("sqlite", url, RawSqlite(path, size), args)
    pg_url = None if args.no_postgres else (args.postgres or os.environ.get(POSTGRES_ENV))
    if pg_url:
        url = await bench_database_url(pg_url)
        size = pool_capacity(SQLAlchemyAuthStore(url))
        dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        results += await _run_one("postgres", url, RawAsyncpg(dsn, size), args)
    else:
        print(
            "postgres: skipped. Enable with: eval \"$(bash scripts/services/postgres.sh start)\" "
            f"(sets {POSTGRES_ENV}), or pass --postgres postgresql+asyncpg://USER:PW@HOST:PORT/DB"
        )
    print("\nsummary (library / raw driver, median of per-round ratios; goal >= 0.5):")
    for r in results:
        verdict = "met" if r.ratio >= 0.5 else "MISSED"
        print(
            f"  {r.backend:<8} {r.name:<52} c={r.concurrency:<3} {r.library:>8,.0f}/s vs "
            f"{r.raw:>8,.0f}/s = {r.ratio:.2f}  {verdict}"
        )


async def _run_one(
    backend: str, url: str, raw: RawSqlite | RawAsyncpg, args: argparse.Namespace
) -> list[Result]:
    print(f"\n{backend}:")
    return await run_backend(backend, url, raw, args)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=0.4, help="per measurement and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--postgres", metavar="URL", help=f"default: ${POSTGRES_ENV}")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--variants", action="store_true", help="diagnostic engine variants")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
