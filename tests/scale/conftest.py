"""Fixtures for the scale tests: the example app under the real ``pywire run``.

``run_server`` is one ``pywire run`` (default worker count, SQLite) shared by the
tests of a module: starting five workers costs seconds on a busy machine. Each
test uses its own accounts, so they do not disturb each other. When a test
fails, the log of every server it used is attached to its report.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.conftest import attach_server_log
from tests.scale._harness import RedisServer, RunServer, make_app_dir

# ``attach(request, server)``: show ``server``'s log if the current test fails.
attach = attach_server_log


@pytest.fixture(scope="module")
def shared_run_server(tmp_path_factory: pytest.TempPathFactory) -> Generator[RunServer, None, None]:
    """The example on SQLite under ``pywire run`` with its default workers."""
    app_dir = make_app_dir(
        tmp_path_factory.mktemp("run") / "local_idp", "sqlite+aiosqlite:///./local-auth.db"
    )
    with RunServer(app_dir) as server:
        yield server


@pytest.fixture
def run_server(request: pytest.FixtureRequest, shared_run_server: RunServer) -> RunServer:
    """The module's ``pywire run`` server, its log attached to this test."""
    attach(request, shared_run_server)
    return shared_run_server


@pytest.fixture
def redis_server(tmp_path: Path) -> Generator[RedisServer, None, None]:
    """A private redis-server the test may kill and restart; stopped at teardown."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
