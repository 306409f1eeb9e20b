"""The machine-wide bound on concurrent hashes: real processes, real flocks, real Argon2.

Worker processes are ``tests/unit/_slot_worker.py``; each logs when its hashes hold
a slot and stops them inside the slot until the test opens a gate (a flock the test
holds). So a test can wait until every slot is taken and every other hashing thread
is seen waiting, then count: nothing here depends on how long anything takes.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pywire_auth import Argon2Hasher, ConfigurationError, ThrottledError
from pywire_auth.local._slots import SLOTS_DIR_ENV, MachineSlots, default_slots_dir

ROOT = Path(__file__).resolve().parents[2]
FAST = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}
MIB = 1024 * 1024
WAIT = 60  # seconds; a hang guard while waiting for a state, never a timing assertion


# --- helpers ----------------------------------------------------------------------------


class Gate:
    """An exclusive flock on a file; worker hashes wait on it while it is held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()
        self._fd: int | None = os.open(path, os.O_RDONLY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def open(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    g = Gate(tmp_path / "gate")
    yield g
    g.open()


@pytest.fixture
def slots_dir(tmp_path: Path) -> Path:
    return tmp_path / "slots"


def start_worker(
    slots_dir: Path, slots: int, threads: int, jobs: int, log: Path, gate: Gate
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.unit._slot_worker"]
    args = [str(slots_dir), str(slots), str(threads), str(jobs), str(log), str(gate.path)]
    return subprocess.Popen([*command, *args], cwd=ROOT)


def events(log: Path) -> list[tuple[str, str]]:
    """``(event, "pid:tid")`` pairs in the order the workers wrote them."""
    if not log.exists():
        return []
    return [tuple(line.split()) for line in log.read_text().splitlines()]  # type: ignore[misc]


def latest_states(log: Path) -> dict[str, str]:
    """Each thread's latest event: ``wait`` or ``busy`` (waiting for a slot), ``enter``
    (holding one) or ``exit``."""
    return dict((who, event) for event, who in events(log))


def max_overlap(log: Path) -> int:
    """The most hashes holding a slot at once, replayed from the log.

    A hash logs ``enter`` after taking its slot and ``exit`` before giving it back, so
    at every point of the log the hashes between their two lines all hold a slot.
    """
    inside = most = 0
    for event, _who in events(log):
        if event == "enter":
            inside += 1
            most = max(most, inside)
        elif event == "exit":
            inside -= 1
    return most


def wait_until(condition: Callable[[], bool], what: Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what()}")
        time.sleep(0.01)


def finish(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        assert proc.wait(timeout=WAIT) == 0


class ProbedHasher(Argon2Hasher):
    """Counts the hashes that ran; ``refused`` is set when a thread finds all slots taken."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**{**FAST, **kwargs})  # type: ignore[arg-type]
        self.ran = 0
        self.refused = threading.Event()
        self.gate = threading.Event()
        assert self._slots is not None
        try_acquire = self._slots.try_acquire

        def probed() -> int | None:
            index = try_acquire()
            if index is None:
                self.refused.set()
            return index

        self._slots.try_acquire = probed  # type: ignore[method-assign]

    async def hash(self, password: str) -> str:
        return await self._run(self._counted_hash, password)

    def _counted_hash(self, password: str) -> str:
        self.ran += 1
        if not self.gate.wait(WAIT):
            raise RuntimeError("test never opened the gate")
        return self._hasher.hash(password)


async def wait_idle(hasher: Argon2Hasher) -> None:
    for _ in range(WAIT * 100):
        if hasher.pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"hasher never went idle: pending={hasher.pending}")


def hold_the_only_slot(slots_dir: Path, log: Path, gate: Gate) -> subprocess.Popen[bytes]:
    """A worker process holding slot 0 of 1 until ``gate`` opens (or it is killed)."""
    proc = start_worker(slots_dir, 1, 1, 1, log, gate)
    wait_until(lambda: "enter" in latest_states(log).values(), lambda: str(events(log)))
    return proc


# --- the bound across processes ---------------------------------------------------------


@pytest.mark.parametrize("slots", [1, 2])
def test_processes_never_hash_more_than_the_slots_at_once(
    slots: int, slots_dir: Path, tmp_path: Path, gate: Gate
) -> None:
    processes, threads, jobs = 3, 2, 4  # 6 hashing threads competing for 1 or 2 slots
    log = tmp_path / "log"
    procs = [start_worker(slots_dir, slots, threads, jobs, log, gate) for _ in range(processes)]
    try:
        # Held at the gate: every slot taken, every other hashing thread waiting for
        # one, and the head of their queue seen finding none free. Without the
        # machine-wide bound all six would enter.
        def settled() -> bool:
            states = list(latest_states(log).values())
            inside, waiting = states.count("enter"), states.count("wait") + states.count("busy")
            return inside > slots or (
                inside == slots and waiting == processes * threads - slots and "busy" in states
            )

        wait_until(settled, lambda: str(events(log)))
        states = list(latest_states(log).values())
        assert states.count("enter") == slots
        gate.open()
        finish(procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    entered = [e for e, _who in events(log) if e == "enter"]
    assert len(entered) == processes * jobs  # every hash ran ...
    assert max_overlap(log) == slots  # ... and never more than the slots at once


def test_a_process_that_gives_a_slot_back_queues_behind_a_waiting_one(
    slots_dir: Path, tmp_path: Path, gate: Gate
) -> None:
    # A busy worker with more hashes queued must not take the slot straight back
    # while another worker waits for it: that starved the other workers' sign-ins.
    log = tmp_path / "log"
    busy = start_worker(slots_dir, 1, 1, 3, log, gate)
    procs = [busy]
    try:
        wait_until(lambda: "enter" in latest_states(log).values(), lambda: str(events(log)))
        waiting = start_worker(slots_dir, 1, 1, 1, log, gate)
        procs.append(waiting)
        wait_until(lambda: "busy" in latest_states(log).values(), lambda: str(events(log)))
        gate.open()
        finish(procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    entered = [who.split(":")[0] for event, who in events(log) if event == "enter"]
    first, second = str(busy.pid), str(waiting.pid)
    assert entered == [first, second, first, first]
    assert max_overlap(log) == 1


def test_a_killed_process_frees_its_slot(slots_dir: Path, tmp_path: Path, gate: Gate) -> None:
    proc = hold_the_only_slot(slots_dir, tmp_path / "log", gate)
    other = MachineSlots(1, slots_dir)
    assert other.try_acquire() is None  # held by the worker
    proc.send_signal(signal.SIGKILL)  # no cleanup code runs in the worker
    assert proc.wait(timeout=WAIT) == -signal.SIGKILL
    # The kernel closed the dead process's files, and with them its flock.
    assert other.try_acquire() == 0
    other.release(0)
    hasher = Argon2Hasher(**FAST, machine_slots=1, slots_dir=slots_dir)
    assert asyncio.run(hasher.verify(asyncio.run(hasher.hash("pw")), "pw"))
    hasher.close()


# Forking runs in a fresh single-threaded interpreter: forking pytest's own process,
# which has threads, could deadlock the child.
FORKED_CHILD_HOLDS = """
import os, signal, sys, threading
from pathlib import Path
from pywire_auth.local._slots import MachineSlots

slots = MachineSlots(1, Path(sys.argv[1]))
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the child takes the slot through the object it inherited
    os.write(w, str(slots.acquire(threading.Event())).encode())
    signal.pause()
assert os.read(r, 8) == b"0"
print(slots.try_acquire())  # the child holds the only slot, so: None
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print(slots.try_acquire())  # freed with the child: 0
"""

PARENT_DIES_HOLDING = """
import os, signal, sys, threading
from pathlib import Path
from pywire_auth.local._slots import MachineSlots

slots = MachineSlots(1, Path(sys.argv[1]))
assert slots.acquire(threading.Event()) == 0
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the child lives on and holds nothing
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 1)  # lets the test read this process's output to its end
    os.dup2(quiet, 2)
    os.write(w, b"up")
    signal.pause()
assert os.read(r, 2) == b"up"
print(pid)
os._exit(0)  # dies holding slot 0, never releasing it
"""


def test_a_forked_child_does_not_share_its_parents_slots(slots_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORKED_CHILD_HOLDS, str(slots_dir)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "0"]


def test_a_forked_child_does_not_keep_its_dead_parents_slot(slots_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PARENT_DIES_HOLDING, str(slots_dir)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    child = int(done.stdout)
    try:
        probe = MachineSlots(1, slots_dir)
        assert probe.try_acquire() == 0  # the child, still alive, closed its copy
        probe.release(0)
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.asyncio
async def test_pending_bound_still_throttles_while_waiting_for_a_slot(
    slots_dir: Path, tmp_path: Path, gate: Gate
) -> None:
    proc = hold_the_only_slot(slots_dir, tmp_path / "log", gate)
    hasher = ProbedHasher(machine_slots=1, slots_dir=slots_dir, max_workers=1, max_pending=2)
    hasher.gate.set()
    try:
        first = asyncio.create_task(hasher.hash("one"))
        second = asyncio.create_task(hasher.hash("two"))
        assert await asyncio.to_thread(hasher.refused.wait, WAIT)  # the first waits for a slot
        assert hasher.pending == 2
        with pytest.raises(ThrottledError):
            await hasher.hash("three")
        with pytest.raises(ThrottledError):
            await hasher.verify_dummy("three")
        assert hasher.ran == 0  # nothing hashed while the other process held the slot
        gate.open()
        one, two = await asyncio.gather(first, second)
        assert await hasher.verify(one, "one")
        assert await hasher.verify(two, "two")
        assert hasher.ran == 2
    finally:
        gate.open()
        hasher.close()
        await asyncio.to_thread(finish, [proc])


# --- cancellation -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancelled_while_waiting_gives_up_without_a_slot(
    slots_dir: Path, tmp_path: Path, gate: Gate
) -> None:
    proc = hold_the_only_slot(slots_dir, tmp_path / "log", gate)
    hasher = ProbedHasher(machine_slots=1, slots_dir=slots_dir, max_workers=1, max_pending=1)
    hasher.gate.set()
    try:
        task = asyncio.create_task(hasher.hash("abandoned"))
        assert await asyncio.to_thread(hasher.refused.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The thread left while the slot was still held elsewhere: it gave up, took
        # no slot and hashed nothing, and its pending place is free again.
        await wait_idle(hasher)
        assert proc.poll() is None
        assert hasher.ran == 0
        gate.open()
        await asyncio.to_thread(finish, [proc])
        probe = MachineSlots(1, slots_dir)
        assert probe.try_acquire() == 0  # nobody holds the slot
        probe.release(0)
        assert hasher.ran == 0
    finally:
        gate.open()
        hasher.close()


@pytest.mark.asyncio
async def test_cancelled_while_hashing_keeps_the_slot_until_the_hash_ends(
    slots_dir: Path,
) -> None:
    hasher = ProbedHasher(machine_slots=1, slots_dir=slots_dir, max_workers=1, max_pending=1)
    probe = MachineSlots(1, slots_dir)
    try:
        task = asyncio.create_task(hasher.hash("running"))
        for _ in range(WAIT * 100):  # until the hash holds the slot
            if hasher.ran:
                break
            await asyncio.sleep(0.01)
        assert hasher.ran == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The Argon2 work still runs in its thread, so the slot stays taken ...
        assert probe.try_acquire() is None
        hasher.gate.set()
        await wait_idle(hasher)
        # ... and is given back when it ends.
        assert probe.try_acquire() == 0
        probe.release(0)
    finally:
        hasher.gate.set()
        hasher.close()


# --- construction -----------------------------------------------------------------------


def test_slots_are_sized_by_cpus_and_memory_budget(
    slots_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    per_hash = {"memory_cost": 65536}  # 64 MiB
    by_memory = Argon2Hasher(**per_hash, memory_budget=192 * MIB, slots_dir=slots_dir)
    assert (by_memory.machine_slots, by_memory.max_workers) == (3, 3)
    by_cpus = Argon2Hasher(**per_hash, memory_budget=4096 * MIB, slots_dir=slots_dir)
    assert by_cpus.machine_slots == 8
    explicit = Argon2Hasher(**FAST, machine_slots=2, max_workers=4, slots_dir=slots_dir)
    assert (explicit.machine_slots, explicit.max_workers) == (2, 4)
    assert "machine_slots=2" in repr(explicit)
    files = {p.name for p in slots_dir.iterdir()}
    assert files == {"turnstile", *(f"slot-{i}" for i in range(8))}


def test_zero_machine_slots_turns_the_bound_off(slots_dir: Path) -> None:
    hasher = Argon2Hasher(**FAST, machine_slots=0, slots_dir=slots_dir)
    assert (hasher.machine_slots, hasher.slots_dir) == (0, None)
    assert not slots_dir.exists()
    assert asyncio.run(hasher.verify(asyncio.run(hasher.hash("pw")), "pw"))
    with pytest.raises(ValueError, match="machine_slots"):
        Argon2Hasher(**FAST, machine_slots=-1, slots_dir=slots_dir)


def test_default_directory_is_private_per_user_and_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SLOTS_DIR_ENV, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    expected = tmp_path / f"pywire-auth-hash-slots-{os.geteuid()}"
    assert default_slots_dir() == expected
    hasher = Argon2Hasher(**FAST, machine_slots=1)
    assert hasher.slots_dir == expected
    assert stat.S_IMODE(expected.stat().st_mode) == 0o700
    assert stat.S_IMODE((expected / "slot-0").stat().st_mode) == 0o600

    monkeypatch.setenv(SLOTS_DIR_ENV, str(tmp_path / "from-env"))
    assert Argon2Hasher(**FAST, machine_slots=1).slots_dir == tmp_path / "from-env"
    # The parameter wins over the environment.
    chosen = Argon2Hasher(**FAST, machine_slots=1, slots_dir=tmp_path / "param")
    assert chosen.slots_dir == tmp_path / "param"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    # Whoever can write there could plant slot files and hold every slot (DoS).
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(ConfigurationError, match=SLOTS_DIR_ENV):
        Argon2Hasher(**FAST, machine_slots=1, slots_dir=shared)
    shared.chmod(0o755)  # readable by others is fine: the slot files are 0600
    assert Argon2Hasher(**FAST, machine_slots=1, slots_dir=shared).machine_slots == 1


def test_symlinked_directory_or_slot_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(ConfigurationError):
        Argon2Hasher(**FAST, machine_slots=1, slots_dir=tmp_path / "link")
    (real / "slot-0").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigurationError):
        Argon2Hasher(**FAST, machine_slots=1, slots_dir=real)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory away")
def test_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(ConfigurationError, match="owned by this user"):
        Argon2Hasher(**FAST, machine_slots=1, slots_dir=theirs)
