"""Argon2Hasher: correctness, off-loop execution and the bounded work queue.

Real Argon2 everywhere. Blocking and counting are done with small subclasses that
run through the hasher's own pool (``_run``), so the bounding logic under test is
the real one; nothing is timed.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator

import argon2
import pytest

from pywire_auth import Argon2Hasher, PasswordHasher, ThrottledError

FAST = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}
MIB = 1024 * 1024
WAIT = 30  # seconds; an upper bound for a thread to arrive, never a timing assertion


class RecordingHasher(Argon2Hasher):
    """Records, for each verification, the worker thread and the hash it checked."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**{**FAST, **kwargs})
        self.lock = threading.Lock()
        self.verify_threads: list[int] = []
        self.verified_hashes: list[str] = []

    def _verify_sync(self, pw_hash: str, password: str) -> bool:
        with self.lock:
            self.verify_threads.append(threading.get_ident())
            self.verified_hashes.append(pw_hash)
        return super()._verify_sync(pw_hash, password)


class GatedHasher(Argon2Hasher):
    """``hash`` goes through the real bounded pool, but its worker waits on ``gate``."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**{**FAST, **kwargs})
        self.gate = threading.Event()
        self.arrived = threading.Semaphore(0)
        self.finished = threading.Semaphore(0)
        self.hash_threads: list[int] = []

    async def hash(self, password: str) -> str:
        return await self._run(self._gated_hash, password)

    def _gated_hash(self, password: str) -> str:
        self.hash_threads.append(threading.get_ident())
        self.arrived.release()
        try:
            if not self.gate.wait(WAIT):
                raise RuntimeError("test never opened the gate")
            return self._hasher.hash(password)
        finally:
            self.finished.release()


async def wait_for(semaphore: threading.Semaphore, times: int = 1) -> None:
    """Wait, off the loop, until a worker thread released ``semaphore`` ``times`` times."""
    for _ in range(times):
        assert await asyncio.to_thread(semaphore.acquire, True, WAIT)


async def wait_until_idle(hasher: Argon2Hasher) -> None:
    for _ in range(WAIT * 1000):
        if hasher.pending == 0:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"hasher never went idle: pending={hasher.pending}")


@pytest.fixture
def hasher() -> Iterator[Argon2Hasher]:
    h = Argon2Hasher(**FAST)
    yield h
    h.close()


@pytest.fixture
def recording() -> Iterator[RecordingHasher]:
    h = RecordingHasher()
    yield h
    h.close()


@pytest.fixture
def gated() -> Iterator[GatedHasher]:
    h = GatedHasher(max_workers=1, max_pending=2)
    yield h
    h.gate.set()  # never leave a worker blocked, even when a test failed
    h.close()


# --- correctness ------------------------------------------------------------------------


def test_satisfies_the_protocol(hasher: Argon2Hasher) -> None:
    assert isinstance(hasher, PasswordHasher)


@pytest.mark.asyncio
async def test_hash_verify_roundtrip(hasher: Argon2Hasher) -> None:
    pw_hash = await hasher.hash("correct horse battery staple")
    assert pw_hash.startswith("$argon2id$")
    assert "m=8192,t=1,p=1" in pw_hash
    assert "correct horse" not in pw_hash
    assert await hasher.verify(pw_hash, "correct horse battery staple") is True
    assert await hasher.verify(pw_hash, "correct horse battery stapl") is False
    assert await hasher.verify(pw_hash, "Correct horse battery staple") is False
    assert await hasher.verify(pw_hash, "") is False


@pytest.mark.asyncio
async def test_hashes_are_salted(hasher: Argon2Hasher) -> None:
    first, second = await hasher.hash("same password"), await hasher.hash("same password")
    assert first != second
    assert await hasher.verify(second, "same password")


@pytest.mark.asyncio
async def test_unicode_and_nul_passwords(hasher: Argon2Hasher) -> None:
    pw_hash = await hasher.hash("pässwörd \u2603 \x00 tail")
    assert await hasher.verify(pw_hash, "pässwörd \u2603 \x00 tail")
    assert not await hasher.verify(pw_hash, "pässwörd \u2603 ")


@pytest.mark.asyncio
async def test_wrong_password_and_real_hash_from_another_hasher(hasher: Argon2Hasher) -> None:
    other = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    pw_hash = other.hash("from elsewhere")
    assert await hasher.verify(pw_hash, "from elsewhere") is True
    assert await hasher.verify(pw_hash, "not it") is False


@pytest.mark.parametrize(
    "bad_hash",
    [
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=8192,t=1,p=1$bad",
        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$!!!notbase64!!!",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "pbkdf2_sha256$260000$salt$hash",
        "\x00",
    ],
)
@pytest.mark.asyncio
async def test_malformed_hash_gives_false(hasher: Argon2Hasher, bad_hash: str) -> None:
    assert await hasher.verify(bad_hash, "password") is False


@pytest.mark.asyncio
async def test_truncated_hash_gives_false(hasher: Argon2Hasher) -> None:
    pw_hash = await hasher.hash("password")
    assert await hasher.verify(pw_hash[:-5], "password") is False
    assert await hasher.verify(pw_hash[:20], "password") is False


@pytest.mark.asyncio
async def test_needs_rehash_when_parameters_differ(hasher: Argon2Hasher) -> None:
    pw_hash = await hasher.hash("password")
    assert hasher.needs_rehash(pw_hash) is False
    stronger = Argon2Hasher(time_cost=2, memory_cost=8192, parallelism=1)
    more_memory = Argon2Hasher(time_cost=1, memory_cost=16384, parallelism=1)
    assert stronger.needs_rehash(pw_hash) is True
    assert more_memory.needs_rehash(pw_hash) is True
    # A hash made with other parameters still verifies: they are read from the hash.
    assert await stronger.verify(pw_hash, "password") is True
    stronger.close()


@pytest.mark.parametrize("bad_hash", ["", "garbage", "$2b$12$abc"])
def test_needs_rehash_for_malformed_hash(hasher: Argon2Hasher, bad_hash: str) -> None:
    assert hasher.needs_rehash(bad_hash) is True


@pytest.mark.asyncio
async def test_verify_dummy_costs_one_verification(recording: RecordingHasher) -> None:
    assert await recording.verify_dummy("any password") is None
    assert len(recording.verified_hashes) == 1
    await recording.verify_dummy("")
    assert len(recording.verified_hashes) == 2
    # The dummy hash has the hasher's current parameters, so it costs what a
    # real user's (up-to-date) hash costs.
    dummy = recording.verified_hashes[0]
    assert dummy.startswith("$argon2id$")
    assert recording.needs_rehash(dummy) is False
    assert recording.verified_hashes[1] == dummy
    assert recording.pending == 0


# --- off the event loop -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_verification_runs_off_the_event_loop(recording: RecordingHasher) -> None:
    loop_thread = threading.get_ident()
    pw_hash = await recording.hash("password")
    assert await recording.verify(pw_hash, "password")
    await recording.verify_dummy("password")
    assert len(recording.verify_threads) == 2
    assert loop_thread not in recording.verify_threads


@pytest.mark.asyncio
async def test_hashing_runs_off_the_event_loop(gated: GatedHasher) -> None:
    gated.gate.set()
    pw_hash = await gated.hash("password")
    assert await gated.verify(pw_hash, "password")
    assert len(gated.hash_threads) == 1
    assert gated.hash_threads[0] != threading.get_ident()


def test_worker_threads_are_named() -> None:
    names: list[str] = []

    class NameRecorder(Argon2Hasher):
        def _verify_sync(self, pw_hash: str, password: str) -> bool:
            names.append(threading.current_thread().name)
            return super()._verify_sync(pw_hash, password)

    h = NameRecorder(**FAST)
    try:
        assert asyncio.run(h.verify("garbage", "x")) is False
    finally:
        h.close()
    assert len(names) == 1
    assert names[0].startswith("pywire-auth-argon2")


# --- bounded queue ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_max_pending_throttles_immediately(gated: GatedHasher) -> None:
    first = asyncio.create_task(gated.hash("one"))
    second = asyncio.create_task(gated.hash("two"))
    await wait_for(gated.arrived)  # one runs (max_workers=1) ...
    await asyncio.sleep(0)  # ... and the other has been submitted
    assert gated.pending == 2

    with pytest.raises(ThrottledError) as info:
        await gated.hash("three")
    assert info.value.code == "throttled"
    with pytest.raises(ThrottledError):
        await gated.verify("x", "y")
    with pytest.raises(ThrottledError):
        await gated.verify_dummy("y")
    # Refused calls took no slot and did not run.
    assert gated.pending == 2
    assert not first.done()
    assert not second.done()

    gated.gate.set()
    hashes = await asyncio.gather(first, second)
    assert gated.pending == 0
    assert len(gated.hash_threads) == 2
    assert await gated.verify(hashes[0], "one")
    assert await gated.verify(hashes[1], "two")
    # Capacity is back.
    assert await gated.verify(hashes[0], "one")


@pytest.mark.asyncio
async def test_cancelled_waiter_keeps_its_slot_until_the_thread_finishes() -> None:
    h = GatedHasher(max_workers=1, max_pending=1)
    try:
        task = asyncio.create_task(h.hash("password"))
        await wait_for(h.arrived)
        assert h.pending == 1

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The Argon2 work is still running in its thread: the slot stays taken.
        assert h.pending == 1
        with pytest.raises(ThrottledError):
            await h.verify("x", "y")

        h.gate.set()
        await wait_for(h.finished)
        await wait_until_idle(h)
        assert h.pending == 0
        assert await h.verify("garbage", "password") is False
    finally:
        h.gate.set()
        h.close()


@pytest.mark.asyncio
async def test_cancelled_queued_call_frees_its_slot(gated: GatedHasher) -> None:
    running = asyncio.create_task(gated.hash("running"))
    await wait_for(gated.arrived)
    queued = asyncio.create_task(gated.hash("queued"))
    await asyncio.sleep(0)
    assert gated.pending == 2

    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    # The queued work never started, so it no longer counts.
    assert gated.pending == 1

    gated.gate.set()
    assert await gated.verify(await running, "running")
    assert gated.pending == 0
    assert len(gated.hash_threads) == 1


@pytest.mark.asyncio
async def test_worker_exception_releases_the_slot() -> None:
    class Failing(Argon2Hasher):
        def _verify_sync(self, pw_hash: str, password: str) -> bool:
            raise RuntimeError("boom")

    h = Failing(**FAST, max_workers=1, max_pending=1)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            await h.verify("x", "y")
        assert h.pending == 0
        assert isinstance(await h.hash("still works"), str)
    finally:
        h.close()


@pytest.mark.asyncio
async def test_close_then_reuse(hasher: Argon2Hasher) -> None:
    pw_hash = await hasher.hash("password")
    hasher.close()
    hasher.close()  # idempotent
    assert await hasher.verify(pw_hash, "password")


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_workers", "max_pending"), [(2, 1), (4, 3), (0, 64), (-1, 64), (0, 0)]
)
def test_constructor_validation(max_workers: int, max_pending: int) -> None:
    with pytest.raises(ValueError, match="max_pending"):
        Argon2Hasher(**FAST, max_workers=max_workers, max_pending=max_pending)


def test_explicit_limits_are_kept() -> None:
    h = Argon2Hasher(**FAST, max_workers=3, max_pending=3)
    assert (h.max_workers, h.max_pending, h.pending) == (3, 3, 0)


def test_default_workers_sized_by_memory_budget() -> None:
    h = Argon2Hasher(memory_cost=65536, memory_budget=64 * MIB)
    assert h.max_workers == 1
    # A budget smaller than one hash still gets one worker.
    assert Argon2Hasher(memory_cost=65536, memory_budget=MIB).max_workers == 1


def test_default_workers_bounded_by_memory_and_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    # 256 MiB / 64 MiB per hash = 4 workers, fewer than the CPUs.
    assert Argon2Hasher(memory_cost=65536, memory_budget=256 * MIB).max_workers == 4
    # Plenty of memory: the CPU count decides.
    assert Argon2Hasher(memory_cost=65536, memory_budget=4096 * MIB).max_workers == 16
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert Argon2Hasher(memory_cost=65536, memory_budget=4096 * MIB).max_workers == 1


def test_defaults_match_argon2_cffi() -> None:
    h = Argon2Hasher(max_workers=1)
    assert f"time_cost={argon2.DEFAULT_TIME_COST}" in repr(h)
    assert f"memory_cost={argon2.DEFAULT_MEMORY_COST}" in repr(h)
    assert f"parallelism={argon2.DEFAULT_PARALLELISM}" in repr(h)
    assert h.max_pending == 64


def test_default_workers_never_exceed_max_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a many-core host with a generous memory budget the default worker count
    # must be clamped to max_pending, not turned into a ValueError about a
    # max_workers value the caller never chose.
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    h = Argon2Hasher(**FAST, memory_budget=2048 * MIB)  # 2 GiB / 8 MiB = 256 by memory
    assert 1 <= h.max_workers <= h.max_pending == 64
    small = Argon2Hasher(**FAST, max_pending=4)
    assert 1 <= small.max_workers <= 4


class _PriorityProbe(Argon2Hasher):
    seen: int | None = None

    def _verify_sync(self, pw_hash: str, password: str) -> bool:
        self.seen = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return super()._verify_sync(pw_hash, password)


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="POSIX scheduling priorities only")
@pytest.mark.asyncio
async def test_hashing_threads_run_below_the_event_loop_priority() -> None:
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    hasher = _PriorityProbe(time_cost=1, memory_cost=8192, parallelism=1, nice=5)
    pw_hash = await hasher.hash("password123")
    assert await hasher.verify(pw_hash, "password123")
    assert hasher.seen == min(19, loop_priority + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_priority
    hasher.close()
