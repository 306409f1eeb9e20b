"""The zero-config schema step keeps Alembic's INFO chatter out of the app's log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from pywire_auth import SQLAlchemyAuthStore

pytestmark = pytest.mark.asyncio


@pytest.fixture
def alembic_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("alembic")
    level = logger.level
    yield logger
    logger.setLevel(level)


async def _first_use(path: Path) -> None:
    store = SQLAlchemyAuthStore(f"sqlite+aiosqlite:///{path}")
    try:
        assert await store.get_user("nobody") is None  # creates and stamps the schema
    finally:
        await store.close()


async def test_first_use_logs_nothing_from_alembic(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, alembic_logger: logging.Logger
) -> None:
    with caplog.at_level(logging.INFO):
        await _first_use(tmp_path / "auth.db")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
    assert alembic_logger.level == logging.NOTSET  # left as it was


async def test_a_level_the_app_set_is_honoured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, alembic_logger: logging.Logger
) -> None:
    alembic_logger.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        await _first_use(tmp_path / "auth.db")
    assert any(r.name.startswith("alembic") for r in caplog.records)
