"""A machine-wide bound on concurrent Argon2 hashes, shared by every process of an app.

``pywire run`` starts ``2 x CPUs + 1`` worker processes and each builds its own
hasher, so a bound kept inside one process is multiplied by the worker count: five
workers with two hashing threads each run ten 64 MiB hashes at once on two cores.
The slots here are shared by all processes on the host, with no server.

Slot ``i`` is held by whoever holds an exclusive ``flock`` on the file ``slot-i`` in
the slots directory. The kernel drops a flock when the file is closed, and closes
every file of a process that dies (crash, SIGKILL, OOM killer), so a dead worker
never keeps a slot. A flock belongs to an open file, not a thread, so each process
opens each slot file once and a thread lock per slot decides which of its threads
owns that file's flock.

Waiting is a queue with one head. A flock can block on one file, not on "any of N",
so waiters line up on a ``turnstile`` file instead: one thread per process waits for
it in the kernel (the others of that process wait on a thread lock), and the one that
holds it, the head, looks for a free slot every millisecond or two (at once when a
thread of its own process gives one back). Going through the queue also for the next
hash of a process that has just given a slot back keeps a busy worker from taking
every slot again before another process's waiter notices it free, which starved the
other workers. A waiter can be told to give up (its request was cancelled) and then
takes no slot. A process stopped (SIGSTOP, a debugger) while it is the head stops
the queue until it resumes; one that dies frees it.

A forked child (``gunicorn --preload``) reopens the files, so it neither shares its
parent's flocks nor keeps the slot of a parent that died holding one.

Where ``fcntl`` is missing (Windows), there are no machine slots: the hasher keeps
only its per-process bounds.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import weakref
from pathlib import Path

from pywire_auth.exceptions import ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    SUPPORTED = False
else:
    SUPPORTED = True

__all__ = ["SLOTS_DIR_ENV", "SUPPORTED", "MachineSlots", "default_slots_dir"]

#: Environment variable naming the slots directory (overrides the default).
SLOTS_DIR_ENV = "PYWIRE_AUTH_HASH_SLOTS_DIR"

_FIRST_POLL = 0.0005  # seconds between the head's looks for a free slot, doubling ...
_LONGEST_POLL = 0.002  # ... up to this
_GIVE_UP_CHECK = 0.05  # how often a thread queued inside its process checks give_up


def default_slots_dir() -> Path:
    """``$PYWIRE_AUTH_HASH_SLOTS_DIR``, else ``<temp dir>/pywire-auth-hash-slots-<uid>``."""
    configured = os.environ.get(SLOTS_DIR_ENV, "")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"pywire-auth-hash-slots-{os.geteuid()}"


class MachineSlots:
    """At most ``count`` holders at once among all processes using ``directory``.

    >>> import tempfile
    >>> slots = MachineSlots(1, Path(tempfile.mkdtemp()) / "slots")
    >>> first = slots.acquire(threading.Event())
    >>> slots.try_acquire() is None  # the only slot is taken
    True
    >>> slots.release(first)
    >>> slots.try_acquire()
    0
    """

    def __init__(self, count: int, directory: Path) -> None:
        if count < 1:
            raise ValueError("need count >= 1")
        self.count = count
        self.directory = directory
        self._fds: list[int] = []
        # Closes the files when this object is garbage: that releases nothing still
        # in use, because a holding thread keeps a reference to it.
        self._finalizer = weakref.finalize(self, _close_all, self._fds)
        self._broken: ConfigurationError | None = None
        self._open()
        self._new_locks()
        _live.add(self)

    def _open(self) -> None:
        dir_fd = _open_private_dir(self.directory)
        self._fds.append(dir_fd)
        try:
            # systemd-tmpfiles skips the age-based cleanup of a directory while a BSD
            # lock is held on it: without this, cleaning /tmp could delete the slot
            # files under running workers, and workers started later would count on
            # fresh ones.
            fcntl.flock(dir_fd, fcntl.LOCK_SH)
            self._turnstile = _open_slot_file(dir_fd, "turnstile", self.directory)
            self._fds.append(self._turnstile)
            for i in range(self.count):
                self._fds.append(_open_slot_file(dir_fd, f"slot-{i}", self.directory))
        except BaseException:
            _close_all(self._fds)
            raise
        self._slot_fds = self._fds[2:]

    def _new_locks(self) -> None:
        self._owners = [threading.Lock() for _ in range(self.count)]
        self._in_line = threading.Lock()  # held by this process's one thread in the queue
        self._released = threading.Condition()
        self._next = 0

    def _after_fork_in_child(self) -> None:
        # A forked child (gunicorn --preload, multiprocessing's fork) inherits the
        # parent's open files, and a flock belongs to the open file: parent and child
        # could then both "hold" one slot, and a slot the parent held would stay held
        # after the parent died. So the child drops them and opens its own. Its thread
        # locks may have been held by threads that do not exist in it: new ones too.
        _close_all(self._fds)
        self._new_locks()
        try:
            self._open()
        except ConfigurationError as exc:
            self._broken = exc

    def __repr__(self) -> str:
        return f"MachineSlots(count={self.count}, directory={str(self.directory)!r})"

    def try_acquire(self) -> int | None:
        """Take a free slot now, without queueing, and return its index; ``None`` if all
        are taken. (The head of the queue uses this; anyone else would jump the queue.)"""
        if self._broken is not None:
            raise self._broken
        # Start after the slot tried first last time (a benign race between threads:
        # it only spreads the searches).
        start, self._next = self._next, (self._next + 1) % self.count
        for k in range(self.count):
            index = (start + k) % self.count
            owner = self._owners[index]
            if not owner.acquire(blocking=False):
                continue  # another thread of this process holds it
            try:
                fcntl.flock(self._slot_fds[index], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner.release()  # another process holds it
                continue
            except BaseException:
                owner.release()
                raise
            return index
        return None

    def acquire(self, give_up: threading.Event) -> int | None:
        """Queue for a slot and return its index; ``None`` once ``give_up`` is set (then
        no slot is held)."""
        if self._broken is not None:
            raise self._broken
        while not self._in_line.acquire(timeout=_GIVE_UP_CHECK):
            if give_up.is_set():
                return None
        try:
            if give_up.is_set():
                return None
            # Blocks in the kernel until the head before us has its slot (or died).
            fcntl.flock(self._turnstile, fcntl.LOCK_EX)
            try:
                return self._wait_as_head(give_up)
            finally:
                fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        finally:
            self._in_line.release()

    def _wait_as_head(self, give_up: threading.Event) -> int | None:
        poll = _FIRST_POLL
        while True:
            index = self.try_acquire()
            if index is not None:
                return index
            with self._released:
                if give_up.is_set():
                    return None
                self._released.wait(poll)
            poll = min(poll * 2, _LONGEST_POLL)

    def release(self, index: int) -> None:
        """Give back slot ``index``, taken by this thread."""
        try:
            fcntl.flock(self._slot_fds[index], fcntl.LOCK_UN)
        finally:
            self._owners[index].release()
            self.wake()

    def wake(self) -> None:
        """Wake this process's head so it looks again or notices it must give up."""
        with self._released:
            self._released.notify_all()


