"""A process that hashes with machine slots and logs when its hashes hold one.

Run by tests/unit/test_machine_slots.py, one OS process per simulated worker::

    python -m tests.unit._slot_worker SLOTS_DIR SLOTS THREADS JOBS LOG GATE

It starts ``JOBS`` hashes at once on an ``Argon2Hasher`` with ``SLOTS`` machine slots
in ``SLOTS_DIR`` and ``THREADS`` pool threads. It appends one line per event to
``LOG`` (``O_APPEND``, one ``write`` per line, so lines from several processes never
mix):

* ``wait PID:TID``: a thread starts waiting for a slot;
* ``busy PID:TID``: the head of the queue found every slot taken (once per wait);
* ``enter PID:TID``: a hash holds a slot (logged after taking it);
* ``exit PID:TID``: the hash is done (logged before giving the slot back).

Between ``enter`` and ``exit`` each hash waits for a shared flock on ``GATE``, which
the test holds exclusively until it has seen what it wants: so a test can stop
every slot holder in place, count them, and let them go.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
import threading

from pywire_auth import Argon2Hasher

FAST = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}


class LoggedHasher(Argon2Hasher):
    def __init__(self, log: str, gate: str, **kwargs: int | str) -> None:
        super().__init__(**{**FAST, **kwargs})  # type: ignore[arg-type]
        self.log, self.gate = log, gate
        self._busy_seen: set[int] = set()
        assert self._slots is not None, "machine slots are off"
        acquire, try_acquire = self._slots.acquire, self._slots.try_acquire

        def logged_acquire(give_up: threading.Event) -> int | None:
            self._busy_seen.discard(threading.get_native_id())
            self.write("wait")
            return acquire(give_up)

        def logged_try_acquire() -> int | None:
            index = try_acquire()
            me = threading.get_native_id()
            if index is None and me not in self._busy_seen:
                self._busy_seen.add(me)
                self.write("busy")
            return index

        self._slots.acquire = logged_acquire  # type: ignore[method-assign]
        self._slots.try_acquire = logged_try_acquire  # type: ignore[method-assign]

    def write(self, event: str) -> None:
        line = f"{event} {os.getpid()}:{threading.get_native_id()}\n".encode()
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    async def hash(self, password: str) -> str:
        return await self._run(self._gated_hash, password)

    def _gated_hash(self, password: str) -> str:
        self.write("enter")
        try:
            fd = os.open(self.gate, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # blocks while the test holds the gate
            finally:
                os.close(fd)
            return self._hasher.hash(password)
        finally:
            self.write("exit")


async def main(slots_dir: str, slots: int, threads: int, jobs: int, log: str, gate: str) -> None:
    hasher = LoggedHasher(
        log, gate, machine_slots=slots, slots_dir=slots_dir, max_workers=threads, max_pending=jobs
    )
    passwords = [f"password {os.getpid()} {i}" for i in range(jobs)]
    hashes = await asyncio.gather(*(hasher.hash(p) for p in passwords))
    for pw_hash, password in zip(hashes, passwords, strict=True):
        assert await hasher.verify(pw_hash, password)
    hasher.close()


if __name__ == "__main__":
    slots_dir, slots, threads, jobs, log, gate = sys.argv[1:7]
    asyncio.run(main(slots_dir, int(slots), int(threads), int(jobs), log, gate))
