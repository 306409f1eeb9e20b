"""The store's hot queries find their rows through an index: no full table scan.

A lookup that scans a table is fast on a test database and slow on a real one, so
timing cannot catch it; the query plan can. The tables hold 5,000 users and 20,000
sessions; the tests run the store's own statements through ``EXPLAIN QUERY PLAN``
(SQLite) or ``EXPLAIN`` (PostgreSQL, after ``ANALYZE``, so its planner chooses as it
would on a real database; ``enable_seqscan`` stays on, because a plan forced that way
would prove nothing), and check that every table a statement reads is reached through
an index that starts with the queried column, and that nothing is scanned whole. The
statements are the ones the store sends: the per-request lookups compiled as the store
compiles them, the others recorded from the engine while a public store method runs.
``benchmarks/scale.py`` shows what this buys at a million users.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from pywire_auth.stores._hot_reads import HotQuery
from pywire_auth.stores._schema import credentials, metadata, provider_links, sessions, users
from pywire_auth.stores._sql_queries import LOGIN_QUERY, SESSION_USER_QUERY, USER_QUERY
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.types import LOCAL_PROVIDER
from tests.conftest import reset_database, server_url

# One filled database per backend for the whole module: the tests only read plans (the
# few rows they delete belong to a user no other test looks at).
in_module_loop = pytest.mark.asyncio(loop_scope="module")

USERS = 5000
SESSIONS_PER_USER = 4
NOW = 1_790_000_000
# Sessions expire one second apart from NOW on, so a cut-off of NOW + 50 ends 50 of them:
# the selective range a periodic clean-up deletes.
EXPIRED = 50

Access = tuple[str, str]  # (table, the column its index must start with)
Plan = list[str]


def user_id(i: int) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(b"user %d" % i).digest()[:16], version=4))


def email(i: int) -> str:
    return f"user{i}@example.com"


def session_id(j: int) -> str:
    return hashlib.sha256(b"session %d" % j).hexdigest()


async def fill(store: SQLAlchemyAuthStore) -> None:
    """USERS users with a password and a link, SESSIONS_PER_USER sessions each."""
    await store.create_tables()
    ids = [user_id(i) for i in range(USERS)]
    async with store.engine.begin() as conn:
        await conn.execute(
            users.insert(),
            [
                {"user_id": uid, "email": email(i), "name": "", "claims": {}, "extras": {}}
                for i, uid in enumerate(ids)
            ],
        )
        await conn.execute(
            credentials.insert(), [{"user_id": uid, "pw_hash": "$argon2id$x"} for uid in ids]
        )
        await conn.execute(
            provider_links.insert(),
            [
                {"provider": LOCAL_PROVIDER, "subject": email(i), "user_id": uid, "claims": {}}
                for i, uid in enumerate(ids)
            ],
        )
        await conn.execute(
            sessions.insert(),
            [
                {
                    "session_id": session_id(j),
                    "user_id": ids[j // SESSIONS_PER_USER],
                    "created_at": NOW - 3600,
                    "expires_at": NOW + j,
                }
                for j in range(USERS * SESSIONS_PER_USER)
            ],
        )
        if store.engine.dialect.name == "postgresql":
            # Statistics the planner would have once autovacuum ran; with fewer than
            # 30,000 rows per table ANALYZE reads every row, so they are exact.
            await conn.exec_driver_sql("ANALYZE")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SQLAlchemyAuthStore]:
    """A store on filled tables, for each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('plans') / 'auth.db'}"
    else:
        url = server_url("postgres")
        await reset_database(url)
    store = SQLAlchemyAuthStore(url)
    try:
        await fill(store)
        yield store
    finally:
        await store.close()


# Reading plans -------------------------------------------------------------------------


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (SQL text and parameters) the engine sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def explain(engine: AsyncEngine, statement: str, params: Any) -> Plan:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(prefix + statement, tuple(params))
        # SQLite: (id, parent, notused, detail); PostgreSQL: one line of text per row.
        return [str(row[-1]) for row in result]


