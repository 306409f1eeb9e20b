"""A real uvicorn server process for the throttling tests that need real sockets.

:class:`LiveServer` starts ``python -m tests.web._live_server FD SPEC`` on a
listening socket the test bound (so it knows the port before the process
starts), with a JSON ``SPEC``::

    {"db": URL or null, "policy": {"failures_per_address": [3, 60], ...,
     "client_address": {"trusted_proxies": [...], "header": "..."}},
     "uvicorn": {...Config keywords...}}

The app is the example's pages with the local IdP: on the memory store with a
``MemoryThrottle``, or on ``db`` with a ``SQLAlchemyThrottle`` on the same
store, as a deployment would run it. ``GET /_test/client`` answers what the
server put in ``scope["client"]`` and the address pywire-auth reads from it.

Clients come from any 127.0.0.x address (all of 127.0.0.0/8 is loopback):
``server.client("127.0.0.7")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PAGES_DIR = ROOT / "examples" / "local_idp" / "src" / "pages"


class LiveServer:
    """One uvicorn process serving the example app; ``async with`` starts and stops it."""

    def __init__(
        self, spec: dict[str, Any], log_dir: Path, *, env: dict[str, str] | None = None
    ) -> None:
        self.spec = spec
        self.log_path = log_dir / f"live-server-{id(self)}.log"
        self.env = env or {}
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._clients: list[httpx.AsyncClient] = []

    async def __aenter__(self) -> LiveServer:
        self._spawn()
        try:
            await self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            # uvicorn reads FORWARDED_ALLOW_IPS when it is not given; only a test sets it.
            env = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
            with self.log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.web._live_server",
                        str(listener.fileno()),
                        json.dumps(self.spec),
                    ],
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(listener.fileno(),),
                    env={**env, "PYTHONUNBUFFERED": "1", **self.env},
                )
        finally:
            listener.close()  # the child has its own copy now

    async def __aexit__(self, *_exc: object) -> None:
        for client in self._clients:
            await client.aclose()
        self.stop()

    def client(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        """A new browser (own cookie jar) connecting from ``address``."""
        client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=address),
            base_url=self.url,
            follow_redirects=False,
            timeout=30,
        )
        self._clients.append(client)
        return client

    async def seen(self, address: str, **headers: str) -> dict[str, Any]:
        """What the server made of a request from ``address`` with ``headers``."""
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=address), base_url=self.url
        ) as client:
            response = await client.get("/_test/client", headers=headers)
        body: dict[str, Any] = response.json()
        return body

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if self._proc.poll() is not None:
                    raise AssertionError(f"server exited early\n{self.logs()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.url + "/_test/client")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"server never became ready\n{self.logs()}")
                await asyncio.sleep(0.1)


def _policy(spec: dict[str, Any]) -> Any:
    from pywire_auth import ClientAddress, RateLimit, ThrottlePolicy

    rules: dict[str, Any] = {}
    for name, value in spec.items():
        if name == "client_address":
            value = ClientAddress(
                trusted_proxies=tuple(value.get("trusted_proxies", ())),
                header=value.get("header", "x-forwarded-for"),
            )
        elif isinstance(value, list):
            value = RateLimit(*value)
        rules[name] = value
    return ThrottlePolicy(**rules)


async def _serve(fd: int, spec: dict[str, Any]) -> None:
    import uvicorn
    from pywire import PyWire
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from pywire_auth import (
        Argon2Hasher,
        LocalIdP,
        MemoryAuthStore,
        MemoryThrottle,
        SQLAlchemyAuthStore,
        SQLAlchemyThrottle,
        connect_auth,
    )
    from pywire_auth._client_address import AddressResolver
    from pywire_auth.protocols import AuthStore, Throttle

    policy = _policy(spec.get("policy", {}))
    store: AuthStore
    throttle: Throttle
    if spec.get("db"):
        sql_store = SQLAlchemyAuthStore(spec["db"])
        store, throttle = sql_store, SQLAlchemyThrottle(sql_store)
    else:
        store, throttle = MemoryAuthStore(), MemoryThrottle()
    app = PyWire(pages_dir=str(PAGES_DIR))
    idp = LocalIdP(
        store=store,
        secret="idp-secret-" + "x" * 32,
        hasher=Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),
    )
    connect_auth(
        app,
        local_idp=idp,
        session_secret="session-secret-" + "3f9a1c7e5b2d4086c1e9a7f3b5d20c84",
        throttle=throttle,
        throttle_policy=policy,
    )
    resolver = AddressResolver(policy.client_address)

    async def client(request: Request) -> JSONResponse:
        return JSONResponse(
            {"client": request.scope.get("client"), "resolved": resolver.client(request.scope)}
        )

    app.app.router.routes.insert(0, Route("/_test/client", client))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **spec.get("uvicorn", {}))
    await uvicorn.Server(config).serve(sockets=[socket.socket(fileno=fd)])


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), json.loads(sys.argv[2])))


__all__ = ["LiveServer"]
