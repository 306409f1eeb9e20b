"""An in-process uvicorn server on a real loopback socket, for WebSocket tests.

The app runs in the test's own event loop, so a test can change the store or call
``app.state.auth`` directly while real clients are connected over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def serving(app: Any, **config: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a port the OS picks); yields its ``http(s)://`` URL.

    ``config`` goes to ``uvicorn.Config`` (``ssl_certfile``/``ssl_keyfile`` serve HTTPS).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    # lifespan off: the test's app_factory owns the channel and the store.
    settings = uvicorn.Config(app, log_level="warning", lifespan="off", **config)
    server = uvicorn.Server(settings)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        scheme = "https" if config.get("ssl_certfile") else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
