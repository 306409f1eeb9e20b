"""``pywire-auth audit URL`` against real servers: the example passes, a misconfigured app fails.

Each app is the example's pages under ``connect_auth``, served by a real uvicorn
on a loopback socket (HTTPS with a throwaway certificate where TLS matters); the
audit talks to it over TCP like an operator's shell would. A counting hook on the
client pins the request budget and that nothing leaves the audited origin.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pywire_auth import SecurityHeaders, SessionConfig
from pywire_auth.cli.audit import (
    MAX_REQUESTS,
    THROTTLE_ATTEMPTS,
    AuditCheck,
    AuditUnreachableError,
    audit,
    run_audit,
)
from tests.backends._tls import LoopbackCertificate, make_certificate
from tests.web._uvicorn import serving
from tests.web.conftest import AppFactory

pytestmark = pytest.mark.asyncio

CHECKS = {
    "cookie_flags",
    "framing",
    "cache_control",
    "same_site",
    "open_redirect",
    "throttling",
    "tls_redirect",
}


@pytest.fixture
def web_backend() -> str:
    # What the audit sees does not depend on the store: memory only.
    return "memory"


class Recorder:
    """An httpx client that keeps the URL of every request it sends."""

    def __init__(self, **kwargs: Any) -> None:
        self.urls: list[httpx.URL] = []

        async def keep(request: httpx.Request) -> None:
            self.urls.append(request.url)

        self.client = httpx.AsyncClient(timeout=30, event_hooks={"request": [keep]}, **kwargs)

    def origins(self) -> set[str]:
        return {f"{u.scheme}://{u.host}:{u.port}" for u in self.urls}


async def _audit(
    url: str, *, http_url: str | None = None, client_kwargs: dict[str, Any] | None = None
) -> tuple[dict[str, AuditCheck], Recorder]:
    recorder = Recorder(**(client_kwargs or {}))
    async with recorder.client:
        checks = await run_audit(url, client=recorder.client, http_url=http_url)
    by_name = {c.name: c for c in checks}
    assert set(by_name) == CHECKS
    assert len(recorder.urls) <= MAX_REQUESTS
    return by_name, recorder


def _failed(checks: dict[str, AuditCheck]) -> set[str]:
    return {name for name, check in checks.items() if not check.passed}


async def test_the_example_passes_every_check(app_factory: AppFactory) -> None:
    web = await app_factory()
    async with serving(web.app) as url:
        checks, recorder = await _audit(url)
    assert not _failed(checks), checks
    assert recorder.origins() == {url}  # nothing but the URL given
    assert "throttled after 20" in checks["throttling"].reason
    assert checks["tls_redirect"].reason.startswith("plain HTTP on loopback")


def _naive_revoke(request_body: bytes) -> Response:
    fields = {k: v[0] for k, v in parse_qs(request_body.decode()).items()}
    # No same-site check, follows any next, a cookie without HttpOnly or SameSite.
    response = RedirectResponse(fields.get("next", "/"), 303)
    response.headers.append("set-cookie", "pywire_auth_session=; Path=/; Max-Age=0")
    return response


async def test_a_misconfigured_app_fails_each_check_it_should(app_factory: AppFactory) -> None:
    web = await app_factory(security_headers=SecurityHeaders(headers={}), throttle=None)

    async def revoke(request: Request) -> Response:
        return _naive_revoke(await request.body())

    # A hand-made sign-out route in front of ours, as an app might add one.
    web.app.app.router.routes.insert(0, Route("/auth/local/revoke", revoke, methods=["POST"]))
    async with serving(web.app) as url:
        checks, recorder = await _audit(url)
    assert _failed(checks) == CHECKS - {"tls_redirect"}, checks
    assert recorder.origins() == {url}
    assert "HttpOnly" in checks["cookie_flags"].reason
    assert "SameSite" in checks["cookie_flags"].reason
    assert "/login_local may be framed" in checks["framing"].reason
    assert "/register lacks Cache-Control: no-store" in checks["cache_control"].reason
    # Only the hand-made route: every pywire-auth route still refuses.
    assert checks["same_site"].reason == "cross-site POST not refused: /auth/local/revoke (303)"
    assert "next=https://evil.example" in checks["open_redirect"].reason
    assert "next=//evil.example" in checks["open_redirect"].reason
    assert checks["throttling"].reason == (
        f"{THROTTLE_ATTEMPTS} wrong passwords for one email, none throttled"
    )
    # Bounded: it stopped at its budget of wrong passwords.
    logins = [u for u in recorder.urls if u.path == "/auth/local/login"]
    assert len(logins) == THROTTLE_ATTEMPTS + 2  # + the cross-site and error_next probes


@asynccontextmanager
async def _https(app: object, cert: LoopbackCertificate) -> AsyncIterator[str]:
    files = {"ssl_certfile": str(cert.cert_file), "ssl_keyfile": str(cert.key_file)}
    async with serving(app, **files) as url:
        yield url


async def _to_https(request: Request) -> Response:
    return RedirectResponse(str(request.app.state.target) + request.url.path, 301)


async def test_https_the_redirect_and_the_secure_flag(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    cert = make_certificate(tmp_path)
    good = await app_factory()
    lax = await app_factory(session_config=SessionConfig(secure=False))
    client_kwargs = {"verify": cert.client_context()}
    async with _https(good.app, cert) as https_url, serving(good.app) as plain_url:
        redirector = Starlette(routes=[Route("/{path:path}", _to_https)])
        redirector.state.target = https_url
        async with serving(redirector) as redirect_url:
            checks, recorder = await _audit(
                https_url, http_url=redirect_url, client_kwargs=client_kwargs
            )
            assert not _failed(checks), checks
            assert "__Host-pywire_auth_session" in checks["cookie_flags"].reason
            assert recorder.origins() == {https_url, redirect_url}
        # The same site also answering plain HTTP, with no redirect: a downgrade.
        checks, _ = await _audit(https_url, http_url=plain_url, client_kwargs=client_kwargs)
        assert _failed(checks) == {"tls_redirect"}, checks
    async with _https(lax.app, cert) as https_url:
        checks, _ = await _audit(https_url, http_url=https_url, client_kwargs=client_kwargs)
        assert "lacks Secure on HTTPS" in checks["cookie_flags"].reason


async def test_the_command_prints_and_exits_by_outcome(app_factory: AppFactory) -> None:
    good = await app_factory()
    bad = await app_factory(throttle=None)
    runner = CliRunner()
    async with serving(good.app) as good_url, serving(bad.app) as bad_url:
        # The command runs its own event loop: in a thread, beside the servers' loop.
        passed = await asyncio.to_thread(runner.invoke, audit, [good_url])
        failed = await asyncio.to_thread(runner.invoke, audit, [bad_url, "--json"])
    assert passed.exit_code == 0, passed.output
    assert passed.output.count("PASS ") == len(CHECKS)
    assert failed.exit_code == 1, failed.output
    report = json.loads(failed.output)
    assert report["passed"] is False
    assert [c["name"] for c in report["checks"] if not c["passed"]] == ["throttling"]


async def test_an_unreachable_site_exits_2() -> None:
    # A port that was just free: nothing listens there.
    async with serving(lambda *_: None) as url:
        pass
    with pytest.raises(AuditUnreachableError):
        await run_audit(url)
    result = await asyncio.to_thread(CliRunner().invoke, audit, [url, "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["error"] == "unreachable"
    usage = await asyncio.to_thread(CliRunner().invoke, audit, ["ftp://example.com"])
    assert usage.exit_code == 2
    assert "not an http(s):// URL" in usage.output
