"""Argon2id password hashing that never blocks the event loop.

Argon2 is deliberately slow (tens to hundreds of milliseconds, 64 MiB of memory
per hash at argon2-cffi's defaults). Run on the event loop it freezes every other
request; run on an unbounded thread pool it exhausts memory under a login flood.
So hashes run on a small dedicated pool, sized to a memory budget, and beyond a
bounded number of pending hashes new requests fail fast with ThrottledError.

Argon2 at its default parallelism spreads one hash over four threads of its own, so
even two pool workers keep every core busy. The event loop then has to win CPU time
from them to answer a page request; the pool threads (and the threads Argon2 starts
from them, which inherit it) run at a lower scheduling priority (``nice``), so the
loop gets a core whenever it wants one while the hashes still use all idle CPU.

Those bounds are per process, and ``pywire run`` starts ``2 x CPUs + 1`` processes,
each with its own hasher. So on top of them, a hash runs only while its thread holds
one of the machine's hash slots (``_slots.py``): lock files shared by every process
that uses the same slots directory, sized to the CPU count and ``memory_budget``.
Threads waiting for a slot allocate nothing; Argon2's memory is taken only inside one.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pywire_auth.exceptions import ThrottledError
from pywire_auth.local import _slots

__all__ = ["Argon2Hasher"]

_T = TypeVar("_T")

# A fixed, public string: the dummy hash protects nothing, it only costs the same
# as a real verification so unknown emails cannot be told apart by timing.
_DUMMY_PASSWORD = "pywire-auth dummy password for timing equalization"  # noqa: S105


class Argon2Hasher:
    """Argon2id hashing on a bounded worker pool, bounded machine-wide as well.

    ``time_cost``, ``memory_cost`` (KiB) and ``parallelism`` default to
    argon2-cffi's own defaults. ``memory_budget`` is the hashing memory for the whole
    machine. At most ``machine_slots`` hashes run at once on this host, counted across
    every process whose hasher uses the same ``slots_dir`` (default: as many as the
    CPU count and ``memory_budget`` allow; ``0`` turns the machine-wide bound off).
    ``slots_dir`` defaults to ``$PYWIRE_AUTH_HASH_SLOTS_DIR``, else a per-user
    directory in the temp dir; without ``fcntl`` (Windows) there are no machine slots
    and ``machine_slots`` is 0. In this process at most ``max_workers`` hashes run at
    once (same default) and at most ``max_pending`` wait or run; one more raises
    :class:`~pywire_auth.exceptions.ThrottledError` immediately. Worker threads run
    ``nice`` steps below normal priority (Linux), so hashing yields to the event loop.

    >>> hasher = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)
    >>> h = asyncio.run(hasher.hash("correct horse"))
    >>> asyncio.run(hasher.verify(h, "correct horse"))
    True
    """

    def __init__(
        self,
        *,
        time_cost: int = argon2.DEFAULT_TIME_COST,
        memory_cost: int = argon2.DEFAULT_MEMORY_COST,
        parallelism: int = argon2.DEFAULT_PARALLELISM,
        max_workers: int | None = None,
        max_pending: int = 64,
        memory_budget: int = 512 * 1024 * 1024,
        nice: int = 10,
        machine_slots: int | None = None,
        slots_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        by_memory = max(1, memory_budget // (memory_cost * 1024))
        affordable = max(1, min(os.cpu_count() or 1, by_memory))
        if max_workers is None:
            max_workers = min(affordable, max_pending)
        if max_workers < 1 or max_pending < max_workers:
            raise ValueError("need max_workers >= 1 and max_pending >= max_workers")
        if machine_slots is None:
            machine_slots = affordable
        if machine_slots < 0:
            raise ValueError("need machine_slots >= 0")
        self.max_workers = max_workers
        self.max_pending = max_pending
        self.nice = nice
        self._slots: _slots.MachineSlots | None = None
        if machine_slots and _slots.SUPPORTED:
            directory = Path(slots_dir) if slots_dir is not None else _slots.default_slots_dir()
            self._slots = _slots.MachineSlots(machine_slots, directory)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._dummy_hash: str | None = None

    @property
    def machine_slots(self) -> int:
        """Hashes allowed at once on this machine; 0 when there is no machine-wide bound."""
        return self._slots.count if self._slots is not None else 0

    @property
    def slots_dir(self) -> Path | None:
        """The directory of the machine's hash slots, or ``None`` without them."""
        return self._slots.directory if self._slots is not None else None

    def __repr__(self) -> str:
        p = self._hasher
        return (
            f"Argon2Hasher(time_cost={p.time_cost}, memory_cost={p.memory_cost}, "
            f"parallelism={p.parallelism}, max_workers={self.max_workers}, "
            f"machine_slots={self.machine_slots})"
        )

    @property
    def pending(self) -> int:
        """How many hashes are running or queued right now."""
        return self._pending

    async def hash(self, password: str) -> str:
        """Return a new Argon2id hash of ``password``."""
        return await self._run(self._hasher.hash, password)

    async def verify(self, pw_hash: str, password: str) -> bool:
        """Check ``password`` against ``pw_hash``; malformed hashes give ``False``."""
        return await self._run(self._verify_sync, pw_hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend one verification's cost against a fixed hash with current parameters."""
        await self._run(self._dummy_sync, password)

    def needs_rehash(self, pw_hash: str) -> bool:
        """Whether ``pw_hash`` used other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(pw_hash)
        except (InvalidHashError, ValueError):
            return True

    def close(self) -> None:
        """Stop the worker threads once queued work is done."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=False)

    def _verify_sync(self, pw_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(pw_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError, ValueError):
            return False

    def _dummy_sync(self, password: str) -> None:
        if self._dummy_hash is None:
            # Made once, lazily, in a worker: a hash with the current parameters
            # costs exactly what verifying a real user's hash costs.
            self._dummy_hash = self._hasher.hash(_DUMMY_PASSWORD)
        self._verify_sync(self._dummy_hash, password)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers,
                    thread_name_prefix="pywire-auth-argon2",
                    initializer=_lower_thread_priority,
                    initargs=(self.nice,),
                )
            return self._executor

    async def _run(self, fn: Callable[..., _T], *args: str) -> _T:
        with self._lock:
            if self._pending >= self.max_pending:
                raise ThrottledError("too many password checks in progress; try again shortly")
            self._pending += 1
        give_up = threading.Event()
        try:
            future = self._pool().submit(self._in_slot, give_up, fn, *args)
        except BaseException:
            self._release()
            raise
        # Release the pending count when the thread finishes, not when the awaiting
        # task does: a cancelled request must not let more hashes run than allowed.
        future.add_done_callback(lambda _f: self._release())
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # A thread still waiting for a machine slot gives up without hashing, so
            # requests that are gone (client hung up, timeout) cannot keep the
            # machine's slots busy; a hash already running finishes and frees its slot.
            give_up.set()
            if self._slots is not None:
                self._slots.wake()
            raise

    def _in_slot(self, give_up: threading.Event, fn: Callable[..., _T], *args: str) -> _T:
        # Runs in a pool thread: the slot is taken and given back by the thread that
        # hashes, whatever happens to the request that asked for it.
        if self._slots is None:
            return fn(*args)
        slot = self._slots.acquire(give_up)
        if slot is None:
            raise CancelledError  # nobody awaits this result any more
        try:
            return fn(*args)
        finally:
            self._slots.release(slot)

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1


def _lower_thread_priority(nice: int) -> None:
    # On Linux, setpriority on a thread id changes that thread only, and threads it
    # creates (Argon2's lanes) inherit the value. Raising niceness needs no
    # privileges; where it is unsupported, hashing simply runs at normal priority.
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, current + nice))
    except OSError:
        pass
