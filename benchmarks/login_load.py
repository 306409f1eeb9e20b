"""Login throughput against the Argon2 limit, and event-loop health under that load.

    .venv/bin/python benchmarks/login_load.py [--logins 48] [--concurrency 8 16]

Prints, measured in this run on this machine:
  * raw argon2-cffi verifies/s with the same parameters (best of 1..2*cores threads):
    the most this hardware can do;
  * logins/s over HTTP at each concurrency, and its ratio to that limit (goal >= 0.9);
  * p50/p99 latency of a page GET while the logins run, against idle (goal p99 < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import httpx

HERE = Path(__file__).resolve().parent


def raw_verifies_per_second(seconds: float = 8.0) -> tuple[float, int]:
    hasher = argon2.PasswordHasher()
    pw_hash = hasher.hash("bench-password")
    best, best_threads = 0.0, 1
    cores = os.cpu_count() or 1
    for threads in sorted({1, cores, 2 * cores}):
        deadline = time.perf_counter() + seconds / 3

        def worker() -> int:
            done = 0
            while time.perf_counter() < deadline:
                hasher.verify(pw_hash, "bench-password")
                done += 1
            return done

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            total = sum(pool.map(lambda _: worker(), range(threads)))
        rate = total / (time.perf_counter() - start)
        if rate > best:
            best, best_threads = rate, threads
    return best, best_threads


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


async def page_latencies(client: httpx.AsyncClient, base: str, stop: asyncio.Event) -> list[float]:
    samples = []
    while not stop.is_set():
        start = time.perf_counter()
        response = await client.get(base + "/")
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
        await asyncio.sleep(0.02)
    return samples


async def login_load(base: str, logins: int, concurrency: int) -> tuple[float, list[float], int]:
    remaining = logins
    failures = 0

    async def worker() -> None:
        nonlocal remaining, failures
        async with httpx.AsyncClient(timeout=120) as client:
            while remaining > 0:
                remaining -= 1
                response = await client.post(
                    base + "/auth/local/login",
                    data={"email": "bench@example.com", "password": "bench-password"},
                )
                if response.status_code != 303 or "error=" in response.headers["location"]:
                    failures += 1

    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=120) as prober:
        probe = asyncio.create_task(page_latencies(prober, base, stop))
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        stop.set()
        samples = await probe
    return logins / elapsed, samples, failures


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(args: argparse.Namespace) -> None:
    limit, threads = raw_verifies_per_second()
    print(f"raw argon2-cffi verify (defaults, best with {threads} threads): {limit:.2f}/s")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite+aiosqlite:///{tmp}/bench.db"
        server = subprocess.Popen([sys.executable, str(HERE / "_server.py"), str(port), db])
        try:
            await wait_ready(base)
            async with httpx.AsyncClient() as client:
                idle = await asyncio.wait_for(page_latencies_for(client, base, 100), timeout=120)
            print(
                f"idle page GET: p50 {percentile(idle, 0.5):.1f} ms, p99 {percentile(idle, 0.99):.1f} ms"
            )
            for concurrency in args.concurrency:
                rate, busy, failures = await login_load(base, args.logins, concurrency)
                print(
                    f"concurrency {concurrency:>2}: {rate:.2f} logins/s = {rate / limit:.2f} x limit; "
                    f"page GET under load p50 {percentile(busy, 0.5):.1f} ms, "
                    f"p99 {percentile(busy, 0.99):.1f} ms ({len(busy)} samples); failures {failures}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


async def page_latencies_for(client: httpx.AsyncClient, base: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        (await client.get(base + "/")).raise_for_status()
        samples.append(time.perf_counter() - start)
    return samples


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=48)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    asyncio.run(run(parser.parse_args()))
