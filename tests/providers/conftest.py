"""Harness for external sign-in: a real OpenID Connect provider and a real PyWire app.

The provider is panva's ``oidc-provider`` run by ``scripts/services/oidc.sh``
(its issuer arrives in ``PYWIRE_AUTH_TEST_OIDC_ISSUER``); a test that must break
its provider starts its own instance from the same files (``own_provider``).
The app is driven in process through ``httpx.ASGITransport``; the provider's
login form is driven over real HTTP by a second client with its own cookies,
as the user's browser would.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from pywire import PyWire

from pywire_auth import LocalIdP, MemoryAuthStore, connect_auth
from pywire_auth.providers.oidc import GenericOIDCProvider
from tests.conftest import IN_CI
from tests.web.conftest import PAGES_DIR, SESSION_SECRET, make_idp

ISSUER_ENV = "PYWIRE_AUTH_TEST_OIDC_ISSUER"
CLIENT_ID = "pywire-test"
CLIENT_SECRET = "pywire-test-secret"
#: The app's origin: a loopback URL the test client may redirect to on any port.
APP_ORIGIN = "http://127.0.0.1:8000"
PASSWORD = "secret"
ALICE = "alice@example.com"  # email_verified: true,  sub alice-0001
BOB = "bob@example.com"  # email_verified: false, sub bob-0002
CAROL = "carol@example.com"  # email_verified: true,  sub carol-0003


def _need(env: str) -> str:
    value = os.environ.get(env, "")
    if not value:
        message = f'{env} is not set: start it with eval "$(scripts/services/oidc.sh start)"'
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return value


@pytest.fixture
def issuer() -> str:
    """The issuer of the shared test provider."""
    return _need(ISSUER_ENV)


def make_provider(issuer: str, **kwargs: Any) -> GenericOIDCProvider:
    kwargs.setdefault("name", "oidc")
    return GenericOIDCProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, issuer=issuer, **kwargs
    )


@dataclass
class OidcApp:
    """A PyWire app with a LocalIdP and one OIDC provider, and its browsers."""

    app: PyWire
    idp: LocalIdP
    provider: GenericOIDCProvider
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(self) -> Browser:
        """A new browser: one cookie jar for the app, one for the provider's site."""
        app_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("127.0.0.1", 50000)),
            base_url=APP_ORIGIN,
            follow_redirects=False,
        )
        provider_client = httpx.AsyncClient(follow_redirects=False, timeout=10.0)
        self.clients += [app_client, provider_client]
        return Browser(app_client, provider_client)


@dataclass
class Browser:
    """A user's browser: ``app`` talks to our app in process, ``web`` to the provider."""

    app: httpx.AsyncClient
    web: httpx.AsyncClient

    async def start_login(self, next_path: str = "/profile", name: str = "oidc") -> str:
        """Click "Sign in with ...": the provider URL our app redirects to."""
        response = await self.app.get(f"/auth/{name}/login", params={"next": next_path})
        assert response.status_code == 302, (response.status_code, response.text)
        return response.headers["location"]

    async def at_provider(self, url: str, email: str | None, *, cancel: bool = False) -> str:
        """Go through the provider's pages; return the callback URL it sends us back to.

        ``email=None`` with ``cancel=True`` presses "Cancel" on the login page.
        """
        for _ in range(10):
            if url.startswith(APP_ORIGIN):
                return url
            response = await self.web.get(url)
            if response.status_code in (302, 303):
                url = str(httpx.URL(url).join(response.headers["location"]))
                continue
            assert response.status_code == 200, (response.status_code, response.text)
            # The first form on the page: the login form, or the consent form.
            action = str(httpx.URL(url).join(re.findall(r'action="([^"]+)"', response.text)[0]))
            if cancel:
                response = await self.web.post(action.rsplit("/", 1)[0] + "/abort")
            elif action.endswith("/login"):
                response = await self.web.post(
                    action, data={"login": email or "", "password": PASSWORD}
                )
            else:
                response = await self.web.post(action)
            assert response.status_code in (302, 303), (response.status_code, response.text)
            url = str(httpx.URL(url).join(response.headers["location"]))
        raise AssertionError(f"the provider never sent us back: {url}")

    async def callback(self, url: str) -> httpx.Response:
        """Open the callback URL in this browser."""
        parts = urlsplit(url)
        return await self.app.get(parts.path + (f"?{parts.query}" if parts.query else ""))

    async def sign_in(self, email: str, next_path: str = "/profile") -> httpx.Response:
        """The whole dance; returns our callback's answer."""
        url = await self.at_provider(await self.start_login(next_path), email)
        return await self.callback(url)

    async def signed_in_as(self) -> str | None:
        """The email on the profile page, ``""`` when signed in without one, else ``None``."""
        response = await self.app.get("/profile")
        if response.status_code == 303:
            return None
        assert response.status_code == 200, response.status_code
        text = response.text
        start = text.index("Email: ") + len("Email: ")
        return text[start : text.index("<", start)]


