"""Revoke-to-navigate latency across the worker processes of ``pywire run``.

The example app (SQLite) runs under the real ``pywire run`` with its default
worker count ((cpu_count * 2) + 1), through the scale tests' harness
(tests/scale/_harness.py). Each round signs a user in twice, opens live
``/profile`` pages until every worker holds at least one, then POSTs
``/auth/local/revoke`` from a third session and records, for every page, the time
from just before that POST to the arrival of its ``navigate`` to ``/login_local``.

Two channels, each on its own server:

* ``embedded``: no ``REDIS_URL``; events go through the auth store's event table,
  polled by every worker every 0.25 s;
* ``redis``: ``REDIS_URL`` set to a ``redis-server`` this script starts (no
  persistence) and stops; events go over Redis pub/sub (and the event table);
* ``postgres`` (when ``--postgres URL`` or ``PYWIRE_AUTH_TEST_POSTGRES_URL`` is
  given): the store on PostgreSQL with ``PYWIRE_AUTH_CHANNEL=postgres``; events go
  over LISTEN/NOTIFY (and the event table).

Baseline, measured in the same rounds: the revoke POST's own response time.

    .venv/bin/python benchmarks/live_revoke.py            # longer: --rounds 20 --pages 15
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import reset_database
from tests.scale._harness import (
    RedisServer,
    RunServer,
    is_navigate_to_login,
    make_app_dir,
    revoke,
    sign_in,
    spread_sockets,
    wait_all,
)

PASSWORD = "correct horse battery staple"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


async def measure(server: RunServer, rounds: int, pages: int) -> tuple[list[float], list[float]]:
    """Latencies (s) of every page in every round, and each round's POST time."""
    email = "bench@example.com"
    await sign_in(server.base_url, email, PASSWORD, register=True)
    latencies: list[float] = []
    posts: list[float] = []
    for index in range(rounds + 1):
        cookies = [await sign_in(server.base_url, email, PASSWORD) for _ in range(2)]
        sockets, _owners = await spread_sockets(server, cookies, least=pages)
        try:
            other = await sign_in(server.base_url, email, PASSWORD)
            started = time.monotonic()
            response = await revoke(server.base_url, other)
            post = time.monotonic() - started
            if response.status_code != 303:
                raise SystemExit(f"revoke answered {response.status_code}")
            arrived = await wait_all(sockets, is_navigate_to_login, 30)
        finally:
            await asyncio.gather(*(s.close() for s in sockets))
        if index == 0:
            continue  # warm-up round
        latencies.extend(t - started for t in arrived)
        posts.append(post)
    return latencies, posts


def run_mode(
    mode: str, workdir: Path, rounds: int, pages: int, postgres: str
) -> tuple[list[float], list[float]]:
    """Start a server for ``mode`` (and its Redis), measure, stop everything."""
    redis = RedisServer(workdir) if mode == "redis" else None
    env = {"REDIS_URL": redis.url} if redis is not None else {}
    db = "sqlite+aiosqlite:///./local-auth.db"
    if mode == "postgres":
        env, db = {"PYWIRE_AUTH_CHANNEL": "postgres"}, postgres
        asyncio.run(reset_database(postgres))
    app_dir = make_app_dir(workdir / mode, db)
    server = RunServer(app_dir, extra_env=env, name=mode)
    try:
        if redis is not None:
            redis.start()
        server.start()
        print(f"{mode}: {len(server.worker_pids())} workers on {server.base_url}", flush=True)
        return asyncio.run(measure(server, rounds, pages))
    finally:
        server.stop()
        if redis is not None:
            redis.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="measured rounds per channel")
    parser.add_argument("--pages", type=int, default=10, help="live pages per round (at least)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PYWIRE_AUTH_TEST_POSTGRES_URL", ""),
        help="a PostgreSQL URL (its pywire_auth tables are dropped) for the postgres channel",
    )
    args = parser.parse_args()
    rows = []
    modes = ["embedded", "redis"] + (["postgres"] if args.postgres else [])
    with tempfile.TemporaryDirectory(prefix="live-revoke-") as tmp:
        for mode in modes:
            latencies, posts = run_mode(mode, Path(tmp), args.rounds, args.pages, args.postgres)
            rows.append((mode, latencies, posts))
    print()
    print("| channel | pages | p50 ms | p99 ms | max ms | revoke POST p50 ms | p50 / POST |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode, latencies, posts in rows:
        p50 = percentile(latencies, 0.50)
        post = statistics.median(posts)
        print(
            f"| {mode} | {len(latencies)} | {p50 * 1000:.0f} | "
            f"{percentile(latencies, 0.99) * 1000:.0f} | {max(latencies) * 1000:.0f} | "
            f"{post * 1000:.0f} | {p50 / post:.1f}x |"
        )


if __name__ == "__main__":
    main()
