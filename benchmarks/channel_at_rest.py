"""What following other workers costs a worker at rest: the event-log channel vs none.

    .venv/bin/python benchmarks/channel_at_rest.py [--rounds 7] [--requests 300] [--db URL]

Starts the example app twice as one uvicorn process each, on the same SQLite file:
one with the default ``StoreAuthChannel`` (it polls ``pywire_auth_events`` every
0.25 s) and one with PyWire's in-process ``MemoryAuthChannel`` (no polling: the
baseline). Measured in this run on this machine:

* the server's CPU per second while idle (the poll's whole cost at rest);
* signed-in page requests/s, sequential over one keep-alive connection, rounds
  interleaved A/B, B/A, ...; the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from login_load import free_port, wait_ready
from signed_in_overhead import SIGNED_IN, cookie_header, cpu_ns, rate, sign_in

HERE = Path(__file__).resolve().parent
IDLE_SECONDS = 5.0


def start(port: int, db: str, channel: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_CHANNEL": channel}
    return subprocess.Popen([sys.executable, str(HERE / "_server.py"), str(port), db], env=env)


async def idle_cpu(pid: int) -> float:
    """CPU milliseconds per second the server spends while no request comes."""
    before = cpu_ns(pid)
    await asyncio.sleep(IDLE_SECONDS)
    return (cpu_ns(pid) - before) / 1e6 / IDLE_SECONDS


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        servers = {}
        clients = {}
        try:
            for name in ("store channel", "no channel"):
                port = free_port()
                channel = "memory" if name == "no channel" else "store"
                servers[name] = (start(port, db, channel), f"http://127.0.0.1:{port}")
                await wait_ready(servers[name][1])
            for name, (_server, base) in servers.items():
                cookie = await sign_in(base)
                clients[name] = httpx.AsyncClient(base_url=base, headers=cookie_header(cookie))
                await rate(clients[name], "/", args.requests, SIGNED_IN)  # warm-up
            idle = {name: await idle_cpu(server.pid) for name, (server, _) in servers.items()}
            rates: dict[str, list[float]] = {name: [] for name in servers}
            ratios = []
            for index in range(args.rounds):
                order = list(servers) if index % 2 == 0 else list(reversed(servers))
                for name in order:
                    per_second, _cpu = await rate(clients[name], "/", args.requests, SIGNED_IN)
                    rates[name].append(per_second)
                ratios.append(rates["store channel"][-1] / rates["no channel"][-1])
        finally:
            for client in clients.values():
                await client.aclose()
            for server, _base in servers.values():
                server.terminate()
                server.wait(timeout=60)
    for name in servers:
        print(
            f"{name:>13}: idle CPU {idle[name]:6.2f} ms/s, "
            f"signed-in pages {statistics.median(rates[name]):8.1f} req/s"
        )
    print(
        f"store channel / no channel, signed-in req/s: {statistics.median(ratios):.2f} x "
        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); following costs "
        f"{idle['store channel'] - idle['no channel']:+.2f} ms of CPU per second at rest"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--db", default="", help="a SQLAlchemy URL (default: a temp SQLite file)")
    asyncio.run(main(parser.parse_args()))
