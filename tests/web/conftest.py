"""HTTP-level harness: a real PyWire app with pywire-auth, driven in process by httpx.

Every test builds its own app from the example pages (``examples/local_idp``), a
``LocalIdP`` with cheap Argon2 parameters, and ``connect_auth``; clients talk to it
through ``httpx.ASGITransport`` and keep cookies like a browser would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from pywire import PyWire

from pywire_auth import (
    ERROR_CODES,
    LOCAL_PROVIDER,
    Argon2Hasher,
    AuthStore,
    LocalIdP,
    MemoryAuthStore,
    StoreUnavailableError,
    UserRecord,
    connect_auth,
    normalize_email,
)
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.stores._schema import users as users_table
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from tests.backends._servers import TcpProxy
from tests.conftest import reset_database, server_url

PAGES_DIR = Path(__file__).resolve().parents[2] / "examples" / "local_idp" / "src" / "pages"
IDP_SECRET = "idp-secret-" + "x" * 32
SESSION_SECRET = "session-secret-" + "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"
COOKIE = "pywire_auth_session"
#: The session cookie's name when it is Secure (HTTPS, or SessionConfig(secure=True)).
HOST_COOKIE = "__Host-" + COOKIE
ORIGIN = "http://testserver"
EVIL = "http://evil.example"
PASSWORD = "correct horse battery"
SAME_ORIGIN = {"Origin": ORIGIN}
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}

REGISTER = "/auth/local/register"
LOGIN = "/auth/local/login"
TOKEN = "/auth/local/token"
VERIFY = "/auth/local/verify-token"
REVOKE = "/auth/local/revoke"
ROUTES = (REGISTER, LOGIN, TOKEN, VERIFY, REVOKE)


class FlakyStore(MemoryAuthStore):
    """A memory store that can be switched off: every call then raises StoreUnavailableError."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if (
            not name.startswith("_")
            and name not in ("down", "close")
            and callable(value)
            and super().__getattribute__("down")
        ):

            async def unavailable(*_args: Any, **_kwargs: Any) -> Any:
                raise StoreUnavailableError("the test switched the store off")

            return unavailable
        return value


@dataclass
class Outage:
    """A store on the test's backend that the test switches off and on.

    A real outage where there is a connection to break: the SQL servers are
    reached through a :class:`TcpProxy` that :meth:`down` cuts (open connections
    dropped, new ones refused). The memory store has none, so it is a
    :class:`FlakyStore`. SQLite has no connection either and its "outage" (a
    locked file) is a busy-timeout wait per call: outage tests run on
    :data:`OUTAGE_BACKENDS`.
    """

    store: AuthStore
    flaky: FlakyStore | None = None
    proxy: TcpProxy | None = None

    def down(self) -> None:
        if self.flaky is not None:
            self.flaky.down = True
        if self.proxy is not None:
            self.proxy.cut()

    def up(self) -> None:
        if self.flaky is not None:
            self.flaky.down = False
        if self.proxy is not None:
            self.proxy.restore()


#: The backends an :class:`Outage` can break (use as a decorator on outage tests).
OUTAGE_BACKENDS = pytest.mark.parametrize("web_backend", ["memory", "postgres", "mysql"])
#: The backends whose data outlives the store object (restarts).
PERSISTENT_BACKENDS = pytest.mark.parametrize("web_backend", ["sqlite", "postgres", "mysql"])


@dataclass
class WebApp:
    """One app under test, its IdP and the clients opened against it."""

    app: PyWire
    idp: LocalIdP
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(
        self,
        *,
        address: tuple[str, int] = ("127.0.0.1", 50000),
        base_url: str = ORIGIN,
        cookie: str | None = None,
    ) -> httpx.AsyncClient:
        """A new browser: own cookie jar, optional client address and preset session cookie."""
        transport = httpx.ASGITransport(app=self.app, client=address)
        client = httpx.AsyncClient(
            transport=transport,
            base_url=base_url,
            follow_redirects=False,
        )
        if cookie is not None:
            # For the server's host, as a browser keeps it: the server's own
            # Set-Cookie then replaces it instead of adding a second cookie of the
            # same name (which the server would refuse as ambiguous).
            # (http.cookiejar files a dotless host such as "testserver" under
            # "testserver.local".)
            host = urlsplit(base_url).hostname or ""
            client.cookies.set(COOKIE, cookie, domain=host if "." in host else host + ".local")

        self.clients.append(client)
        return client

    @property
    def store(self) -> AuthStore:
        return self.idp.store

    async def user(self, email: str) -> UserRecord | None:
        """The stored user of a password account, by (normalized) email."""
        return await self.idp.store.get_user_by_link(LOCAL_PROVIDER, normalize_email(email))

    async def user_count(self) -> int:
        """How many users the store holds, read straight from its tables or dicts."""
        store = self.idp.store
        if isinstance(store, SQLAlchemyAuthStore):
            await store.create_tables()
            async with store.engine.connect() as conn:
                count = await conn.scalar(sa.select(sa.func.count()).select_from(users_table))
            return int(count or 0)
        return len(store._users)  # type: ignore[attr-defined]


AppFactory = Callable[..., Awaitable[WebApp]]


@pytest_asyncio.fixture
async def outage(web_backend: str, backend_url: str | None) -> AsyncIterator[Outage]:
    """A store on the test's backend that can be switched off (see :class:`Outage`)."""
    if backend_url is None:
        flaky = FlakyStore()
        yield Outage(flaky, flaky=flaky)
        return
    if web_backend == "sqlite":
        pytest.fail("SQLite has no connection to cut: decorate the test with OUTAGE_BACKENDS")
    url = sa.make_url(backend_url)
    proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 0).start()
    store = SQLAlchemyAuthStore(proxy.url_for(backend_url))
    try:
        yield Outage(store, proxy=proxy)
    finally:
        # Disposed while the proxy still forwards (the app's own close comes later
        # and then finds nothing left to do).
        proxy.restore()
        await store.close()
        await proxy.close()


