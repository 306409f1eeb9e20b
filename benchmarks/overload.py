"""A login flood: beyond the bounded queue of pending hashes, answers are ``throttled`` at once
and memory stays bounded.

    .venv/bin/python benchmarks/overload.py [--logins 300] [--rounds 3] [--http-rounds 1]

Argon2 at argon2-cffi's default parameters takes 64 MiB per hash, so the default
``Argon2Hasher`` runs at most ``max_workers`` hashes at once (sized to a 512 MiB
budget and the CPU count) and accepts at most ``max_pending`` (64) running or
queued; one more raises ``ThrottledError`` immediately.

Prints, measured in this run on this machine:
  * in-process: ``--logins`` concurrent ``LocalIdP.verify_credentials`` calls (one user
    in a MemoryAuthStore, asyncio.gather) per round: how many completed and how many
    raised ThrottledError, how fast the throttled ones answered (p50/max, per call
    and counted from the start of the flood) against one Argon2 verification, and
    the process's peak RSS during the flood (VmRSS sampled every 20 ms) against its
    idle RSS and the bound ``max_workers x memory_cost``;
  * over HTTP (``--http-rounds 0`` to skip): the same flood of ``POST
    /auth/local/login`` against the example app (its pages, default hasher,
    MemoryAuthStore, sign-in rate limiting off so only the hashing bound answers
    ``throttled``) run in a subprocess, counting ``?error=throttled`` redirects, their
    latency, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import argon2
import httpx

from pywire_auth import Argon2Hasher, LocalIdP, MemoryAuthStore, ThrottledError

HERE = Path(__file__).resolve().parent
EMAIL, PASSWORD = "flood@example.com", "flood-password"
MIB = 1024 * 1024
SAMPLE_INTERVAL = 0.02

IDP_SECRET = "50b53aea3ca22e547ab5e3e37dbc4d9d"
SESSION_SECRET = "4fadec7ff299baecd39076ccae0d5b6a"


# Memory -----------------------------------------------------------------------------


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc/PID/status (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc status")


class PeakRss:
    """Samples a process's RSS in a thread every 20 ms; ``peak`` is the highest seen."""

    def __init__(self, pid: int | str = "self") -> None:
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (OSError, RuntimeError):
                return  # the process is gone
            self.samples += 1
            self._stop.wait(SAMPLE_INTERVAL)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# Reporting --------------------------------------------------------------------------


def ms(values: list[float], q: float) -> str:
    """The ``q`` quantile of ``values`` (seconds) in milliseconds, or ``-``."""
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}"


def mib(value: float) -> str:
    return f"{value / MIB:.0f} MiB"


# In-process flood -------------------------------------------------------------------


async def one_verify_seconds(idp: LocalIdP, times: int = 3) -> float:
    """Median latency of a single, uncontended sign-in (one Argon2 verification)."""
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        assert await idp.verify_credentials(email=EMAIL, password=PASSWORD) is not None
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def flood(idp: LocalIdP, logins: int) -> dict[str, list[float]]:
    """Fire ``logins`` sign-ins at once; latencies by outcome, per call and from the start."""
    out: dict[str, list[float]] = {
        "ok": [],
        "throttled": [],
        "throttled_from_start": [],
        "ok_from_start": [],
    }

    async def attempt() -> str:
        start = time.perf_counter()
        try:
            principal = await idp.verify_credentials(email=EMAIL, password=PASSWORD)
        except ThrottledError:
            now = time.perf_counter()
            out["throttled"].append(now - start)
            out["throttled_from_start"].append(now - t0)
            return "throttled"
        now = time.perf_counter()
        out["ok"].append(now - start)
        out["ok_from_start"].append(now - t0)
        return "ok" if principal is not None else "refused"

    t0 = time.perf_counter()
    answers = await asyncio.gather(*(attempt() for _ in range(logins)), return_exceptions=True)
    out["elapsed"] = [time.perf_counter() - t0]
    out["other"] = [1.0 for a in answers if a not in ("ok", "throttled")]
    return out


async def in_process(args: argparse.Namespace) -> None:
    hasher = Argon2Hasher()  # every default: argon2-cffi parameters, 512 MiB budget
    idp = LocalIdP(
        store=MemoryAuthStore(), secret="417e863a59265db00594b51155ef3900", hasher=hasher
    )
    per_hash = argon2.DEFAULT_MEMORY_COST * 1024
    bound = hasher.max_workers * per_hash
    print(
        f"in-process: default Argon2Hasher: max_workers {hasher.max_workers}, max_pending "
        f"{hasher.max_pending}, {mib(per_hash)} per hash -> hashing memory bound "
        f"{hasher.max_workers} x {mib(per_hash)} = {mib(bound)}"
    )
    await idp.create_user(email=EMAIL, password=PASSWORD)
    single = await one_verify_seconds(idp)
    print(f"  one sign-in, uncontended: {single * 1000:.0f} ms (one Argon2 verification)")
    rows = []
    for r in range(args.rounds):
        await asyncio.sleep(0.2)  # let freed hash memory go back to the OS
        idle = rss_bytes()
        with PeakRss() as sampler:
            out = await flood(idp, args.logins)
        growth = sampler.peak - idle
        rows.append((out, idle, sampler.peak, growth))
        print(
            f"  round {r + 1}: {args.logins} at once -> {len(out['ok'])} completed, "
            f"{len(out['throttled'])} ThrottledError, {len(out['other'])} other; "
            f"throttled answered in p50 {ms(out['throttled'], 0.5)} ms, max "
            f"{ms(out['throttled'], 1)} ms per call (last one {ms(out['throttled_from_start'], 1)}"
            f" ms after the flood began); completed ones took p50 {ms(out['ok'], 0.5)} ms, max "
            f"{ms(out['ok'], 1)} ms; flood over in {out['elapsed'][0]:.1f} s",
            flush=True,
        )
        print(
            f"           RSS idle {mib(idle)}, peak {mib(sampler.peak)} "
            f"(+{mib(growth)}; bound {mib(bound)}; {sampler.samples} samples)"
        )
    worst_throttled = max(float(ms(o["throttled"], 1)) for o, *_ in rows if o["throttled"])
    worst_growth = max(g for *_, g in rows)
    accepted = statistics.median(len(o["ok"]) for o, *_ in rows)
    print(
        f"  summary: accepted {accepted:.0f} of {args.logins} (max_pending "
        f"{hasher.max_pending}); slowest throttled answer {worst_throttled:.1f} ms = "
        f"{worst_throttled / (single * 1000):.3f} x one verification; peak RSS growth "
        f"{mib(worst_growth)} = {worst_growth / bound:.2f} x the {mib(bound)} bound"
    )
    await idp.aclose()


