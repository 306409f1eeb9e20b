"""The AuthStore contract, run against every store we ship and every SQL backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from pywire_auth.protocols import AuthStore
from pywire_auth.stores.memory import MemoryAuthStore
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.testing import AuthStoreContract


class TestMemoryStore(AuthStoreContract):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[AuthStore]:
        store = MemoryAuthStore()
        yield store
        await store.close()


class TestSQLStore(AuthStoreContract):
    @pytest_asyncio.fixture
    async def store(self, sql_url: str) -> AsyncIterator[AuthStore]:
        store = SQLAlchemyAuthStore(sql_url)
        yield store
        await store.close()
