"""Helpers for the race, fault and pool tests: apps, real server processes, a TCP proxy.

* :func:`build_app` makes one PyWire app (the example's pages) with a LocalIdP on a
  SQL store, as a deployment would.
* :class:`ServerFleet` runs several of them as real uvicorn processes on one
  database. Each process is this module run as a script::

      python -m tests.backends._servers FD DB_URL

  where ``FD`` is a listening socket the test bound (and so knows the port of)
  before the process started: no port can be taken by someone else meanwhile.
* :class:`TcpProxy` sits between a store and its database server and can cut the
  line (``cut()``), make it swallow every byte (``stall()``) and mend it
  (``restore()``) to simulate an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import sqlalchemy as sa
from pywire import PyWire
from sqlalchemy.ext.asyncio import create_async_engine

from pywire_auth import Argon2Hasher, LocalIdP, SQLAlchemyAuthStore, connect_auth
from pywire_auth.protocols import AuthStore
from pywire_auth.stores._schema import credentials, provider_links, users

ROOT = Path(__file__).resolve().parents[2]
PAGES_DIR = ROOT / "examples" / "local_idp" / "src" / "pages"
IDP_SECRET = "idp-secret-" + "x" * 32
SESSION_SECRET = "session-secret-" + "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"
COOKIE = "pywire_auth_session"
FAST_ARGON2: dict[str, int] = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}

REGISTER = "/auth/local/register"
LOGIN = "/auth/local/login"
NEXT = "/profile"


def fast_hasher(**overrides: int) -> Argon2Hasher:
    """The cheap Argon2 parameters the tests use, with ``overrides`` on top."""
    return Argon2Hasher(**{**FAST_ARGON2, **overrides})


def build_app(
    store: AuthStore | str, *, hasher: Argon2Hasher | None = None, **connect: Any
) -> tuple[PyWire, LocalIdP]:
    """A PyWire app with the example's pages and the local IdP on ``store``."""
    app = PyWire(pages_dir=str(PAGES_DIR))
    if isinstance(store, str):
        store = SQLAlchemyAuthStore(store)
    idp = LocalIdP(store=store, secret=IDP_SECRET, hasher=hasher or fast_hasher())
    connect.setdefault("session_secret", SESSION_SECRET)
    connect_auth(app, local_idp=idp, **connect)
    return app, idp


# Responses ------------------------------------------------------------------------


