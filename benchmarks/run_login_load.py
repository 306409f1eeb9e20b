"""Logins/s under ``pywire run`` (its default worker count) against the Argon2 limit.

    .venv/bin/python benchmarks/run_login_load.py [--rounds 3] [--logins 32] [--concurrency 8 16]

``pywire run`` is PyWire's production command: uvicorn with ``2 x CPUs + 1`` worker
processes, each importing the app and so building its own ``LocalIdP`` and
``Argon2Hasher``. This runs a copy of ``examples/local_idp`` that way, in a temporary
directory, with a SQLite file and every hasher default. Its ``main.py`` is the
example's plus ``throttle=None`` on ``connect_auth``: every login comes from
127.0.0.1, so the per-address sign-in limit (20 per 5 minutes) would otherwise be
what limits the run. The app's hash slots directory
(``PYWIRE_AUTH_HASH_SLOTS_DIR``) is private to the run, so only its own workers
share the machine-wide bound.

Prints, measured in this run on this machine:
  * raw argon2-cffi verifies/s with the same (default) parameters on all cores (best of
    1, cores and 2 x cores threads), measured again right before each round: the limit;
  * logins/s over HTTP at each concurrency and its ratio to that limit, the median of the
    per-round ratios (goal >= 0.85);
  * p50/p99 of a page GET while the logins run, against idle (goal p99 < 100 ms);
  * peak RSS of the whole ``pywire run`` process tree during the logins, against idle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from login_load import (
    _verify_until,
    free_port,
    ms,
    page_latencies_for,
    raw_rate,
    raw_verifies_per_second,
    run_clients,
    wait_ready,
)

from pywire_auth import LocalIdP, SQLAlchemyAuthStore

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "local_idp"
EMAIL, PASSWORD = "bench@example.com", "bench-password"
SECRET = "6e1ef95135974ffdbf2faccb76de4ee3de9a61f91b6cb8ef6c86193c778e4931"
# connect_auth refuses one key for both jobs.
SESSION_SECRET = "c3f0a8d14b7e29655e0d1f8a7b9c2e4d3a6f5b8c1d0e9f7a2b4c6d8e0f1a3b5c"
MIB = 1024 * 1024
# The sampler and the prober run on the same cores as the server: at 50 Hz and 20 Hz they
# took ~7% of the machine from the logins they measure (40 ms of CPU per login). RSS moves
# slowly, and 10 Hz still gives a few hundred latency samples for the p99.
SAMPLE_INTERVAL = 0.1
PROBE_INTERVAL = 0.1
HASH_NICE = 10  # Argon2Hasher's default ``nice``

# The example's main.py with the sign-in rate limit off (see the module docstring).
BENCH_MAIN = """\
import os
from pywire import PyWire
from pywire_auth import LocalIdP, SQLAlchemyAuthStore, connect_auth
app = PyWire(pages_dir="src/pages")
store = SQLAlchemyAuthStore(
    os.environ.get("LOCAL_AUTH_DB", "sqlite+aiosqlite:///./local-auth.db")
)
idp = LocalIdP(store=store)  # reads LOCAL_IDP_SECRET from env
connect_auth(app, local_idp=idp, throttle=None)
"""


# Memory of a process tree -----------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc/PID/task/TID/children."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
    return pids


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system, all threads, living and ended) of ``root``'s tree."""
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds this process has used (the clients, the prober, the sampler)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_rss(root: int) -> int:
    """Summed VmRSS of ``root``'s process tree, in bytes."""
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


def held_slots(inodes: set[int]) -> int:
    """How many of the slot files (by inode) someone holds an exclusive flock on."""
    held = 0
    with open("/proc/locks") as locks:
        for line in locks:
            # "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"; waiters have "->".
            parts = line.split()
            if len(parts) >= 6 and parts[1:4] == ["FLOCK", "ADVISORY", "WRITE"]:
                held += int(parts[5].rsplit(":", 1)[1]) in inodes
    return held


