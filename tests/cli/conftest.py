"""The command line under click's CliRunner, on real database files and servers."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pywire_auth.cli.main import cli

IDP_SECRET = "cli-idp-secret-" + "3f9a1c7e5b2d4086c1e9a7f3b5d20c84"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def own_environment() -> Iterator[None]:
    """The command loads .env files into os.environ: give each test its own copy back."""
    saved = dict(os.environ)
    os.environ.pop("LOCAL_AUTH_DB", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("PYWIRE_AUTH_CHANNEL", None)
    os.environ["LOCAL_IDP_SECRET"] = IDP_SECRET
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Run:
    """Invoke ``pywire-auth --db URL ...`` in process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, stdin: str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(cli, ["--db", self.url, *args], input=stdin)
        assert result.exit_code == code, (result.exit_code, result.output, result.exception)
        return result

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self(*args, "--json", stdin=stdin).stdout)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    """A SQLite database file that does not exist yet."""
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@pytest.fixture
def run(sqlite_file: str) -> Run:
    """The command line on a fresh SQLite file."""
    return Run(sqlite_file)


def run_async(work: Any) -> Any:
    """Run a coroutine from a sync test (the command runs its own event loop)."""
    return asyncio.run(work)
