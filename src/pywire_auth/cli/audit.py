"""``pywire-auth audit URL``: black-box checks an operator runs against their own deployment.

Each check looks at what any visitor's browser would see, with a small, bounded
number of requests (at most :data:`MAX_REQUESTS`), all to the origin given (and,
for an ``https://`` URL, its plain-HTTP twin on port 80); redirects are never
followed, so nothing else is ever contacted:

==================  ==========================================================
``cookie_flags``    the session cookie (as the sign-out route sets it) is
                    ``HttpOnly``, ``SameSite=Lax|Strict``, and ``Secure`` on HTTPS
``framing``         the sign-in and sign-up pages refuse framing by other sites
                    (``X-Frame-Options`` or CSP ``frame-ancestors``)
``cache_control``   those pages are ``Cache-Control: no-store``
``same_site``       every auth form route refuses a POST from another site (403)
``open_redirect``   ``next``/``error_next`` pointing off-site are not followed
``throttling``      wrong passwords for one (random, non-existent) email are
                    throttled within :data:`THROTTLE_ATTEMPTS` tries
``tls_redirect``    an HTTPS site answers plain HTTP with a redirect to HTTPS;
                    plain HTTP is accepted on loopback only
==================  ==========================================================

The throttling check spends up to :data:`THROTTLE_ATTEMPTS` failed sign-ins of
the auditor's own address, so it runs last; it creates nothing (the email is
random and no account is made).

>>> import asyncio
>>> checks = asyncio.run(run_audit("http://127.0.0.1:8000"))  # doctest: +SKIP
>>> [c.name for c in checks if not c.passed]  # doctest: +SKIP
[]
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import asdict

import httpx
import rich_click as click

from pywire_auth.cli._audit_checks import (
    MAX_REQUESTS,
    THROTTLE_ATTEMPTS,
    AuditCheck,
    AuditPaths,
    Probe,
    origin_of,
)
from pywire_auth.exceptions import AuthError, ConfigurationError

__all__ = [
    "MAX_REQUESTS",
    "THROTTLE_ATTEMPTS",
    "AuditCheck",
    "AuditPaths",
    "AuditUnreachableError",
    "audit",
    "run_audit",
]


class AuditUnreachableError(AuthError):
    """The audited site did not answer (refused, timed out, TLS failed)."""

    code = "unavailable"


async def run_audit(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    paths: AuditPaths | None = None,
    http_url: str | None = None,
) -> list[AuditCheck]:
    """Run every check against the deployment at ``url``; one :class:`AuditCheck` each.

    ``client`` sends the requests (its redirects are never followed); ``http_url``
    is where the plain-HTTP twin of an ``https://`` URL listens (default: port 80
    of the same host). Raises :class:`AuditUnreachableError` when the site does not
    answer, :class:`~pywire_auth.ConfigurationError` for a URL that is not
    ``http(s)://host[:port]``.
    """
    origin = origin_of(url)
    probe = Probe(origin, client, paths or AuditPaths())
    try:
        checks = [
            await probe.cookie_flags(),
            *await probe.page_headers(),
            await probe.same_site(),
            await probe.open_redirect(),
            await probe.throttling(),
            await probe.tls_redirect(http_url),
        ]
    except httpx.TransportError as exc:
        # The one place httpx's errors are mapped (the TLS twin handles its own).
        raise AuditUnreachableError(f"{origin} did not answer: {exc!r}") from exc
    finally:
        await probe.aclose()
    return checks


# The command --------------------------------------------------------------------------


def _print(checks: Iterable[AuditCheck]) -> None:
    for check in checks:
        mark = click.style("PASS", fg="green") if check.passed else click.style("FAIL", fg="red")
        click.echo(f"{mark} {check.name}: {check.reason}")


@click.command(
    help="""Check a running deployment's sign-in surface from outside.

Cookie flags, framing and caching of the sign-in pages, same-site checks on the
auth routes, open [cyan]next[/] redirects, throttling, and the HTTPS redirect.
Sends at most 50 requests, all to [cyan]URL[/]. Exit code 0: every check passed;
1: some failed; 2: the site did not answer.
"""
)
@click.argument("url")
@click.option("--prefix", default="/auth", show_default=True, help="connect_auth's prefix.")
@click.option("--login-page", default="/login_local", show_default=True)
@click.option("--register-page", default="/register", show_default=True)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def audit(
    ctx: click.Context,
    url: str,
    prefix: str,
    login_page: str,
    register_page: str,
    timeout: float,
    as_json: bool,
) -> None:
    """The ``audit URL`` command."""
    # The group's global --json counts too, whichever way the lead wires it.
    as_json = as_json or bool(ctx.find_root().params.get("as_json"))
    paths = AuditPaths(prefix=prefix, login_page=login_page, register_page=register_page)
    try:
        checks = asyncio.run(_run(url, paths, timeout))
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc
    except AuditUnreachableError as exc:
        if as_json:
            click.echo(json.dumps({"url": url, "error": "unreachable", "reason": str(exc)}))
        else:
            click.echo(click.style("UNREACHABLE ", fg="red") + str(exc), err=True)
        ctx.exit(2)
    passed = all(c.passed for c in checks)
    if as_json:
        payload = {"url": url, "passed": passed, "checks": [asdict(c) for c in checks]}
        click.echo(json.dumps(payload, indent=2))
    else:
        _print(checks)
    ctx.exit(0 if passed else 1)


async def _run(url: str, paths: AuditPaths, seconds: float) -> list[AuditCheck]:
    async with httpx.AsyncClient(timeout=seconds) as client:
        return await run_audit(url, client=client, paths=paths)
