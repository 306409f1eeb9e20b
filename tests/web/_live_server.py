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
import json
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from tests._servers import ROOT, ServerProcess

PAGES_DIR = ROOT / "examples" / "local_idp" / "src" / "pages"


class LiveServer(ServerProcess):
    """One uvicorn process serving the example app; ``async with`` starts and stops it.

    Its process, log, readiness and stop are tests/_servers.py's
    :class:`~tests._servers.ServerProcess`, on a socket bound before it starts.
    """

    bind_socket = True
    probe_path = "/_test/client"
    poll_interval = 0.1

    def __init__(
        self, spec: dict[str, Any], log_dir: Path, *, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            ROOT,
            name="live server",
            log_path=log_dir / f"live-server-{id(self)}.log",
            extra_env=env,
            # uvicorn reads FORWARDED_ALLOW_IPS when it is not given; only a test sets it.
            scrub=("FORWARDED_ALLOW_IPS",),
            label="uvicorn (tests.web._live_server)",
        )
        self.spec = spec
        self._clients: list[httpx.AsyncClient] = []

    def command(self) -> list[str]:
        """``python -m tests.web._live_server FD SPEC``."""
        return [
            sys.executable,
            "-m",
            "tests.web._live_server",
            str(self.listen_fd),
            json.dumps(self.spec),
        ]

    async def __aenter__(self) -> LiveServer:
        try:
            # The wait polls with blocking calls: keep it off the test's event loop.
            await asyncio.to_thread(self.start)
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for client in self._clients:
            await client.aclose()
        self.stop()

    def client(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        """A new browser (own cookie jar) connecting from ``address``."""
        client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=address),
            base_url=self.base_url,
            follow_redirects=False,
            timeout=30,
        )
        self._clients.append(client)
        return client

    async def seen(self, address: str, **headers: str) -> dict[str, Any]:
        """What the server made of a request from ``address`` with ``headers``."""
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=address), base_url=self.base_url
        ) as client:
            response = await client.get("/_test/client", headers=headers)
        body: dict[str, Any] = response.json()
        return body

    def logs(self) -> str:
        """Everything the server printed."""
        return self.log_text()


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