def _open_private_dir(directory: Path) -> int:
    """Create ``directory`` (mode 0700) if needed and open it, refusing an unsafe one.

    Whoever can write to the directory can plant or swap the slot files and then hold
    every slot, stalling all sign-ins (denial of service); so it must be a real
    directory, not a symlink, owned by this user and writable by no one else.
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot use {directory} for hash slots ({exc.strerror}); "
            f"set {SLOTS_DIR_ENV} to a private directory"
        ) from exc
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        raise ConfigurationError(
            f"hash slots directory {directory} must be owned by this user and writable "
            f"by no one else; set {SLOTS_DIR_ENV} to a private directory"
        )
    return fd


def _open_slot_file(dir_fd: int, name: str, directory: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot open hash slot {directory / name} ({exc.strerror}); "
            f"set {SLOTS_DIR_ENV} to a private directory"
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigurationError(f"hash slot {directory / name} is not a regular file")
    return fd


def _close_all(fds: list[int]) -> None:
    # Closing a file drops its flocks (the slot, or the directory's shared lock) once
    # no other process shares the open file.
    while fds:
        os.close(fds.pop())


_live: weakref.WeakSet[MachineSlots] = weakref.WeakSet()


def _reopen_after_fork() -> None:
    for slots in list(_live):
        slots._after_fork_in_child()


if SUPPORTED:
    os.register_at_fork(after_in_child=_reopen_after_fork)
