"""A Redis outage never breaks sign-out: events take the event log, and Redis comes back.

The test starts a Redis server of its own (the shared one must stay up for the
other tests), kills it mid-test and starts it again on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pywire_auth import SQLAlchemyAuthStore
from pywire_auth.channels.redis import RedisAuthChannel
from pywire_auth.testing.channel_contract import next_event
from tests.conftest import IN_CI

CHANNEL_LOGGER = "pywire_auth.channels"


class OwnRedis:
    """A throw-away redis-server on a fixed loopback port that a test may kill."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            message = "redis-server is not installed: scripts/services/redis.sh installs it"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.binary = binary
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("own redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def messages(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.name == CHANNEL_LOGGER)


async def wait_for_log(caplog: pytest.LogCaptureFixture, text: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while messages(caplog, text) == 0:
        if time.monotonic() > deadline:
            pytest.fail(f"never logged {text!r}")
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_redis_down_events_take_the_log_and_redis_comes_back(
    own_redis: OwnRedis, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=CHANNEL_LOGGER)
    stores = [SQLAlchemyAuthStore(sqlite_url) for _ in range(2)]
    here, there = (RedisAuthChannel(url=own_redis.url, store=s, poll_interval=0.1) for s in stores)
    try:
        async with there.subscribe("local:u1") as subscription:
            await here.start()
            await here.revoke("local:u1")
            assert (await next_event(subscription)).kind == "revoke"

            own_redis.kill()
            # Publishing does not raise; the event still arrives, through the log.
            for _ in range(3):
                await here.revoke("local:u1")
                assert (await next_event(subscription)).kind == "revoke"
            await wait_for_log(caplog, "fast path unavailable")

            own_redis.start()
            await wait_for_log(caplog, "fast path is back")
            await here.update_principal("local:u1", claims=[])
            assert (await next_event(subscription)).kind == "update"
        # Each process logged the outage once, not once per event or retry.
        assert messages(caplog, "fast path unavailable") <= 2
    finally:
        for channel in (here, there):
            await channel.aclose()
        for store in stores:
            await store.close()
