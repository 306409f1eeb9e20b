"""The price of being signed in: one page, signed in vs anonymous, on one uvicorn worker.

    .venv/bin/python benchmarks/signed_in_overhead.py [--rounds 7] [--requests 300]
        [--db sqlite|memory|URL] [--profile DIR]

Starts the example app (``benchmarks/_server.py``: the example's pages, a
SQLAlchemy store on a SQLite file by default) as one uvicorn process, signs in once,
then fetches ``/`` sequentially over one keep-alive connection per side: a client
without a cookie (anonymous) and a client sending the session cookie (signed in). The
page renders either "Hello, <name>" or "You are not signed in", so both sides do
about the same template work; the difference is the session lookup and the principal.

Prints, measured in this run on this machine, for each side the requests/s, the mean
latency and the server process's CPU time per request (all its threads, from
/proc/PID/task/*/schedstat), then two ratios, each the median of per-round ratios
with rounds interleaved A/B, B/A, ... so drift of the machine's speed cancels:

* signed-in req/s / anonymous req/s, wall clock (the issue's measure; goal >= 0.9);
* anonymous CPU / signed-in CPU per request: the throughput ratio of a saturated
  worker. Time other processes take on the cores does not count against either
  side, so on a busy machine this is the steadier figure.

``--db memory`` runs on a MemoryAuthStore; any other value is a SQLAlchemy URL.
``--profile DIR`` instead runs the server twice under cProfile, once serving only
anonymous requests and once only signed-in ones, and prints the functions whose
time per request grew the most (the stats files stay in DIR). cProfile sees the
event loop's thread only, and inflates small functions several times over.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from login_load import free_port, wait_ready

HERE = Path(__file__).resolve().parent
GOAL = 0.9
SIGNED_IN = "Hello, "
ANONYMOUS = "You are not signed in"
COOKIE = "pywire_auth_session"


async def sign_in(base: str) -> str:
    """The session cookie of the benchmark user (made by the server at start-up)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            base + "/auth/local/login",
            data={"email": "bench@example.com", "password": "bench-password"},
        )
        cookie = response.cookies.get(COOKIE)
        if response.status_code != 303 or not cookie:
            raise RuntimeError(f"sign-in failed: {response.status_code}")
        return cookie