def error_of(response: httpx.Response) -> str | None:
    """The ``?error=`` of a redirect to the login page, or ``None``."""
    assert response.status_code == 303, (response.status_code, response.text)
    return parse_qs(urlsplit(response.headers["location"]).query).get("error", [None])[0]


AppFactory = Callable[..., Awaitable[OidcApp]]


@pytest_asyncio.fixture
async def oidc_app_factory() -> AsyncIterator[AppFactory]:
    """Build apps: ``await oidc_app_factory(provider, store=...)``."""
    built: list[OidcApp] = []

    async def make(provider: GenericOIDCProvider, **kwargs: Any) -> OidcApp:
        app = PyWire(pages_dir=str(PAGES_DIR))
        idp = make_idp(kwargs.pop("store", None) or MemoryAuthStore())
        kwargs.setdefault("session_secret", SESSION_SECRET)
        connect_auth(app, local_idp=idp, providers=[provider], **kwargs)
        web = OidcApp(app=app, idp=idp, provider=provider)
        built.append(web)
        return web

    yield make
    for web in built:
        for client in web.clients:
            await client.aclose()
        await web.idp.aclose()


@pytest_asyncio.fixture
async def oidc_app(issuer: str, oidc_app_factory: AppFactory) -> OidcApp:
    """The default app: memory store, the shared provider, emails not trusted."""
    return await oidc_app_factory(make_provider(issuer))


# A provider of our own, for tests that stop it or rotate its keys ---------------


@dataclass
class OwnProvider:
    issuer: str
    process: asyncio.subprocess.Process

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def rotate_keys(self) -> str:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.issuer}/test/rotate")
            response.raise_for_status()
            return str(response.json()["kid"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVER_JS = Path(__file__).resolve().parents[2] / "scripts" / "services" / "oidc" / "server.js"


@pytest.fixture
def own_provider_dir(tmp_path: Path) -> Path:
    """A directory with the test provider's server.js beside its node_modules."""
    node_modules = Path(_need("PYWIRE_AUTH_TEST_OIDC_NODE_PATH"))
    if shutil.which("node") is None or not node_modules.is_dir():
        pytest.fail("node or the oidc-provider modules are missing: run scripts/services/oidc.sh")
    # ES modules resolve packages from the script's own directory.
    (tmp_path / "node_modules").symlink_to(node_modules)
    shutil.copy(SERVER_JS, tmp_path / "server.js")
    return tmp_path


@pytest_asyncio.fixture
async def own_provider(own_provider_dir: Path) -> AsyncIterator[OwnProvider]:
    """A private oidc-provider instance on a free port, stopped after the test."""
    node = shutil.which("node") or "node"
    tmp_path = own_provider_dir
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        node,
        str(tmp_path / "server.js"),
        env={**os.environ, "OIDC_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    own = OwnProvider(issuer=f"http://127.0.0.1:{port}", process=process)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                try:
                    if (await client.get(f"{own.issuer}/test/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("own oidc-provider did not start")
        yield own
    finally:
        await own.stop()
