"""Login throughput against the Argon2 limit, and event-loop health under that load.

    .venv/bin/python benchmarks/login_load.py [--rounds 3] [--logins 32] [--concurrency 8 16]

Prints, measured in this run on this machine:
  * raw argon2-cffi verifies/s with the same parameters (best of 1..2*cores threads):
    the most this hardware can do; it is measured again right before each round;
  * logins/s over HTTP at each concurrency, and its ratio to that limit (goal >= 0.9),
    the median over rounds;
  * p50/p99 latency of a page GET while the logins run, against idle (goal p99 < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import httpx

HERE = Path(__file__).resolve().parent
# A page request every 100 ms: steady background traffic whose latency we watch.
PROBE_INTERVAL = 0.05


def raw_verifies_per_second(seconds: float = 8.0) -> tuple[float, int]:
    hasher = argon2.PasswordHasher()
    pw_hash = hasher.hash("bench-password")
    best, best_threads = 0.0, 1
    cores = os.cpu_count() or 1
    for threads in sorted({1, cores, 2 * cores}):
        deadline = time.perf_counter() + seconds / 3
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            runs = [pool.submit(_verify_until, hasher, pw_hash, deadline) for _ in range(threads)]
            total = sum(run.result() for run in runs)
        rate = total / (time.perf_counter() - start)
        if rate > best:
            best, best_threads = rate, threads
    return best, best_threads


def _verify_until(hasher: argon2.PasswordHasher, pw_hash: str, deadline: float) -> int:
    done = 0
    while time.perf_counter() < deadline:
        hasher.verify(pw_hash, "bench-password")
        done += 1
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(base + "/")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def page_latencies(
    client: httpx.AsyncClient, base: str, stop: asyncio.Event, interval: float = PROBE_INTERVAL
) -> list[float]:
    samples = []
    while not stop.is_set():
        start = time.perf_counter()
        response = await client.get(base + "/")
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
        await asyncio.sleep(interval)
    return samples


async def login_load(base: str, logins: int, concurrency: int) -> tuple[float, list[float], int]:
    remaining = logins
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            response = await client.post(
                base + "/auth/local/login",
                data={"email": "bench@example.com", "password": "bench-password"},
            )
            if response.status_code != 303 or "error=" in response.headers["location"]:
                failures += 1
            client.cookies.clear()  # every login is a fresh browser

    elapsed, samples = await run_clients(base, concurrency, worker)
    return logins / elapsed, samples, failures


async def run_clients(
    base: str,
    concurrency: int,
    worker: Callable[[httpx.AsyncClient], Awaitable[None]],
    *,
    client_timeout: float = 120,
    probe_interval: float = PROBE_INTERVAL,
    during: contextlib.AbstractContextManager[object] | None = None,
) -> tuple[float, list[float]]:
    """Run ``worker`` on ``concurrency`` clients while a prober GETs the home page.

    Returns the seconds the workers took and the prober's latencies. ``during``
    is entered only while the workers run (a sampler).
    """
    # Clients are made before the clock starts: building one loads TLS settings,
    # which would stall this process's loop and be misread as server latency.
    clients = [httpx.AsyncClient(timeout=client_timeout) for _ in range(concurrency)]
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(timeout=client_timeout) as prober:
            probe = asyncio.create_task(page_latencies(prober, base, stop, probe_interval))
            with during or contextlib.nullcontext():
                start = time.perf_counter()
                await asyncio.gather(*(worker(client) for client in clients))
                elapsed = time.perf_counter() - start
            stop.set()
            samples = await probe
    finally:
        for client in clients:
            await client.aclose()
    return elapsed, samples


def ms(samples: list[float], q: float) -> str:
    """The ``q`` quantile of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}"


async def run(args: argparse.Namespace) -> None:
    # Each round measures the limit right before its logins and takes their ratio;
    # the median over rounds shrugs off this machine's speed drifting meanwhile.
    best, threads = raw_verifies_per_second()
    print(f"raw argon2-cffi verify (defaults): best {best:.2f}/s with {threads} threads")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite+aiosqlite:///{tmp}/bench.db"
        command = [sys.executable, str(HERE / "_server.py"), str(port), db]
        # The server's hashes take machine slots of their own, not ones other apps
        # of this user on the host share.
        env = {**os.environ, "PYWIRE_AUTH_HASH_SLOTS_DIR": f"{tmp}/hash-slots"}
        server = subprocess.Popen(command, env=env)  # noqa: ASYNC220 - once, before any load
        try:
            await wait_ready(base)
            async with httpx.AsyncClient() as client:
                idle = await asyncio.wait_for(page_latencies_for(client, base, 100), timeout=120)
            print(f"idle page GET: p50 {ms(idle, 0.5)} ms, p99 {ms(idle, 0.99)} ms")
            for concurrency in args.concurrency:
                ratios, rates, limits, busy, failures = [], [], [], [], 0
                for _ in range(args.rounds):
                    limit = raw_rate(threads, seconds=3.0)
                    rate, samples, failed = await login_load(base, args.logins, concurrency)
                    ratios.append(rate / limit)
                    rates.append(rate)
                    limits.append(limit)
                    busy += samples
                    failures += failed
                print(
                    f"concurrency {concurrency:>2}: {statistics.median(rates):.2f} logins/s "
                    f"= {statistics.median(ratios):.2f} x limit "
                    f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; "
                    f"limit {min(limits):.2f}-{max(limits):.2f}/s); page GET under load "
                    f"p50 {ms(busy, 0.5)} ms, p99 {ms(busy, 0.99)} ms, max {ms(busy, 1)} ms "
                    f"({len(busy)} samples); failures {failures}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


def raw_rate(threads: int, seconds: float) -> float:
    """Raw argon2-cffi verifies/s with ``threads`` threads for about ``seconds``."""
    hasher = argon2.PasswordHasher()
    pw_hash = hasher.hash("bench-password")
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        runs = [pool.submit(_verify_until, hasher, pw_hash, deadline) for _ in range(threads)]
        total = sum(run.result() for run in runs)
    return total / (time.perf_counter() - start)


async def page_latencies_for(client: httpx.AsyncClient, base: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        (await client.get(base + "/")).raise_for_status()
        samples.append(time.perf_counter() - start)
    return samples


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=32, help="logins per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    asyncio.run(run(parser.parse_args()))
