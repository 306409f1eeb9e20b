"""Real ``pywire run`` servers, live-page WebSocket clients and a private Redis.

Shared by the scale tests and ``benchmarks/live_revoke.py``; nothing here is
pytest-specific, so a failure raises :class:`HarnessError` with the server log.

* :class:`RunServer`: a copy of ``examples/local_idp`` (``main.py`` and pages
  verbatim) in a folder of its own with a fresh ``.env``, served by the real
  ``pywire run`` CLI with its default worker count unless told otherwise (its
  process, log and stop are tests/_servers.py's :class:`PywireServer`).
  ``pywire run`` loads the folder's ``.env`` itself (the CLI group runs PyWire's
  ``.env`` cascade before any command, and uvicorn's spawned workers inherit the
  environment), so the app's settings come from that file; ``extra_env`` adds
  variables a test wants in the real environment (``REDIS_URL``).
* :class:`LiveSocket`: one live page, spoken to as the browser does (msgpack over
  ``/_pywire/ws``, session cookie, same-site Origin).
* :func:`worker_of`: which worker process holds the server end of each socket;
  :func:`pinned_client`: an HTTP client whose one connection sits in a chosen kind
  of worker, so a test knows which worker answers its request.
* :class:`RedisServer`: a ``redis-server`` the caller starts and may kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import msgpack
import psutil
from websockets.asyncio.client import ClientConnection, connect

from tests._servers import (
    EXAMPLE,
    PywireServer,
    ServerError,
    copy_example,
    fresh_env_lines,
)
from tests._servers import SCRUBBED_ENV as SCRUBBED_ENV
from tests._servers import free_port as free_port

COOKIE = "pywire_auth_session"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0


class HarnessError(ServerError):
    """A server or client of the harness did not do what it must."""


def default_workers() -> int:
    """What ``pywire run`` starts without ``--workers``: ``(cpu_count * 2) + 1``."""
    return (os.cpu_count() or 1) * 2 + 1


def make_app_dir(
    dest: Path,
    db_url: str,
    *,
    secrets_from: Path | None = None,
    env: Mapping[str, str] | None = None,
    session_ttl: int | None = None,
) -> Path:
    """Copy the example to ``dest`` with a fresh ``.env`` pointing at ``db_url``.

    ``secrets_from`` (another app folder) shares its secrets: two "machines" of
    one deployment sign the same cookies. ``env`` adds lines to the ``.env``
    (``PYWIRE_AUTH_SMTP_URL``...). ``session_ttl`` (seconds) gives sessions that
    short an idle lifetime: the one change made to ``main.py``, which passes
    ``session_config=SessionConfig(ttl=...)`` to ``connect_auth``.
    """
    dest.mkdir(parents=True)
    main = None
    if session_ttl is not None:
        main = _with_session_ttl((EXAMPLE / "main.py").read_text(), session_ttl)
    if secrets_from is not None:
        kept = [
            line
            for line in (secrets_from / ".env").read_text().splitlines()
            if not line.startswith("LOCAL_AUTH_DB=")
        ]
        lines = [*kept, f"LOCAL_AUTH_DB={db_url}"]
    else:
        lines = fresh_env_lines(db_url)
    lines += [f"{key}={value}" for key, value in (env or {}).items()]
    return copy_example(dest, lines, main_py=main)


_CONNECT = "connect_auth(app, local_idp=idp)"


def _with_session_ttl(main: str, ttl: int) -> str:
    """The example's ``main.py`` with sessions that idle out after ``ttl`` seconds."""
    if main.count(_CONNECT) != 1:
        raise HarnessError(f"examples/local_idp/main.py no longer calls {_CONNECT} once")
    # refresh_after=1: any request a second after the last refresh slides the
    # session, so a test keeps a session alive by using it.
    config = f"SessionConfig(ttl={ttl}, refresh_after=1, cache_ttl=0.5)"
    main = main.replace(_CONNECT, _CONNECT.replace(")", f", session_config={config})"))
    return "from pywire_auth import SessionConfig\n" + main


