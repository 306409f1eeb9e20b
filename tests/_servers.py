"""Real server processes for tests, benchmarks and scripts: start, wait, log, stop.

One place owns the life of a server subprocess (the scale tests' ``pywire run``,
the browser tests' ``pywire dev``, tests/web's uvicorn ``LiveServer``,
``scripts/screenshots.py``):

* :func:`free_port`: a loopback port nobody listens on (and, for servers, one no
  earlier server of this process used: ``pywire dev`` checks its port without
  SO_REUSEADDR, so a port in TIME_WAIT would be refused).
* :func:`copy_example` / :func:`fresh_env_lines`: ``examples/local_idp`` copied
  to a folder of its own with a fresh ``.env``, so its SQLite file and
  ``.pywire/`` land there.
* :class:`PywireServer`: ``pywire run`` / ``pywire dev`` on an app folder.
* :class:`ServerProcess`: a command started in its own process group on a free
  loopback port (or on a socket bound here and handed over), its output in a log
  file; :meth:`~ServerProcess.start` waits until ``GET /`` (or its
  ``probe_path``) answers 200, :meth:`~ServerProcess.stop` ends the whole group,
  and every failure raises :class:`ServerError` carrying the log. ``with server:``
  starts it and stops it after.

Nothing here imports pytest: a fixture turns :class:`ServerError` into a test
failure, a script into its exit message. (``tests/backends/_servers.py`` is a
different helper: uvicorn processes on sockets the test bound, and a TCP proxy.)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "local_idp"
SQLITE_DB = "sqlite+aiosqlite:///./local-auth.db"
PYWIRE_CLI = Path(sys.executable).parent / "pywire"

# Variables the app reads: the child takes them from its .env (or the extra
# environment its owner gives) only, never from whoever runs the tests: a real
# environment variable would win over the file.
SCRUBBED_ENV = (
    "PYWIRE_SESSION_SECRET",
    "LOCAL_IDP_SECRET",
    "LOCAL_AUTH_DB",
    "PYWIRE_MODE",
    "PYWIRE_SECRET_KEY",
    "REDIS_URL",
    "FLY_REDIS_URL",
)

# Every port a server of this process was given, so none is handed out twice.
_USED_PORTS: set[int] = set()


class ServerError(Exception):
    """A server process did not start, answer or stop as it must."""


def free_port(avoid: set[int] | None = None) -> int:
    """A loopback port nobody listens on right now.

    With ``avoid``, never one in it, and the port found is added to it.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if avoid is None:
            return port
        if port not in avoid:
            avoid.add(port)
            return port
    raise ServerError("no free port found")


def fresh_env_lines(db_url: str = SQLITE_DB) -> list[str]:
    """A new deployment's ``.env``: fresh secrets, the database at ``db_url``."""
    return [
        f"PYWIRE_SESSION_SECRET={secrets.token_hex(32)}",
        f"LOCAL_IDP_SECRET={secrets.token_hex(32)}",
        f"LOCAL_AUTH_DB={db_url}",
    ]


