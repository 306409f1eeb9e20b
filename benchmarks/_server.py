"""The app the HTTP benchmarks load: the example's pages, SQLite, throttling off.

Run by the benchmarks as a subprocess: python benchmarks/_server.py PORT DB_URL
(DB_URL ``memory`` runs on a MemoryAuthStore instead; BENCH_CHANNEL=memory swaps
the default event-log auth channel for PyWire's in-process one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import uvicorn
from pywire import PyWire
from pywire.auth import MemoryAuthChannel

from pywire_auth import (
    Argon2Hasher,
    AuthStore,
    LocalIdP,
    MemoryAuthStore,
    SQLAlchemyAuthStore,
    UserExistsError,
    connect_auth,
)

IDP_SECRET = "6f99431afc86c1f74056f8b052b071e1"
SESSION_SECRET = "2e904d3a22fa181c06f8e2e6db9c2816"
PAGES = Path(__file__).resolve().parents[1] / "examples" / "local_idp" / "src" / "pages"


def build(db_url: str) -> PyWire:
    app = PyWire(pages_dir=str(PAGES))
    workers = os.environ.get("BENCH_HASH_WORKERS")
    nice = int(os.environ.get("BENCH_HASH_NICE", "10"))
    hasher = Argon2Hasher(max_workers=int(workers) if workers else None, max_pending=256, nice=nice)
    store: AuthStore = MemoryAuthStore() if db_url == "memory" else SQLAlchemyAuthStore(db_url)
    idp = LocalIdP(store=store, secret=IDP_SECRET, hasher=hasher)
    # BENCH_CHANNEL=memory: PyWire's in-process channel instead of the default
    # event-log channel, to measure what following other workers costs.
    channel = MemoryAuthChannel() if os.environ.get("BENCH_CHANNEL") == "memory" else None
    # Throttling would refuse a benchmark's repeated logins by design.
    connect_auth(
        app,
        local_idp=idp,
        session_secret="2e904d3a22fa181c06f8e2e6db9c2816",
        throttle=None,
        auth_channel=channel,
    )
    return app


async def main(port: int, db_url: str) -> None:
    app = build(db_url)
    idp: LocalIdP = app.state.local_idp
    with contextlib.suppress(UserExistsError):  # already there from an earlier run
        await idp.create_user(email="bench@example.com", password="bench-password")
    # A long keep-alive: a benchmark's client may idle while another one is measured,
    # and a connection closed under it would fail its next request.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_keep_alive=120
    )
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