class RunServer(PywireServer):
    """One app folder served by ``pywire run`` on a free loopback port.

    Start-up, log and stop are :class:`~tests._servers.ServerProcess`'s; this
    class adds the workers: it is ready once every worker logged its start-up
    and ``GET /`` answers, and :meth:`worker_pids` finds them.
    """

    start_timeout = START_TIMEOUT
    stop_timeout = STOP_TIMEOUT
    probe_timeout = 5.0
    poll_interval = 0.25

    def __init__(
        self,
        app_dir: Path,
        *,
        workers: int | None = None,
        extra_env: dict[str, str] | None = None,
        name: str = "server",
        port: int | None = None,
    ) -> None:
        options = [] if workers is None else ["--workers", str(workers)]
        super().__init__(app_dir, "run", options=options, name=name, port=port, extra_env=extra_env)
        self.workers = workers

    @property
    def expected_workers(self) -> int:
        """How many worker processes this server should have."""
        return self.workers if self.workers is not None else default_workers()

    @property
    def ws_url(self) -> str:
        """The live pages' WebSocket endpoint."""
        return f"ws://127.0.0.1:{self.port}/_pywire/ws"

    def fail(self, message: str) -> HarnessError:
        """An error carrying this server's log."""
        return HarnessError(*super().fail(message).args)

    def ready_to_probe(self) -> bool:
        """Only once every worker finished its start-up (so all of them serve)."""
        return self.log_since_start().count(b"Application startup complete") >= (
            self.expected_workers
        )

    def worker_pids(self) -> set[int]:
        """The worker processes: descendants of ``pywire run`` listening on its port."""
        if self.proc is None:
            return set()
        found: set[int] = set()
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    if any(
                        c.status == psutil.CONN_LISTEN and c.laddr.port == self.port
                        for c in child.net_connections(kind="tcp")
                    ):
                        found.add(child.pid)
        return found


# HTTP -------------------------------------------------------------------------------


def session_cookie(response: httpx.Response) -> str | None:
    """The value of the session cookie this response sets, or ``None``."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(COOKIE + "="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def error_of(response: httpx.Response) -> str | None:
    """The ``?error=`` of a form route's redirect, or ``None``."""
    if response.status_code != 303:
        raise HarnessError(f"expected a 303, got {response.status_code}: {response.text[:300]}")
    codes = parse_qs(urlsplit(response.headers["location"]).query).get("error", [])
    return codes[0] if codes else None


async def post_form(
    client: httpx.AsyncClient, path: str, cookie: str | None = None, **fields: str
) -> httpx.Response:
    """A urlencoded form POST as the example's forms send it."""
    fields.setdefault("next", "/profile")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    return await client.post(path, content=urlencode(fields), headers=headers)


async def sign_in(base_url: str, email: str, password: str, *, register: bool = False) -> str:
    """Register (or sign in) ``email`` on a fresh client; the session cookie."""
    path = "/auth/local/register" if register else "/auth/local/login"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await post_form(client, path, email=email, password=password, name="Ann")
    cookie = session_cookie(response)
    if cookie is None or error_of(response) is not None:
        raise HarnessError(f"{path} for {email}: {response.status_code} {response.headers}")
    return cookie


async def revoke(base_url: str, cookie: str) -> httpx.Response:
    """``POST /auth/local/revoke`` with ``cookie``: sign the user out everywhere."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return await post_form(client, "/auth/local/revoke", cookie, next="/login_local")


async def profile_signed_in(base_url: str, cookie: str | None) -> bool:
    """Whether GET /profile with ``cookie`` shows a signed-in profile."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.get("/profile", headers=headers)
    return response.status_code == 200 and "Signed in as" in response.text


# Live pages -------------------------------------------------------------------------