# Over HTTP --------------------------------------------------------------------------


def serve(port: int) -> None:
    """The subprocess: the example's pages with the default hasher (max_pending 64)."""
    import uvicorn
    from _server import PAGES
    from pywire import PyWire

    from pywire_auth import connect_auth

    async def main() -> None:
        app = PyWire(pages_dir=str(PAGES))
        idp = LocalIdP(store=MemoryAuthStore(), secret=IDP_SECRET)
        # Sign-in rate limiting would answer "throttled" by itself; off, so every
        # throttled answer here comes from the hashing queue's bound.
        connect_auth(
            app, local_idp=idp, session_secret="4fadec7ff299baecd39076ccae0d5b6a", throttle=None
        )
        await idp.create_user(email=EMAIL, password=PASSWORD)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", backlog=4096
        )
        await uvicorn.Server(config).serve()

    asyncio.run(main())


async def http_flood(base: str, logins: int, password: str = PASSWORD) -> dict[str, list[float]]:
    """``logins`` sign-in POSTs at once; latencies by answer. An empty password is
    refused as ``missing`` before any hashing: the HTTP stack's own cost."""
    out: dict[str, list[float]] = {"ok": [], "throttled": [], "missing": [], "other": []}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    # Clients are made before the clock starts (building one loads TLS settings).
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def attempt() -> None:
            start = time.perf_counter()
            try:
                response = await client.post(
                    base + "/auth/local/login", data={"email": EMAIL, "password": password}
                )
                status, location = response.status_code, response.headers.get("location", "")
            except httpx.HTTPError:
                status, location = 0, ""
            took = time.perf_counter() - start
            if "error=throttled" in location:
                out["throttled"].append(took)
            elif "error=missing" in location:
                out["missing"].append(took)
            elif status == 303 and "error=" not in location:
                out["ok"].append(took)
            else:
                out["other"].append(took)

        t0 = time.perf_counter()
        await asyncio.gather(*(attempt() for _ in range(logins)))
        out["elapsed"] = [time.perf_counter() - t0]
    return out


async def over_http(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from login_load import free_port, wait_ready

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])  # noqa: ASYNC220
    try:
        await wait_ready(base)
        async with httpx.AsyncClient() as client:  # one real sign-in: warm and check
            start = time.perf_counter()
            response = await client.post(
                base + "/auth/local/login", data={"email": EMAIL, "password": PASSWORD}
            )
            single = time.perf_counter() - start
            assert "error=" not in response.headers.get("location", "error="), "login failed"
        print(f"over HTTP: one sign-in, uncontended: {single * 1000:.0f} ms")
        for r in range(args.http_rounds):
            # Baseline: the same number of POSTs at once, each refused before any
            # hashing; what answering that many requests costs this HTTP stack.
            cheap = await http_flood(base, args.logins, password="")
            await asyncio.sleep(0.2)
            idle = rss_bytes(server.pid)
            with PeakRss(server.pid) as sampler:
                out = await http_flood(base, args.logins)
            print(
                f"  round {r + 1}: {args.logins} POSTs at once -> {len(out['ok'])} signed in, "
                f"{len(out['throttled'])} ?error=throttled, {len(out['other'])} other; "
                f"throttled answered in p50 {ms(out['throttled'], 0.5)} ms, max "
                f"{ms(out['throttled'], 1)} ms; signed-in ones took p50 {ms(out['ok'], 0.5)} ms, "
                f"max {ms(out['ok'], 1)} ms; flood over in {out['elapsed'][0]:.1f} s",
                flush=True,
            )
            ratio = statistics.median(out["throttled"]) / statistics.median(cheap["missing"])
            print(
                f"           baseline, {args.logins} POSTs refused before hashing (no Argon2 "
                f"running): p50 {ms(cheap['missing'], 0.5)} ms, max {ms(cheap['missing'], 1)} ms "
                f"-> throttled p50 = {ratio:.2f} x baseline p50"
            )
            print(
                f"           server RSS idle {mib(idle)}, peak {mib(sampler.peak)} "
                f"(+{mib(sampler.peak - idle)}; {sampler.samples} samples)"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


async def run(args: argparse.Namespace) -> None:
    print(f"overload: {args.logins} sign-ins at once, {os.cpu_count()} CPUs")
    if args.rounds:
        await in_process(args)
    if args.http_rounds:
        await over_http(args)


def main() -> None:
    # Hashers here (and in the HTTP server, which inherits this) take machine slots of
    # their own, not ones other apps of this user on the host share.
    os.environ.setdefault("PYWIRE_AUTH_HASH_SLOTS_DIR", tempfile.mkdtemp(prefix="overload-"))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="in-process floods (0: skip)")
    parser.add_argument("--http-rounds", type=int, default=1, help="floods over HTTP (0: skip)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