def copy_example(
    dest: Path, env_lines: Iterable[str] | None = None, *, main_py: str | None = None
) -> Path:
    """``examples/local_idp`` in ``dest`` (an existing folder) with its own ``.env``.

    ``env_lines`` are the ``.env`` (default :func:`fresh_env_lines`); ``main_py``
    replaces the example's ``main.py`` text (the pages are always verbatim).
    """
    if main_py is None:
        shutil.copy2(EXAMPLE / "main.py", dest / "main.py")
    else:
        (dest / "main.py").write_text(main_py)
    shutil.copy2(EXAMPLE / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(EXAMPLE / "src" / "pages", dest / "src" / "pages")
    lines = fresh_env_lines() if env_lines is None else list(env_lines)
    (dest / ".env").write_text("\n".join(lines) + "\n")
    return dest


class ServerProcess:
    """One server command run from ``cwd`` on a loopback port, in its own process group.

    Subclasses give :meth:`command` (the port is known by then) and may narrow
    :meth:`ready_to_probe`. The child's environment is ours without
    :data:`SCRUBBED_ENV` (and ``scrub``, ``scrub_prefixes``), plus ``extra_env``.
    """

    start_timeout = 60.0
    stop_timeout = 15.0
    probe_timeout = 2.0
    poll_interval = 0.2
    #: The path that must answer 200 before the server counts as started.
    probe_path = "/"
    #: Bind the listening socket here and hand it to the child (as
    #: :attr:`listen_fd`, for :meth:`command`): the port is known before the
    #: child starts and nobody can take it meanwhile.
    bind_socket = False

    def __init__(
        self,
        cwd: Path,
        *,
        name: str = "server",
        log_path: Path | None = None,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        scrub_prefixes: tuple[str, ...] = (),
        scrub: tuple[str, ...] = (),
        label: str | None = None,
    ) -> None:
        self.cwd = cwd
        self.name = name
        self.label = label or name
        self.log_path = log_path or cwd / f"{name}.log"
        self.extra_env = dict(extra_env or {})
        self.scrub = (*SCRUBBED_ENV, *scrub)
        self.scrub_prefixes = scrub_prefixes
        self.listen_fd = -1
        # A port chosen up front lets the app's .env name its own URL (the
        # public base URL of mailed links); otherwise a new one each start.
        self._fixed_port = port
        self.port = port or 0
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # What a subclass says -----------------------------------------------------------

    def command(self) -> list[str]:
        """The command line, run once :attr:`port` is set."""
        raise NotImplementedError

    def ready_to_probe(self) -> bool:
        """Whether to probe yet (a multi-worker server waits for all its workers)."""
        return True

    # Addresses and log --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + path

    def log_text(self) -> str:
        """Everything the server printed so far (over all its starts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"

    def log_since_start(self) -> bytes:
        """What the server printed since its latest start."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read()

    def fail(self, message: str) -> ServerError:
        """An error carrying this server's log."""
        header = f"--- {self.name} log ({self.log_path}) ---"
        return ServerError(f"{message}\n{header}\n{self.log_text()}")

    # Life ---------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The child's environment: ours, scrubbed, with ``extra_env`` and plain output."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in self.scrub and not key.startswith(self.scrub_prefixes)
        }
        env.update(self.extra_env)
        env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb", COLUMNS="200")
        env.pop("FORCE_COLOR", None)
        return env

    def start(self) -> None:
        """Start the command on a free port; wait until :attr:`probe_path` answers 200."""
        if self.proc is not None:
            raise ServerError(f"{self.name} already running")
        listener = self._listen() if self.bind_socket else None
        try:
            if listener is None:
                self.port = self._fixed_port or free_port(_USED_PORTS)
            self.starts += 1
            cmd = self.command()
            if not Path(cmd[0]).exists():
                raise ServerError(f"{cmd[0]} not found")
            with self.log_path.open("ab") as log:
                log.write(f"\n===== start #{self.starts}: {' '.join(cmd)} =====\n".encode())
                log.flush()
                self._log_offset = log.tell()
                self.proc = subprocess.Popen(
                    cmd,
                    cwd=self.cwd,
                    env=self.environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=() if listener is None else (listener.fileno(),),
                    start_new_session=True,
                )
        finally:
            if listener is not None:
                listener.close()  # the child has its own copy now
                self.listen_fd = -1
        self._wait_ready()

    def _listen(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", self._fixed_port or 0))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self.port = int(listener.getsockname()[1])
        self.listen_fd = listener.fileno()
        return listener

    def _wait_ready(self) -> None:
        assert self.proc is not None
        label = self.label
        deadline = time.monotonic() + self.start_timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise self.fail(f"{label} exited with code {code} before answering")
            if self.ready_to_probe():
                try:
                    # Always http://127.0.0.1:<port>/..., built here.
                    probe = self.url(self.probe_path)
                    with urllib.request.urlopen(probe, timeout=self.probe_timeout) as r:  # noqa: S310
                        if r.status == 200:
                            return
                        last = f"HTTP {r.status}"
                except urllib.error.HTTPError as exc:
                    last = f"HTTP {exc.code}"
                except (OSError, urllib.error.URLError) as exc:
                    last = repr(exc)
            time.sleep(self.poll_interval)
        self.stop()
        raise self.fail(
            f"{label} did not answer GET {self.probe_path} on {self.base_url} within "
            f"{self.start_timeout:.0f} s (last: {last})"
        )

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            # Workers outliving their supervisor would keep the port and the
            # database busy.
            os.killpg(proc.pid, signal.SIGKILL)
        with self.log_path.open("ab") as log:
            log.write(
                f"\n===== stopped #{self.starts}: exit code {proc.returncode} =====\n".encode()
            )

    def __enter__(self) -> Self:
        """Start (and, if that fails half-way, stop) the server."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def restart(self) -> None:
        """A new process on the same folder (same ``.env``, same database)."""
        self.stop()
        self.start()


class PywireServer(ServerProcess):
    """``pywire <mode> main:app`` (``run`` or ``dev``) serving an app folder."""

    def __init__(
        self,
        app_dir: Path,
        mode: str,
        *,
        options: Iterable[str] = (),
        name: str = "server",
        log_path: Path | None = None,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        scrub_prefixes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            app_dir,
            name=name,
            log_path=log_path,
            port=port,
            extra_env=extra_env,
            scrub_prefixes=scrub_prefixes,
            label=f"pywire {mode}",
        )
        self.app_dir = app_dir
        self.mode = mode
        self.options = list(options)

    def command(self) -> list[str]:
        """``pywire <mode> main:app --host 127.0.0.1 --port <port> <options>``."""
        return [
            str(PYWIRE_CLI),
            self.mode,
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.options,
        ]