def cpu_ns(pid: int) -> int:
    """CPU time the process ``pid`` has run, all threads, in ns (Linux schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total


def cookie_header(cookie: str) -> dict[str, str]:
    """The session cookie as a plain header, as a browser sends it.

    Not httpx's cookie jar: that runs http.cookiejar on every request, costing the
    client about as much as the whole signed-in overhead we measure, which would show
    up in the wall-clock ratio although the server does nothing for it.
    """
    return {"Cookie": f"{COOKIE}={cookie}"}


async def rate(
    client: httpx.AsyncClient, url: str, count: int, marker: str, pid: int | None = None
) -> tuple[float, float]:
    """Requests/s of ``count`` sequential GETs and the server's CPU us per request.

    Every page must show ``marker``: proof both sides did their work (the page saw,
    or did not see, the user).
    """
    cpu = cpu_ns(pid) if pid is not None else 0
    start = time.perf_counter()
    for _ in range(count):
        response = await client.get(url)
        if response.status_code != 200 or marker not in response.text:
            raise RuntimeError(f"unexpected page: {response.status_code} {response.text[:200]}")
    elapsed = time.perf_counter() - start
    cpu_us = (cpu_ns(pid) - cpu) / count / 1000 if pid is not None else 0.0
    return count / elapsed, cpu_us


def start_server(port: int, db: str, profile: Path | None = None) -> subprocess.Popen[bytes]:
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(profile)]
    return subprocess.Popen([*prefix, str(HERE / "_server.py"), str(port), db])


def stop_server(server: subprocess.Popen[bytes], *, profiled: bool = False) -> None:
    if profiled:
        # SIGINT: uvicorn shuts down and re-raises it as KeyboardInterrupt, after
        # which cProfile still writes its file (a re-raised SIGTERM kills it first).
        server.send_signal(signal.SIGINT)
    else:
        server.terminate()
    server.wait(timeout=60)


async def measure(args: argparse.Namespace, db: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, db)
    try:
        await wait_ready(base)
        cookie = await sign_in(base)
        anon = httpx.AsyncClient(base_url=base)
        signed = httpx.AsyncClient(base_url=base, headers=cookie_header(cookie))
        sides = {"anonymous": (anon, ANONYMOUS), "signed in": (signed, SIGNED_IN)}
        try:
            for client, marker in sides.values():  # warm-up: imports, compiled templates
                await rate(client, "/", args.requests, marker)
            rates: dict[str, list[float]] = {name: [] for name in sides}
            cpus: dict[str, list[float]] = {name: [] for name in sides}
            ratios, cpu_ratios = [], []
            for index in range(args.rounds):
                order = list(sides) if index % 2 == 0 else list(reversed(sides))
                for name in order:
                    client, marker = sides[name]
                    per_second, cpu = await rate(client, "/", args.requests, marker, server.pid)
                    rates[name].append(per_second)
                    cpus[name].append(cpu)
                ratios.append(rates["signed in"][-1] / rates["anonymous"][-1])
                cpu_ratios.append(cpus["anonymous"][-1] / cpus["signed in"][-1])
        finally:
            await anon.aclose()
            await signed.aclose()
    finally:
        stop_server(server)
    for name, values in rates.items():
        median = statistics.median(values)
        print(
            f"{name:>10}: {median:8.1f} req/s ({1000 / median:.3f} ms per request), "
            f"server CPU {statistics.median(cpus[name]):.0f} us per request"
        )
    extra = 1000 / statistics.median(rates["signed in"]) - 1000 / statistics.median(
        rates["anonymous"]
    )
    ratio = statistics.median(ratios)
    print(
        f"signed in / anonymous: {ratio:.2f} x (rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"{extra:+.3f} ms per signed-in request; goal >= {GOAL}: "
        f"{'met' if ratio >= GOAL else 'missed'}"
    )
    cpu_ratio = statistics.median(cpu_ratios)
    print(
        f"server CPU per request, anonymous / signed in: {cpu_ratio:.2f} x "
        f"(rounds {', '.join(f'{r:.2f}' for r in cpu_ratios)}): the throughput ratio of "
        "a saturated worker, unaffected by other processes taking the cores"
    )


async def profile(args: argparse.Namespace, db: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any request
    per_request: dict[str, pstats.Stats] = {}
    count = args.requests * args.rounds
    for name in ("anonymous", "signed in"):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        path = folder / f"{name.replace(' ', '_')}.prof"
        server = start_server(port, db, profile=path)
        try:
            await wait_ready(base)
            cookie = await sign_in(base) if name == "signed in" else None
            headers = cookie_header(cookie) if cookie else None
            async with httpx.AsyncClient(base_url=base, headers=headers) as client:
                marker = SIGNED_IN if cookie else ANONYMOUS
                await rate(client, "/", args.requests, marker)  # warm-up, profiled too
                await rate(client, "/", count, marker)
        finally:
            stop_server(server, profiled=True)
        per_request[name] = pstats.Stats(str(path))
    _print_growth(per_request["anonymous"], per_request["signed in"], count + args.requests)


def _print_growth(anon: pstats.Stats, signed: pstats.Stats, requests: int) -> None:
    def table(stats: pstats.Stats) -> dict[str, tuple[float, float]]:
        rows = stats.stats  # type: ignore[attr-defined]
        return {
            f"{Path(file).name}:{line}({func})": (tt, ct)
            for (file, line, func), (_cc, _nc, tt, ct, _callers) in rows.items()
        }

    a, s = table(anon), table(signed)
    total_a = sum(tt for tt, _ in a.values()) / requests * 1e6
    total_s = sum(tt for tt, _ in s.values()) / requests * 1e6
    print(f"profiled CPU per request: anonymous {total_a:.0f} us, signed in {total_s:.0f} us")
    for label, index in (("own time", 0), ("cumulative", 1)):
        growth = sorted(
            ((s[k][index] - a.get(k, (0.0, 0.0))[index]) / requests * 1e6, k) for k in s
        )
        print(f"largest growth per request, {label} (us):")
        for delta, key in reversed(growth[-25:]):
            print(f"  {delta:8.1f}  {key}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db == "sqlite":
            db = f"sqlite+aiosqlite:///{tmp}/bench.db"
        if args.profile is not None:
            await profile(args, db, Path(args.profile))
        else:
            await measure(args, db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300, help="requests per side per round")
    parser.add_argument("--db", default="sqlite", help="sqlite (a temp file), memory, or a URL")
    parser.add_argument("--profile", help="profile instead, writing .prof files here")
    asyncio.run(main(parser.parse_args()))