class LiveSocket:
    """One live page over ``/_pywire/ws``; every message it receives is kept in order."""

    def __init__(self, ws: ClientConnection, origin: str) -> None:
        self.ws = ws
        self.origin = origin
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base_url: str, cookie: str, path: str = "/profile") -> LiveSocket:
        """Connect as a browser tab on ``path`` and wait for the server's ``init_ack``."""
        live, reply = await cls.start(base_url, cookie, path)
        if reply.get("type") != "init_ack":
            await live.close()
            raise HarnessError(f"live page {path} did not start: {reply}")
        return live

    @classmethod
    async def start(
        cls, base_url: str, cookie: str | None, path: str = "/profile"
    ) -> tuple[LiveSocket, dict[str, Any]]:
        """Connect as a browser tab on ``path``; the socket and the server's first answer.

        The answer is ``init_ack`` for a page the visitor may see, or (for a
        guarded page and a visitor without a session) a ``navigate`` away.
        """
        ws_url = "ws" + base_url.removeprefix("http") + "/_pywire/ws"
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        ws = await connect(
            ws_url,
            origin=base_url,  # type: ignore[arg-type]
            additional_headers=headers,
            open_timeout=30,
            ping_interval=None,
            max_size=None,
        )
        live = cls(ws, base_url)
        try:
            await live.wait_for(lambda m: m.get("type") == "init", 30)
            await ws.send(msgpack.packb({"type": "init", "path": path}))
            reply = await live.wait_for(
                lambda m: m.get("type") in ("init_ack", "navigate", "error"), 30
            )
        except BaseException:
            await live.close()
            raise
        return live, reply

    @property
    def local_port(self) -> int:
        """The client's port: the server's worker sees it as the remote port."""
        return int(self.ws.local_address[1])

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                message = msgpack.unpackb(raw, raw=False) if isinstance(raw, bytes) else {}
                if isinstance(message, dict):
                    if message.get("type") == "ping":
                        await self.ws.send(msgpack.packb({"type": "pong"}))
                    self.messages.append((time.monotonic(), message))
                    self._changed.set()

    def find(self, match: Callable[[dict[str, Any]], bool], since: int = 0) -> int | None:
        """The index of the first message from ``since`` on that matches, or ``None``."""
        for index in range(since, len(self.messages)):
            if match(self.messages[index][1]):
                return index
        return None

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], within: float, since: int = 0
    ) -> dict[str, Any]:
        """The first matching message (from ``since`` on), waiting up to ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            index = self.find(match, since)
            if index is not None:
                return self.messages[index][1]
            left = deadline - time.monotonic()
            if left <= 0 or self._reader.done():
                raise HarnessError(
                    f"no matching message within {within} s; got "
                    f"{[m for _, m in self.messages][since:]!r:.1000}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_closed(self, within: float) -> int | None:
        """Wait up to ``within`` seconds for the server to close the socket; its close code."""
        done, _ = await asyncio.wait({self._reader}, timeout=within)
        if not done:
            raise HarnessError(
                f"socket still open after {within} s; got {[m for _, m in self.messages]!r:.1000}"
            )
        return self.ws.close_code

    async def close(self) -> None:
        """Close the connection and stop reading."""
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


def worker_of(server: RunServer, sockets: Iterable[LiveSocket]) -> dict[int, int]:
    """``{client port: worker pid}`` for each socket a worker of ``server`` holds."""
    return workers_of_ports(server, {s.local_port for s in sockets})


def workers_of_ports(server: RunServer, wanted: Collection[int]) -> dict[int, int]:
    """``{client port: worker pid}`` for each connection from one of ``wanted`` ports."""
    found: dict[int, int] = {}
    for pid in server.worker_pids():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if (
                    conn.raddr
                    and conn.laddr.port == server.port
                    and conn.raddr.port in wanted
                    and conn.status == psutil.CONN_ESTABLISHED
                ):
                    found[conn.raddr.port] = pid
    return found


async def live_page_on_other_worker(
    server: RunServer, cookie: str, *, avoid: Collection[int], tries: int = 40
) -> tuple[LiveSocket, int]:
    """A live /profile page held by a worker not in ``avoid``, and that worker's pid."""
    for _ in range(tries):
        live = await LiveSocket.open(server.base_url, cookie)
        worker = worker_of(server, [live]).get(live.local_port)
        if worker is not None and worker not in avoid:
            return live, worker
        await live.close()
    raise server.fail(f"no live page reached a worker outside {sorted(avoid)} in {tries} tries")


