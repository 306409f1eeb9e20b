"""Debian's Chromium under Playwright: where it is and how it is launched.

Shared by the browser tests (tests/e2e/conftest.py) and
``scripts/screenshots.py``. Playwright is never allowed to fetch a browser of
its own: the executable is ``$PYWIRE_AUTH_CHROMIUM`` or ``/usr/bin/chromium``
(``scripts/services/chromium.sh`` installs it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from playwright.async_api import Browser, async_playwright

CHROMIUM_ENV = "PYWIRE_AUTH_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless in a container: no sandbox (no user namespaces), no GPU, no /dev/shm
# (often tiny), and no background traffic to Google's services.
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


def chromium_executable() -> str:
    """``$PYWIRE_AUTH_CHROMIUM`` or Debian's ``/usr/bin/chromium`` (maybe missing)."""
    return os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM


def chromium_missing(path: str) -> str | None:
    """Why ``path`` cannot be launched, or ``None`` when it can."""
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return None
    return f"Chromium not found at {path}: run scripts/services/chromium.sh"


@contextlib.asynccontextmanager
async def launch_chromium(executable: str) -> AsyncIterator[Browser]:
    """Headless Chromium at ``executable`` with :data:`CHROMIUM_ARGS`; closed after."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
