"""Fixtures for the browser end-to-end tests.

* ``dev_server``: the ``examples/local_idp`` app copied to a temporary folder (so its
  SQLite file and ``.pywire/`` land there) with a fresh ``.env``, run by the real
  ``pywire dev`` CLI on a free loopback port. ``restart()`` starts a new process on
  the same folder (same ``.env``, same database) on a new port. The process itself
  (port, log, readiness, stop) is tests/_servers.py's.
* ``browser``: Debian's Chromium driven by Playwright (never a downloaded build),
  launched as tests/_chromium.py says. Missing Chromium skips the tests locally and
  fails them in CI (``CI=true``).

When a test fails, the server log is attached to its report (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests._chromium import CHROMIUM_ARGS as CHROMIUM_ARGS
from tests._chromium import CHROMIUM_ENV as CHROMIUM_ENV
from tests._chromium import DEFAULT_CHROMIUM as DEFAULT_CHROMIUM
from tests._chromium import chromium_executable, chromium_missing, launch_chromium
from tests._servers import EXAMPLE as EXAMPLE
from tests._servers import ROOT as ROOT
from tests._servers import PywireServer, ServerError
from tests._servers import copy_example as _copy_app
from tests.conftest import SERVER_LOGS, attach_server_log

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Kept for the tests that attach a server's log themselves.
_LOG_KEY = SERVER_LOGS

# Providers come from the .env too (PYWIRE_AUTH_OIDC_<NAME>_*), never from ours.
_SCRUBBED_PREFIXES = ("PYWIRE_AUTH_OIDC_",)


class DevServer(PywireServer):
    """One app folder, served by ``pywire dev``; restartable on a fresh port."""

    def __init__(self, app_dir: Path) -> None:
        super().__init__(
            app_dir,
            "dev",
            options=["--no-tui"],
            name="pywire dev",
            log_path=app_dir / "server.log",
            scrub_prefixes=_SCRUBBED_PREFIXES,
        )

    def start(self) -> None:
        """Start ``pywire dev``; a server that does not answer fails the test with its log."""
        try:
            super().start()
        except ServerError as exc:
            pytest.fail(str(exc))


def copy_example(dest: Path, extra_env: str = "") -> None:
    """The example app in ``dest`` with a fresh ``.env`` (plus ``extra_env`` lines)."""
    _copy_example(dest)
    with (dest / ".env").open("a") as env:
        env.write(extra_env)


def _copy_example(dest: Path) -> None:
    _copy_app(dest)


def serve(request: pytest.FixtureRequest, app_dir: Path) -> Generator[DevServer, None, None]:
    """A fixture's body: ``pywire dev`` on ``app_dir``, its log attached, stopped after."""
    server = DevServer(app_dir)
    attach_server_log(request, server)
    with server:
        yield server


@pytest.fixture
def dev_server(request: pytest.FixtureRequest, tmp_path: Path) -> Generator[DevServer, None, None]:
    """The example app served by ``pywire dev`` from a private copy."""
    app_dir = tmp_path / "local_idp"
    app_dir.mkdir()
    _copy_example(app_dir)
    yield from serve(request, app_dir)


def chromium_path() -> str:
    """Debian's Chromium (or ``$PYWIRE_AUTH_CHROMIUM``); skip, or fail in CI, without it."""
    path = chromium_executable()
    message = chromium_missing(path)
    if message is not None:
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium; Playwright is never allowed to fetch a browser of its own."""
    async with launch_chromium(chromium_path()) as instance:
        yield instance