class TreeSampler:
    """Every 100 ms: the process tree's summed RSS (``peak``: the highest seen) and how
    many machine hash slots are held (``slots``: one count per sample)."""

    def __init__(self, root: int, slot_inodes: set[int]) -> None:
        self.root = root
        self.slot_inodes = slot_inodes
        self.peak = 0
        self.slots: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.root))
            if self.slot_inodes:
                self.slots.append(held_slots(self.slot_inodes))
            self._stop.wait(SAMPLE_INTERVAL)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def slot_inodes(directory: Path) -> set[int]:
    """The inodes of the app's slot files; none when the hasher keeps no machine slots."""
    return {path.stat().st_ino for path in directory.glob("slot-*")}


# The app under `pywire run` ---------------------------------------------------------


def prepare_app(tmp: Path) -> tuple[Path, dict[str, str]]:
    """Copy the example to ``tmp/app`` with the bench main.py; the server's environment."""
    app_dir = tmp / "app"
    shutil.copytree(EXAMPLE, app_dir, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    (app_dir / "main.py").write_text(BENCH_MAIN)
    env = {
        **os.environ,
        "LOCAL_IDP_SECRET": SECRET,
        "PYWIRE_SESSION_SECRET": SESSION_SECRET,
        "LOCAL_AUTH_DB": f"sqlite+aiosqlite:///{tmp}/bench.db",
        "PYWIRE_AUTH_HASH_SLOTS_DIR": str(tmp / "hash-slots"),
    }
    return app_dir, env


async def create_user(db_url: str) -> None:
    idp = LocalIdP(store=SQLAlchemyAuthStore(db_url), secret=SECRET)
    await idp.create_user(email=EMAIL, password=PASSWORD)
    await idp.aclose()


def pywire_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("pywire")
    if not script.exists():
        found = shutil.which("pywire")
        if found is None:
            raise SystemExit("the `pywire` command is missing: pip install 'pywire[cli]'")
        script = Path(found)
    # No --workers: the point is pywire run's own default.
    return [str(script), "run", "main:app", "--host", "127.0.0.1", "--port", str(port)]


async def logins(
    base: str, count: int, concurrency: int, sampler: TreeSampler
) -> tuple[float, list[float], Counter[str]]:
    """``count`` logins by ``concurrency`` clients while a prober GETs the home page.

    Like ``login_load.login_load``, but failures are counted by their ``?error=`` code.
    """
    remaining = count
    failures: Counter[str] = Counter()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                response = await client.post(
                    base + "/auth/local/login", data={"email": EMAIL, "password": PASSWORD}
                )
            except httpx.HTTPError as exc:
                failures[type(exc).__name__] += 1
                continue
            location = response.headers.get("location", "")
            if response.status_code != 303:
                failures[f"status {response.status_code}"] += 1
            elif "error=" in location:
                failures[location.split("error=", 1)[1].split("&", 1)[0]] += 1
            client.cookies.clear()  # every login is a fresh browser

    elapsed, samples = await run_clients(
        base, concurrency, worker, client_timeout=300, probe_interval=PROBE_INTERVAL, during=sampler
    )
    return count / elapsed, samples, failures


def niced_raw_rate(threads: int, seconds: float, nice: int) -> float:
    """``raw_rate`` with the verifying threads (and Argon2's lanes) ``nice`` steps lower."""

    def lower() -> None:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + nice))

    hasher = argon2.PasswordHasher()
    pw_hash = hasher.hash(PASSWORD)
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    with ThreadPoolExecutor(threads, initializer=lower) as pool:
        runs = [pool.submit(_verify_until, hasher, pw_hash, deadline) for _ in range(threads)]
        total = sum(run.result() for run in runs)
    return total / (time.perf_counter() - start)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def run(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(f"{cores} CPUs; load average at start {load()} (1/5/15 min)")
    best, threads = raw_verifies_per_second()
    print(f"raw argon2-cffi verify (defaults): best {best:.2f}/s with {threads} threads")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        app_dir, env = prepare_app(tmp)
        await create_user(env["LOCAL_AUTH_DB"])
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(  # noqa: ASYNC220 - once, before any load
            pywire_command(port), cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                await wait_ready(base)
            except RuntimeError:
                print((tmp / "server.log").read_text()[-4000:])
                raise
            async with httpx.AsyncClient() as client:
                idle = await asyncio.wait_for(page_latencies_for(client, base, 100), timeout=120)
            idle_rss = tree_rss(server.pid)
            print(
                f"pywire run: {len(children(server.pid))} child processes of the supervisor "
                f"(default workers = 2 x {cores} + 1 = {2 * cores + 1}, and multiprocessing's "
                f"helper); tree RSS idle {idle_rss / MIB:.0f} MiB; idle page GET "
                f"p50 {ms(idle, 0.5)} ms, p99 {ms(idle, 0.99)} ms"
            )
            inodes = slot_inodes(tmp / "hash-slots")
            print(
                f"machine hash slots: {len(inodes)}"
                + ("" if inodes else " (this version of the hasher keeps none)")
            )
            for concurrency in args.concurrency:
                await measure(args, base, server.pid, idle_rss, threads, concurrency, inodes)
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
    print(f"load average at end {load()}")


async def measure(
    args: argparse.Namespace,
    base: str,
    root: int,
    idle_rss: int,
    threads: int,
    concurrency: int,
    inodes: set[int],
) -> None:
    ratios, niced_ratios, rates, limits, busy, peaks = [], [], [], [], [], []
    held: list[int] = []
    raw_cpu: list[float] = []  # CPU seconds per raw verification
    login_cpu: list[float] = []  # CPU seconds of the server's process tree per login
    client_cpu: list[float] = []  # CPU seconds of this process (clients, prober) per login
    failures: Counter[str] = Counter()
    for _ in range(args.rounds):
        # The limit right before the logins, at normal priority; and right after, at
        # the app's hashing priority (nice +10): on a machine other work keeps busy, the
        # app's niced threads get less CPU than a baseline at normal priority would.
        cpu = own_cpu()
        limit = raw_rate(threads, seconds=args.limit_seconds)
        raw_cpu.append((own_cpu() - cpu) / (limit * args.limit_seconds))
        sampler = TreeSampler(root, inodes)
        server_cpu, cpu = tree_cpu(root), own_cpu()
        rate, samples, failed = await logins(base, args.logins, concurrency, sampler)
        login_cpu.append((tree_cpu(root) - server_cpu) / args.logins)
        client_cpu.append((own_cpu() - cpu) / args.logins)
        niced = niced_raw_rate(threads, args.limit_seconds, HASH_NICE)
        ratios.append(rate / limit)
        niced_ratios.append(rate / niced)
        rates.append(rate)
        limits.append(limit)
        peaks.append(sampler.peak)
        held += sampler.slots
        busy += samples
        failures += failed
    ratio = statistics.median(ratios)
    p99 = float(ms(busy, 0.99))
    print(
        f"concurrency {concurrency:>2}: {statistics.median(rates):.2f} logins/s = {ratio:.2f} x "
        f"limit (rounds {', '.join(f'{r:.2f}' for r in ratios)}; limit "
        f"{min(limits):.2f}-{max(limits):.2f}/s); "
        f"{statistics.median(niced_ratios):.2f} x the limit at nice +{HASH_NICE} "
        f"(rounds {', '.join(f'{r:.2f}' for r in niced_ratios)})\n"
        f"    page GET under load p50 {ms(busy, 0.5)} ms, p99 {p99:.1f} ms, max "
        f"{ms(busy, 1)} ms ({len(busy)} samples); peak tree RSS {max(peaks) / MIB:.0f} MiB "
        f"(+{(max(peaks) - idle_rss) / MIB:.0f} MiB over idle); "
        f"failures {sum(failures.values())} {dict(failures) or ''}\n"
        + (
            f"    machine hash slots held during the logins: mean {statistics.mean(held):.2f} "
            f"of {len(inodes)}, all held in {sum(h == len(inodes) for h in held) / len(held):.0%}"
            f" of {len(held)} samples\n"
            if held
            else ""
        )
        + f"    CPU per login: server tree {statistics.median(login_cpu) * 1000:.0f} ms + "
        f"clients and prober {statistics.median(client_cpu) * 1000:.0f} ms, against "
        f"{statistics.median(raw_cpu) * 1000:.0f} ms per raw verification\n"
        + f"    goal >= 0.85 x limit and p99 < 100 ms: "
        f"{'met' if ratio >= 0.85 and p99 < 100 else 'MISSED'}"
    )


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as kids:
                found.extend(int(kid) for kid in kids.read().split())
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logins", type=int, default=32, help="logins per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--limit-seconds", type=float, default=2.5, help="per baseline, per round")
    asyncio.run(run(parser.parse_args()))
