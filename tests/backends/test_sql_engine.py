"""Settings of the engines the SQL store makes for itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from pywire_auth import ConfigurationError
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

pytestmark = pytest.mark.asyncio


async def test_own_engines_never_quote_parameters_in_errors(tmp_path: Path) -> None:
    # Driver errors end up in logs and tracebacks; emails and hashes must not.
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:
        assert store.engine.sync_engine.hide_parameters is True
    finally:
        await store.close()


async def test_a_bad_timeout_is_refused_before_any_engine_exists() -> None:
    with pytest.raises(ConfigurationError):
        SQLAlchemyAuthStore("sqlite+aiosqlite:///never.db", timeout=0)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///file:x?mode=memory&uri=true",
    ],
)
async def test_in_memory_sqlite_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ConfigurationError, match="MemoryAuthStore"):
        SQLAlchemyAuthStore(url)
