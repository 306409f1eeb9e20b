"""Fixtures for the browser end-to-end tests.

* ``dev_server``: the ``examples/local_idp`` app copied to a temporary folder (so its
  SQLite file and ``.pywire/`` land there) with a fresh ``.env``, run by the real
  ``pywire dev`` CLI on a free loopback port. ``restart()`` starts a new process on
  the same folder (same ``.env``, same database) on a new port.
* ``browser``: Debian's Chromium driven by Playwright (never a downloaded build).
  Missing Chromium skips the tests locally and fails them in CI (``CI=true``).

When a test fails, the server log is attached to its report.
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
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "local_idp"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

CHROMIUM_ENV = "PYWIRE_AUTH_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# Variables the app reads: the child must take them from its own .env only
# (real environment variables would win over the file).
_SCRUBBED_ENV = (
    "PYWIRE_SESSION_SECRET",
    "LOCAL_IDP_SECRET",
    "LOCAL_AUTH_DB",
    "PYWIRE_MODE",
    "PYWIRE_SECRET_KEY",
    "REDIS_URL",
    "FLY_REDIS_URL",
)

# Providers come from the .env too (PYWIRE_AUTH_OIDC_<NAME>_*).
_SCRUBBED_PREFIXES = ("PYWIRE_AUTH_OIDC_",)

_LOG_KEY = pytest.StashKey[list["DevServer"]]()


def _free_port(used: set[int]) -> int:
    """A loopback port nobody listens on, never one this session used before.

    ``pywire dev`` checks its port without SO_REUSEADDR, so a port in TIME_WAIT
    after an earlier run would be refused.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in used:
            used.add(port)
            return port
    raise RuntimeError("no free port found")


class DevServer:
    """One app folder, served by ``pywire dev``; restartable on a fresh port."""

    _used_ports: set[int] = set()  # noqa: RUF012 - shared on purpose, across servers

    def __init__(self, app_dir: Path) -> None:
        self.app_dir = app_dir
        self.log_path = app_dir / "server.log"
        self.port = 0
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._pywire = Path(sys.executable).parent / "pywire"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"

    def _fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- server log ({self.log_path}) ---\n{self.log_text()}")

    def start(self) -> None:
        assert self._proc is None, "server already running"
        if not self._pywire.exists():
            pytest.fail(f"pywire CLI not found at {self._pywire}")
        self.port = _free_port(self._used_ports)
        self.starts += 1
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _SCRUBBED_ENV and not k.startswith(_SCRUBBED_PREFIXES)
        }
        env["PYTHONUNBUFFERED"] = "1"
        env["NO_COLOR"] = "1"
        env["TERM"] = "dumb"
        env.pop("FORCE_COLOR", None)
        cmd = [
            str(self._pywire),
            "dev",
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-tui",
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(cmd)} =====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.app_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no attempt"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                self._fail(f"pywire dev exited with code {code} before answering")
            try:
                # Always http://127.0.0.1:<port>/, built above.
                with urllib.request.urlopen(self.url("/"), timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except (OSError, urllib.error.URLError) as exc:
                last_error = repr(exc)
            time.sleep(0.2)
        self.stop()
        self._fail(
            f"pywire dev did not answer GET / on {self.base_url} within "
            f"{START_TIMEOUT:.0f} s (last: {last_error})"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        with self.log_path.open("ab") as log:
            log.write(
                f"\n===== stopped #{self.starts}: exit code {proc.returncode} =====\n".encode()
            )

    def restart(self) -> None:
        """A new process on the same folder: same ``.env``, same database, new port."""
        self.stop()
        self.start()


def copy_example(dest: Path, extra_env: str = "") -> None:
    """The example app in ``dest`` with a fresh ``.env`` (plus ``extra_env`` lines)."""
    _copy_example(dest)
    with (dest / ".env").open("a") as env:
        env.write(extra_env)


def _copy_example(dest: Path) -> None:
    shutil.copy2(EXAMPLE / "main.py", dest / "main.py")
    shutil.copy2(EXAMPLE / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(EXAMPLE / "src" / "pages", dest / "src" / "pages")
    (dest / ".env").write_text(
        f"PYWIRE_SESSION_SECRET={secrets.token_hex(32)}\n"
        f"LOCAL_IDP_SECRET={secrets.token_hex(32)}\n"
        "LOCAL_AUTH_DB=sqlite+aiosqlite:///./local-auth.db\n"
    )


@pytest.fixture
def dev_server(request: pytest.FixtureRequest, tmp_path: Path) -> Generator[DevServer, None, None]:
    """The example app served by ``pywire dev`` from a private copy."""
    app_dir = tmp_path / "local_idp"
    app_dir.mkdir()
    _copy_example(app_dir)
    server = DevServer(app_dir)
    request.node.stash.setdefault(_LOG_KEY, []).append(server)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def chromium_path() -> str:
    """Debian's Chromium (or ``$PYWIRE_AUTH_CHROMIUM``); skip, or fail in CI, without it."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = f"Chromium not found at {path}: run scripts/services/chromium.sh"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium; Playwright is never allowed to fetch a browser of its own."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.failed:
        for server in item.stash.get(_LOG_KEY, []):
            report.sections.append((f"pywire dev log ({server.log_path})", server.log_text()))
    return report