def make_idp(store: AuthStore | None = None) -> LocalIdP:
    return LocalIdP(
        store=store if store is not None else MemoryAuthStore(),
        secret=IDP_SECRET,
        hasher=Argon2Hasher(**FAST_ARGON2),
    )


@pytest.fixture(params=["memory", "sqlite", "postgres", "mysql"])
def web_backend(request: pytest.FixtureRequest) -> str:
    """Every web test runs on each store backend."""
    return str(request.param)


@pytest_asyncio.fixture
async def backend_url(web_backend: str, sqlite_url: str) -> str | None:
    """A fresh database for the test's backend (``None`` for the memory store)."""
    if web_backend == "memory":
        return None
    if web_backend == "sqlite":
        return sqlite_url
    url = server_url(web_backend)
    await reset_database(url)
    return url


@pytest_asyncio.fixture
async def app_factory(backend_url: str | None) -> AsyncIterator[AppFactory]:
    """Build apps: ``await app_factory(store=..., **connect_auth_kwargs)``.

    Without ``store``/``idp`` each app gets a store on the test's backend; apps built
    in one test share that database, like one server restarted.
    """
    built: list[WebApp] = []

    async def make(
        *, store: AuthStore | None = None, idp: LocalIdP | None = None, **kwargs: Any
    ) -> WebApp:
        app = PyWire(pages_dir=str(PAGES_DIR))
        if store is None and idp is None and backend_url is not None:
            store = SQLAlchemyAuthStore(backend_url)
        local_idp = idp if idp is not None else make_idp(store)
        kwargs.setdefault("session_secret", SESSION_SECRET)
        connect_auth(app, local_idp=local_idp, **kwargs)
        web = WebApp(app=app, idp=local_idp)
        built.append(web)
        return web

    yield make
    for web in built:
        for client in web.clients:
            await client.aclose()
        # As the app's lifespan would: stop following the store before closing it.
        channel = web.app.state.auth_channel
        if isinstance(channel, FanoutChannel):
            await channel.aclose()
        await web.idp.aclose()


@pytest_asyncio.fixture
async def web(app_factory: AppFactory) -> WebApp:
    """The default app: memory store, default throttle and sessions."""
    return await app_factory()


@pytest_asyncio.fixture
async def browser(web: WebApp) -> httpx.AsyncClient:
    return web.client()


# Request helpers -----------------------------------------------------------------


async def post_form(
    client: httpx.AsyncClient,
    path: str,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """A same-origin urlencoded form POST (as a browser sends it), unless ``headers`` say
    otherwise. An empty form is still sent as an (empty) urlencoded body."""
    sent = dict(headers if headers is not None else SAME_ORIGIN)
    sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return await client.post(path, content=urlencode(dict(data or {})), headers=sent)


async def register(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    **fields: str,
) -> httpx.Response:
    return await post_form(client, REGISTER, {"email": email, "password": password, **fields})


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    **fields: str,
) -> httpx.Response:
    return await post_form(client, LOGIN, {"email": email, "password": password, **fields})


async def revoke(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    return await post_form(client, REVOKE, fields)


async def token(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(TOKEN, headers=SAME_ORIGIN)


# Response helpers ----------------------------------------------------------------


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_set_cookie(response: httpx.Response) -> str | None:
    """The ``Set-Cookie`` header for the session cookie (either name), or ``None``."""
    found = [c for c in set_cookies(response) if c.split("=", 1)[0] in (COOKIE, HOST_COOKIE)]
    assert len(found) <= 1, found
    return found[0] if found else None


def session_cookie_value(response: httpx.Response) -> str | None:
    header = session_set_cookie(response)
    if header is None:
        return None
    return header.split(";", 1)[0].split("=", 1)[1]


def cookie_attributes(header: str) -> dict[str, str]:
    """``{"path": "/", "max-age": "100", "httponly": "", ...}`` of one Set-Cookie header."""
    attrs: dict[str, str] = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attrs[name.lower()] = value
    return attrs


def assert_no_session_cookie(response: httpx.Response) -> None:
    assert session_set_cookie(response) is None, set_cookies(response)


def assert_cookie_cleared(response: httpx.Response) -> None:
    header = session_set_cookie(response)
    assert header is not None, "expected the session cookie to be cleared"
    assert header.startswith(COOKIE + "=;")
    assert cookie_attributes(header)["max-age"] == "0"


def location(response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text)
    return response.headers["location"]


def error_code(response: httpx.Response) -> str:
    """The ``?error=`` of a failed form POST; checks it is in the closed vocabulary."""
    target = location(response)
    codes = parse_qs(urlsplit(target).query).get("error", [])
    assert len(codes) == 1, target
    assert codes[0] in ERROR_CODES, codes[0]
    return codes[0]


def redirect_path(response: httpx.Response) -> str:
    """The path of a redirect's target (without its query)."""
    return urlsplit(location(response)).path


async def signed_in_as(client: httpx.AsyncClient) -> str | None:
    """The email the profile page shows for this client, or ``None`` if it is sent to log in."""
    response = await client.get("/profile")
    if response.status_code == 303:
        assert response.headers["location"] == "/login_local"
        return None
    assert response.status_code == 200, response.status_code
    text = response.text
    start = text.index("Email: ") + len("Email: ")
    return text[start : text.index("<", start)]
