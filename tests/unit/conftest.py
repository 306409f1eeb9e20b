"""Fixtures for the unit tests: a cheap real Argon2 hasher, a memory store, an IdP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pywire_auth import Argon2Hasher, LocalIdP, MemoryAuthStore

#: Real Argon2id, but cheap enough to run hundreds of times in a test run.
FAST_PARAMS = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}

#: A valid 32+ byte signing secret for tests.
SECRET = "unit-test-secret-" + "x" * 32


class CountingHasher(Argon2Hasher):
    """A real Argon2 hasher that counts Argon2 verifications (real and dummy).

    ``verify_dummy`` ends in ``_verify_sync`` too, so ``verifications`` counts both.
    """

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**{**FAST_PARAMS, **kwargs})
        self._count_lock = threading.Lock()
        self.verifications = 0

    def _verify_sync(self, pw_hash: str, password: str) -> bool:
        with self._count_lock:
            self.verifications += 1
        return super()._verify_sync(pw_hash, password)


@pytest.fixture
def fast_hasher() -> Iterator[Argon2Hasher]:
    hasher = Argon2Hasher(**FAST_PARAMS)
    yield hasher
    hasher.close()


@pytest.fixture
def counting_hasher() -> Iterator[CountingHasher]:
    hasher = CountingHasher()
    yield hasher
    hasher.close()


@pytest.fixture
def store() -> MemoryAuthStore:
    return MemoryAuthStore()


@pytest.fixture
def idp(store: MemoryAuthStore, counting_hasher: CountingHasher) -> LocalIdP:
    return LocalIdP(store=store, secret=SECRET, hasher=counting_hasher)


@pytest.fixture
def secret() -> str:
    return SECRET