async def leading_columns(engine: AsyncEngine) -> dict[str, Access]:
    """PostgreSQL: each index of our tables -> (table, its first column)."""
    query = """
        SELECT i.relname, t.relname, a.attname
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
        WHERE t.relname LIKE 'pywire_auth_%'
    """
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(query)).all()
    return {index: (table, column) for index, table, column in rows}


async def problems(engine: AsyncEngine, plan: Plan, accesses: list[Access]) -> list[str]:
    """What is wrong with ``plan``: full scans, and wanted accesses done otherwise."""
    found: set[Access] = set()
    wrong: list[str] = []
    if engine.dialect.name == "sqlite":
        for line in plan:
            # "SCAN t" reads the whole table; "SCAN t USING COVERING INDEX i" a whole index.
            if line.startswith("SCAN "):
                wrong.append(f"full scan: {line}")
            search = re.match(r"SEARCH (\w+) .*USING .*INDEX.* \((\w+)[=<>]", line)
            if search:
                found.add((search[1], search[2]))
    else:
        indexes = await leading_columns(engine)
        for line in plan:
            if "Seq Scan" in line:
                wrong.append(f"full scan: {line.strip()}")
            for index in re.findall(r"Index (?:Only )?Scan (?:using|on) (\w+)", line):
                found.add(indexes[index])
    wrong += [
        f"{table} not searched by an index on {column}"
        for table, column in accesses
        if (table, column) not in found
    ]
    return wrong


async def assert_indexed(
    engine: AsyncEngine, statement: str, params: Any, accesses: list[Access]
) -> None:
    plan = await explain(engine, statement, params)
    wrong = await problems(engine, plan, accesses)
    assert not wrong, "\n".join([*wrong, statement, *plan])


async def assert_hot_indexed(
    store: SQLAlchemyAuthStore,
    query: sa.Select[Any],
    params: dict[str, Any],
    accesses: list[Access],
) -> None:
    # Compiled exactly as the store compiles its per-request lookups.
    hot = HotQuery(query, store.engine)
    await assert_indexed(store.engine, hot.sql, hot.args(params), accesses)


async def assert_method_indexed(
    store: SQLAlchemyAuthStore, call: Callable[[], Awaitable[Any]], accesses: list[list[Access]]
) -> None:
    """Every statement ``call`` sends (one list of accesses each, in order) uses its indexes."""
    with recorded(store.engine) as seen:
        await call()
    # Only the statements themselves: no BEGIN/COMMIT, no catalog reads.
    statements = [
        (sql, p)
        for sql, p in seen
        if sql.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE"))
    ]
    assert len(statements) == len(accesses), statements
    for (sql, params), wanted in zip(statements, accesses, strict=True):
        await assert_indexed(store.engine, sql, params, wanted)


# The store's queries --------------------------------------------------------------------

USERS_T, LINKS_T, CREDS_T, SESSIONS_T = (
    t.name for t in (users, provider_links, credentials, sessions)
)


@in_module_loop
async def test_login_lookup_uses_primary_keys(store: SQLAlchemyAuthStore) -> None:
    await assert_hot_indexed(
        store,
        LOGIN_QUERY,
        {"provider": LOCAL_PROVIDER, "subject": email(1234)},
        [(LINKS_T, "provider"), (USERS_T, "user_id"), (CREDS_T, "user_id")],
    )


@in_module_loop
async def test_session_lookup_uses_primary_keys(store: SQLAlchemyAuthStore) -> None:
    await assert_hot_indexed(
        store,
        SESSION_USER_QUERY,
        {"session_id": session_id(777)},
        [(SESSIONS_T, "session_id"), (USERS_T, "user_id")],
    )


@in_module_loop
async def test_user_lookup_uses_primary_key(store: SQLAlchemyAuthStore) -> None:
    await assert_hot_indexed(store, USER_QUERY, {"user_id": user_id(42)}, [(USERS_T, "user_id")])


@in_module_loop
async def test_links_of_a_user_use_the_user_id_index(store: SQLAlchemyAuthStore) -> None:
    await assert_method_indexed(
        store, lambda: store.get_links(user_id(42)), [[(LINKS_T, "user_id")]]
    )