def client_port(response: httpx.Response) -> int:
    """The local port of the connection that carried ``response``."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


@contextlib.asynccontextmanager
async def pinned_client(
    server: RunServer, *, avoid: Collection[int], tries: int = 40
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """A client with one kept-alive connection held by a worker not in ``avoid``.

    Yields the client and that worker's pid. Which worker accepts a connection
    is up to the kernel, so fresh connections are made until one lands right.
    Requests sent on the client soon after (before uvicorn's 5 s keep-alive
    ends) reuse the connection; :func:`assert_served_by` checks that they did.
    """
    for _ in range(tries):
        client = httpx.AsyncClient(
            base_url=server.base_url, timeout=30, limits=httpx.Limits(max_connections=1)
        )
        try:
            probe = await client.get("/login_local")
            port = client_port(probe)
            worker = workers_of_ports(server, {port}).get(port)
            if worker is not None and worker not in avoid:
                yield client, worker
                return
        finally:
            await client.aclose()
    raise server.fail(f"no connection reached a worker outside {sorted(avoid)} in {tries} tries")


def assert_served_by(server: RunServer, response: httpx.Response, worker: int) -> None:
    """Raise unless ``response`` came over a connection that ``worker`` holds (still open)."""
    port = client_port(response)
    found = workers_of_ports(server, {port}).get(port)
    if found != worker:
        raise server.fail(f"request on port {port} served by {found}, not worker {worker}")


async def spread_sockets(
    server: RunServer, cookies: list[str], *, least: int = 15, most: int = 80
) -> tuple[list[LiveSocket], dict[int, int]]:
    """Open live /profile pages (cycling ``cookies``) until every worker holds one.

    At least ``least`` sockets, at most ``most``; returns them and
    ``{client port: worker pid}``.
    """
    workers = server.worker_pids()
    if len(workers) != server.expected_workers:
        raise server.fail(f"expected {server.expected_workers} workers, found {sorted(workers)}")
    sockets: list[LiveSocket] = []
    owners: dict[int, int] = {}
    try:
        while len(sockets) < most:
            batch = 5 if len(sockets) >= least else least
            opened = await asyncio.gather(
                *(
                    LiveSocket.open(server.base_url, cookies[(len(sockets) + i) % len(cookies)])
                    for i in range(batch)
                )
            )
            sockets.extend(opened)
            owners = worker_of(server, sockets)
            if len(sockets) >= least and set(owners.values()) == workers:
                break
    except BaseException:
        await asyncio.gather(*(s.close() for s in sockets))
        raise
    if set(owners.values()) != workers or len(owners) != len(sockets):
        await asyncio.gather(*(s.close() for s in sockets))
        raise server.fail(
            f"{len(sockets)} sockets reached workers {sorted(set(owners.values()))} "
            f"of {sorted(workers)} ({len(owners)} found)"
        )
    return sockets, owners


async def wait_all(
    sockets: list[LiveSocket],
    match: Callable[[dict[str, Any]], bool],
    within: float,
    since: list[int] | None = None,
) -> list[float]:
    """Wait until every socket got a matching message; when each arrived (monotonic)."""
    starts = since or [0] * len(sockets)

    async def one(live: LiveSocket, start: int) -> float:
        await live.wait_for(match, within, start)
        index = live.find(match, start)
        assert index is not None
        return live.messages[index][0]

    return list(await asyncio.gather(*(one(s, i) for s, i in zip(sockets, starts, strict=True))))


def is_navigate_to_login(message: dict[str, Any]) -> bool:
    """The revoke message of an ``!auth`` page: go to the sign-in page."""
    return message.get("type") == "navigate" and message.get("path") == "/login_local"


# Redis ------------------------------------------------------------------------------


class RedisServer:
    """A private ``redis-server`` (no persistence) that the caller may kill and restart."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.log_path = workdir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it on its port and wait until it answers PING."""
        if not os.path.exists(self.binary):
            raise HarnessError(f"redis-server not found at {self.binary}")
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"redis-server exited: {self.log_path.read_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise HarnessError(f"redis-server did not answer: {self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL it: an outage, not a clean shutdown."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
