"""``uv run pywire dev`` in ``examples/local_idp`` serves this repository's code.

The specification boots the example with ``uv run pywire dev``. Without the
example's ``[tool.uv.sources]`` entry uv resolves ``pywire-auth`` from the package
index (0.4.0) and the example would demonstrate someone else's code. The test
copies the example as a new user would have it (``../..`` being the repository:
its ``pyproject.toml``, ``README.md`` and ``src``), lets uv build the environment
(packages from the index, ours editable from the copy's ``src``, a link to this
checkout's), starts the dev server, and asks a marker page which ``pywire_auth``
it imported.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests._servers import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "local_idp"
#: A first run downloads the example's packages from the index; later runs hit uv's cache.
START_TIMEOUT = 300.0
MARKER_PAGE = """---
import pywire_auth
where = pywire_auth.__file__
---
<p id="where">{where}</p>
"""


def uv_binary() -> str:
    # The dev extra installs uv into the test venv, next to this interpreter.
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: pip install -e '.[dev]' brings it")
    return found


def copy_example(into: Path) -> Path:
    """A copy of the example at ``into/examples/local_idp``; ``into`` stands in for the repo."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, into / name)
    (into / "src").symlink_to(ROOT / "src", target_is_directory=True)
    example = into / "examples" / "local_idp"
    shutil.copytree(
        EXAMPLE,
        example,
        ignore=shutil.ignore_patterns(".venv", "uv.lock", "*.db*", ".env", "__pycache__"),
    )
    (example / "src" / "pages" / "which_pywire_auth.wire").write_text(MARKER_PAGE)
    return example


def uv_env(tmp: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # PYTHONPATH would put this checkout on the path whatever uv installed;
        # VIRTUAL_ENV would point uv at the test venv instead of the example's.
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env.update(
        UV_PYTHON_DOWNLOADS="never",  # this interpreter, never one fetched from the network
        UV_NO_PROGRESS="1",
        PYWIRE_SESSION_SECRET=secrets.token_hex(32),
        LOCAL_IDP_SECRET=secrets.token_hex(32),
        LOCAL_AUTH_DB=f"sqlite+aiosqlite:///{tmp / 'local-auth.db'}",
    )
    return env


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    """``uv run pywire dev`` in a copy of the example; yields its base URL."""
    example = copy_example(tmp_path)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            uv_binary(),
            "run",
            "--python",
            sys.executable,
            "pywire",
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-tui",
        ],
        cwd=example,
        env=uv_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # uv, pywire and uvicorn's reloader: stopped as a group
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail("uv run pywire dev exited:\n" + _log(tmp_path))
            try:
                if httpx.get(base + "/register", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("uv run pywire dev did not start:\n" + _log(tmp_path))
            time.sleep(0.5)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _log(tmp: Path) -> str:
    return (tmp / "server.log").read_text(errors="replace")[-4000:]


def test_uv_run_pywire_dev_serves_this_repository(dev_server: str) -> None:
    page = httpx.get(dev_server + "/which_pywire_auth", timeout=30)
    assert page.status_code == 200
    start = page.text.index(">", page.text.index('id="where"')) + 1
    where = Path(unescape(page.text[start : page.text.index("<", start)]))
    assert where.resolve().is_relative_to(ROOT / "src"), where