@in_module_loop
async def test_ending_a_users_sessions_uses_the_user_id_index(store: SQLAlchemyAuthStore) -> None:
    await assert_method_indexed(
        store, lambda: store.delete_user_sessions(user_id(43)), [[(SESSIONS_T, "user_id")]]
    )


@in_module_loop
async def test_deleting_a_user_uses_an_index_per_table(store: SQLAlchemyAuthStore) -> None:
    await assert_method_indexed(
        store,
        lambda: store.delete_user(user_id(42)),
        [
            [(CREDS_T, "user_id")],
            [(SESSIONS_T, "user_id")],
            [(LINKS_T, "user_id")],
            [(USERS_T, "user_id")],
        ],
    )


@in_module_loop
async def test_expired_session_cleanup_uses_the_expires_at_index(
    store: SQLAlchemyAuthStore,
) -> None:
    if not any(next(iter(ix.columns)) is sessions.c.expires_at for ix in sessions.indexes):
        pytest.skip("the schema has no index on pywire_auth_sessions.expires_at yet")
    await assert_method_indexed(
        store, lambda: store.delete_expired_sessions(NOW + EXPIRED), [[(SESSIONS_T, "expires_at")]]
    )


@in_module_loop
async def test_the_check_sees_a_full_scan(store: SQLAlchemyAuthStore) -> None:
    # created_at has no index: if this passed the check, the tests above would prove nothing.
    query = sa.select(sessions.c.session_id).where(sessions.c.created_at == sa.bindparam("t"))
    hot = HotQuery(query, store.engine)
    plan = await explain(store.engine, hot.sql, hot.args({"t": NOW - 3600}))
    wrong = await problems(store.engine, plan, [(SESSIONS_T, "created_at")])
    assert any(w.startswith("full scan") for w in wrong), plan
    assert f"{SESSIONS_T} not searched by an index on created_at" in wrong


def test_every_foreign_key_column_leads_an_index() -> None:
    # Deleting a user makes the database find its rows in every child table (ON
    # DELETE CASCADE, and our explicit deletes); without an index that is a scan.
    for table in metadata.sorted_tables:
        leading = {next(iter(index.columns)) for index in table.indexes}
        leading.add(next(iter(table.primary_key.columns)))
        for fk in table.foreign_keys:
            assert fk.parent in leading, f"{table.name}.{fk.parent.name} has no index"


# The admin page's listing ---------------------------------------------------------------

INDEX_EMAIL = "ix_pywire_auth_users_email_user_id"


@in_module_loop
@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"after": (email(2500), user_id(2500))},
        {"email_prefix": "user12"},
        {"email_prefix": "user12", "after": (email(123), user_id(123))},
    ],
    ids=["first-page", "later-page", "search", "search-later-page"],
)
async def test_listing_users_seeks_the_email_index_without_sorting(
    store: SQLAlchemyAuthStore, arguments: dict[str, Any]
) -> None:
    # Keyset pagination: a page is one seek into (email, user_id) and `limit` rows read in
    # index order. A sort step would read every matching row first (all of them on the
    # first page): fine here, minutes at a million users.
    with recorded(store.engine) as seen:
        page = await store.list_users(limit=20, **arguments)
    assert page
    (sql, params), *_ = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
    plan = await explain(store.engine, sql, params)
    wrong = await problems(store.engine, plan, [])
    if store.engine.dialect.name == "sqlite":
        wrong += [f"sorts: {line}" for line in plan if "TEMP B-TREE" in line]
        if not arguments:
            # A first page has nothing to seek: an index walk that LIMIT stops is the plan.
            wrong = [w for w in wrong if INDEX_EMAIL not in w]
    else:
        wrong += [f"sorts: {line.strip()}" for line in plan if re.search(r"\bSort\b", line)]
    assert any(INDEX_EMAIL in line for line in plan), plan
    assert not wrong, "\n".join([*wrong, sql, *plan])


@in_module_loop
async def test_listing_a_users_sessions_uses_the_user_id_index(
    store: SQLAlchemyAuthStore,
) -> None:
    await assert_method_indexed(
        store, lambda: store.list_user_sessions(user_id(44)), [[(SESSIONS_T, "user_id")]]
    )