def session_cookie(response: httpx.Response) -> str | None:
    """The value of the session cookie this response sets, or ``None``."""
    found = [
        header.split(";", 1)[0].split("=", 1)[1]
        for header in response.headers.get_list("set-cookie")
        if header.startswith(COOKIE + "=")
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def error_of(response: httpx.Response) -> str | None:
    """The ``?error=`` of a form route's 303, or ``None`` for a redirect without one."""
    assert response.status_code == 303, (response.status_code, response.text[:500])
    codes = parse_qs(urlsplit(response.headers["location"]).query).get("error", [])
    assert len(codes) <= 1, response.headers["location"]
    return codes[0] if codes else None


def describe(response: httpx.Response) -> str:
    """One line per response for assertion messages."""
    return (
        f"{response.status_code} {response.headers.get('location')} "
        f"cookie={'yes' if session_cookie(response) else 'no'}"
    )


async def post_form(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """A urlencoded form POST as the example's forms send it (``next`` = the profile)."""
    fields.setdefault("next", NEXT)
    return await client.post(
        path,
        content=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def profile_email(response: httpx.Response) -> str | None:
    """The email the profile page shows, or ``None`` if it is not a signed-in profile."""
    if response.status_code != 200 or "Email: " not in response.text:
        return None
    start = response.text.index("Email: ") + len("Email: ")
    return response.text[start : response.text.index("<", start)]


# The database, read directly -------------------------------------------------------


async def row_counts(url: str) -> tuple[int, int, int]:
    """``(users, credentials, provider_links)`` rows, counted straight from the tables.

    An account made by ``LocalIdP.create_user`` has two links: its email and the
    ``local-skeleton`` link that reserves its look-alikes.
    """
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            counts = [
                await conn.scalar(sa.select(sa.func.count()).select_from(table))
                for table in (users, credentials, provider_links)
            ]
    finally:
        await engine.dispose()
    return (int(counts[0] or 0), int(counts[1] or 0), int(counts[2] or 0))


async def timed(awaitable: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and how many seconds it took."""
    start = time.monotonic()
    response = await awaitable
    return response, time.monotonic() - start


# Real server processes ---------------------------------------------------------------


class ServerFleet:
    """``count`` uvicorn processes of :func:`build_app` on one database URL.

    Use as ``async with ServerFleet(...) as fleet``; ``fleet.urls`` are their base
    URLs, ``fleet.logs()`` everything they printed (for assertion messages).
    """

    def __init__(self, count: int, db_url: str, log_dir: Path, *, ready_timeout: float = 60):
        self.count = count
        self.db_url = db_url
        self.log_dir = log_dir
        self.ready_timeout = ready_timeout
        self.urls: list[str] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._log_paths: list[Path] = []

    async def __aenter__(self) -> ServerFleet:
        try:
            for index in range(self.count):
                self._spawn(index)
            await asyncio.gather(*(self._wait_ready(i) for i in range(self.count)))
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, exc_type: object, *_exc: object) -> None:
        self.stop()
        if exc_type is not None:
            # Shown by pytest under "Captured stdout" when the test fails with
            # something other than an assertion that already carries the logs.
            print(self.logs())

    def _spawn(self, index: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            port = listener.getsockname()[1]
            log_path = self.log_dir / f"server-{index}-{port}.log"
            self._log_paths.append(log_path)
            with log_path.open("wb") as log:
                command = [sys.executable, "-m", "tests.backends._servers"]
                proc = subprocess.Popen(
                    [*command, str(listener.fileno()), self.db_url],
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(listener.fileno(),),
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
        finally:
            listener.close()  # the child has its own copy now
        self._procs.append(proc)
        self.urls.append(f"http://127.0.0.1:{port}")

    async def _wait_ready(self, index: int) -> None:
        deadline = time.monotonic() + self.ready_timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if self._procs[index].poll() is not None:
                    raise AssertionError(f"server {index} exited early\n{self.logs()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.urls[index] + "/")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"server {index} never became ready\n{self.logs()}")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        """Terminate every server: SIGTERM, a bounded wait, then SIGKILL."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def logs(self) -> str:
        """Everything the servers printed so far, one section each."""
        parts = []
        for path in self._log_paths:
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"----- {path.name} -----\n{text.strip() or '(empty)'}")
        return "\n".join(parts)


async def _serve(fd: int, db_url: str) -> None:
    import uvicorn  # only the server processes need it

    app, _idp = build_app(db_url, throttle=None)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    sock = socket.socket(fileno=fd)
    await uvicorn.Server(config).serve(sockets=[sock])


# A TCP proxy that can cut the line ----------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; :meth:`cut` and :meth:`stall` break it.

    * :meth:`cut`: every open connection is dropped and new ones are accepted and
      closed at once (a server that is down or restarting).
    * :meth:`stall`: connections stay open but nothing gets through any more, and
      new ones are accepted but never answered (a black-holed network, a hung server).
    * :meth:`restore` forwards again; connections that hung in a stall are dropped.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.is_cut = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url_for(self, url: str) -> str:
        """``url`` with host and port pointing at this proxy."""
        proxied = sa.make_url(url).set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`restore`."""
        self.is_cut = True
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def stall(self) -> None:
        """Stop passing bytes, keeping every connection open, until :meth:`restore`."""
        self._flowing.clear()

    def restore(self) -> None:
        if not self._flowing.is_set():
            self.cut()  # the hung connections' state is lost, as after a partition
        self.is_cut = False
        self._flowing.set()

    async def close(self) -> None:
        self.cut()
        self._flowing.set()  # wake everything that waits, to see the cut and end
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        self._open.add(writer)
        try:
            await self._flowing.wait()  # accepted, but not answered during a stall
            if self.is_cut:
                writer.transport.abort()
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            self._open.add(up_writer)
            if self.is_cut:  # cut while we were connecting
                writer.transport.abort()
                up_writer.transport.abort()
                return
            for task in (
                asyncio.create_task(self._pipe(reader, up_writer)),
                asyncio.create_task(self._pipe(up_reader, writer)),
            ):
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except asyncio.CancelledError:
            writer.transport.abort()
            raise

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.transport.abort()


def _main(argv: list[str]) -> None:
    fd, db_url = int(argv[1]), argv[2]
    # uvicorn turns SIGTERM into a graceful shutdown (the lifespan closes the store).
    asyncio.run(_serve(fd, db_url))


if __name__ == "__main__":
    _main(sys.argv)


__all__ = [
    "COOKIE",
    "FAST_ARGON2",
    "IDP_SECRET",
    "LOGIN",
    "NEXT",
    "PAGES_DIR",
    "REGISTER",
    "SESSION_SECRET",
    "ServerFleet",
    "TcpProxy",
    "build_app",
    "describe",
    "error_of",
    "fast_hasher",
    "post_form",
    "profile_email",
    "row_counts",
    "session_cookie",
    "timed",
]
