"""The checks of ``pywire-auth audit``: the requests they send and how answers are read.

:class:`Probe` sends every request of one audit, counts them and keeps them to
the audited origin; each of its methods is one check (see :mod:`pywire_auth.cli.audit`).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from pywire_auth.exceptions import ConfigurationError

__all__ = [
    "EVIL",
    "MAX_REQUESTS",
    "THROTTLE_ATTEMPTS",
    "AuditCheck",
    "AuditPaths",
    "Probe",
    "is_loopback",
    "leaves_origin",
    "origin_of",
]

#: Wrong sign-ins the throttling check sends at most (the default per-account
#: limit is 20 per 15 minutes, so a default deployment throttles the 21st).
THROTTLE_ATTEMPTS = 25
#: Every request the audit may send, all checks together.
MAX_REQUESTS = 50
#: The foreign origin the cross-site and open-redirect probes name.
EVIL = "https://evil.example"
# The form routes under {prefix}/local/ that change state; absent ones (404) are
# skipped, since an app may mount only some.
_FORM_ROUTES = (
    "login",
    "register",
    "revoke",
    "token",
    "forgot-password",
    "reset-password",
    "change-password",
    "change-email",
    "delete-account",
)
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class AuditCheck:
    """One check's outcome: ``name`` (stable, for scripts), ``passed``, and why."""

    name: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class AuditPaths:
    """Where the app put its pages and routes (``connect_auth``'s defaults)."""

    prefix: str = "/auth"
    login_page: str = "/login_local"
    register_page: str = "/register"

    def route(self, name: str) -> str:
        """The path of ``{prefix}/local/{name}``."""
        return f"{self.prefix.rstrip('/')}/local/{name}"


class Probe:
    """The requests of one audit, counted and kept to the audited origin."""

    def __init__(self, origin: str, client: httpx.AsyncClient | None, paths: AuditPaths) -> None:
        self.origin = origin
        self.https = origin.startswith("https://")
        self.paths = paths
        self.sent = 0
        self._own = client is None
        self.client = client or httpx.AsyncClient(timeout=10)

    async def aclose(self) -> None:
        if self._own:
            await self.client.aclose()

    async def request(
        self, method: str, path: str, *, site: str | None = None, **form: str
    ) -> httpx.Response:
        """One request to ``origin + path``; ``site`` is the ``Origin`` a browser would send."""
        self.sent += 1
        if self.sent > MAX_REQUESTS:
            raise ConfigurationError(f"the audit would send more than {MAX_REQUESTS} requests")
        headers = {"Origin": site} if site else {}
        if site and site != self.origin:
            headers["Sec-Fetch-Site"] = "cross-site"  # as a current browser sends it
        return await self.client.request(
            method, self.origin + path, data=form or None, headers=headers, follow_redirects=False
        )

    async def cookie_flags(self) -> AuditCheck:
        # Signing out without a session still sets the (emptied) session cookie,
        # with the same attributes as a real one: no account is needed to see them.
        response = await self.request("POST", self.paths.route("revoke"), site=self.origin)
        cookies = response.headers.get_list("set-cookie")
        if not cookies:
            return AuditCheck("cookie_flags", False, "the sign-out route set no cookie to inspect")
        problems = [p for header in cookies for p in _cookie_problems(header, self.https)]
        if problems:
            return AuditCheck("cookie_flags", False, "; ".join(problems))
        names = ", ".join(sorted({h.split("=", 1)[0].strip() for h in cookies}))
        return AuditCheck("cookie_flags", True, f"{names}: HttpOnly, SameSite set")

    async def page_headers(self) -> list[AuditCheck]:
        framing: list[str] = []
        caching: list[str] = []
        for page in (self.paths.login_page, self.paths.register_page):
            response = await self.request("GET", page)
            if response.status_code != 200:
                found = f"{page} answered {response.status_code} (pass its path)"
                framing.append(found)
                caching.append(found)
                continue
            if not _refuses_framing(response.headers):
                framing.append(f"{page} may be framed by any site (clickjacking)")
            if "no-store" not in _directives(response.headers.get("cache-control", "")):
                caching.append(f"{page} lacks Cache-Control: no-store")
        pages = f"{self.paths.login_page}, {self.paths.register_page}"
        return [
            AuditCheck("framing", not framing, "; ".join(framing) or f"{pages} refuse framing"),
            AuditCheck("cache_control", not caching, "; ".join(caching) or f"{pages}: no-store"),
        ]

    async def same_site(self) -> AuditCheck:
        # Empty forms: a route that wrongly accepts the request still changes nothing.
        accepted: list[str] = []
        present = 0
        for name in _FORM_ROUTES:
            path = self.paths.route(name)
            response = await self.request("POST", path, site=EVIL)
            if response.status_code == 404:
                continue
            present += 1
            if response.status_code != 403:
                accepted.append(f"{path} ({response.status_code})")
        if not present:
            return AuditCheck("same_site", False, f"no auth routes under {self.paths.prefix}")
        if accepted:
            return AuditCheck(
                "same_site", False, "cross-site POST not refused: " + ", ".join(accepted)
            )
        return AuditCheck("same_site", True, f"{present} auth routes refuse cross-site POSTs")

    async def open_redirect(self) -> AuditCheck:
        followed: list[str] = []
        for target in (EVIL, "//evil.example", "/\\evil.example"):
            response = await self.request(
                "POST", self.paths.route("revoke"), site=self.origin, next=target
            )
            if self._leaves_site(response):
                followed.append(f"next={target}")
        response = await self.request(
            "POST", self.paths.route("login"), site=self.origin, error_next=EVIL
        )
        if self._leaves_site(response):
            followed.append(f"error_next={EVIL}")
        if followed:
            reason = "redirected off-site for " + ", ".join(followed)
            return AuditCheck("open_redirect", False, reason)
        return AuditCheck("open_redirect", True, "off-site next and error_next are not followed")

    def _leaves_site(self, response: httpx.Response) -> bool:
        if response.status_code not in _REDIRECTS:
            return False
        return leaves_origin(self.origin, response.headers.get("location", ""))

    async def throttling(self) -> AuditCheck:
        email = f"audit-{secrets.token_hex(8)}@example.com"
        path = self.paths.route("login")
        for attempt in range(1, THROTTLE_ATTEMPTS + 1):
            response = await self.request(
                "POST", path, site=self.origin, email=email, password=secrets.token_urlsafe(12)
            )
            if response.status_code == 429 or _error_code(response) == "throttled":
                return AuditCheck(
                    "throttling", True, f"throttled after {attempt - 1} wrong passwords"
                )
            if response.status_code not in _REDIRECTS:
                return AuditCheck(
                    "throttling", False, f"{path} answered {response.status_code} to a sign-in"
                )
        reason = f"{THROTTLE_ATTEMPTS} wrong passwords for one email, none throttled"
        return AuditCheck("throttling", False, reason)

    async def tls_redirect(self, http_url: str | None) -> AuditCheck:
        parts = urlsplit(self.origin)
        host = parts.hostname or ""
        if not self.https:
            if is_loopback(host):
                return AuditCheck("tls_redirect", True, "plain HTTP on loopback (development)")
            return AuditCheck(
                "tls_redirect", False, "plain HTTP: cookies and passwords travel unencrypted"
            )
        # The same host on port 80, where a browser goes for the bare name.
        twin = (
            origin_of(http_url)
            if http_url
            else f"http://[{host}]"
            if ":" in host
            else f"http://{host}"
        )
        self.sent += 1
        try:
            response = await self.client.get(twin + self.paths.login_page, follow_redirects=False)
        except httpx.TransportError:
            return AuditCheck("tls_redirect", True, f"{twin} does not serve plain HTTP")
        location = response.headers.get("location", "")
        if response.status_code in _REDIRECTS and location.startswith(self.origin):
            return AuditCheck("tls_redirect", True, f"{twin} redirects to {self.origin}")
        return AuditCheck(
            "tls_redirect",
            False,
            f"{twin} answered {response.status_code} without a redirect to {self.origin}",
        )


# Pure helpers -----------------------------------------------------------------------


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; ``ConfigurationError`` for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"not an http(s):// URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def leaves_origin(origin: str, location: str) -> bool:
    """Whether a browser on ``origin`` following ``Location: location`` leaves it.

    Browsers drop leading blanks and read a backslash as a slash, so
    ``/\\evil.example`` goes where ``//evil.example`` goes.

    >>> leaves_origin("http://a.test", "/\\\\evil.example")
    True
    >>> leaves_origin("http://a.test", "/profile")
    False
    """
    cleaned = location.strip(" \t\r\n\x00").replace("\\", "/")
    target = urlsplit(urljoin(origin + "/", cleaned))
    here = urlsplit(origin)
    return (target.scheme, target.netloc.lower()) != (here.scheme, here.netloc.lower())


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``).

    >>> is_loopback("127.0.0.5"), is_loopback("localhost"), is_loopback("example.com")
    (True, True, False)
    """
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _cookie_problems(header: str, https: bool) -> list[str]:
    name, _, rest = header.partition("=")
    attributes = {a.split("=", 1)[0].strip().lower(): a for a in rest.split(";")[1:]}
    same_site = attributes.get("samesite", "").split("=", 1)[-1].strip().lower()
    problems = []
    if "httponly" not in attributes:
        problems.append(f"{name} lacks HttpOnly (readable by injected script)")
    if same_site not in ("lax", "strict"):
        problems.append(f"{name} lacks SameSite=Lax or Strict (sent on cross-site requests)")
    if https and "secure" not in attributes:
        problems.append(f"{name} lacks Secure on HTTPS (sent over plain HTTP)")
    return problems


def _directives(value: str) -> set[str]:
    return {d.strip().lower().split("=", 1)[0] for d in value.split(",") if d.strip()}


def _refuses_framing(headers: httpx.Headers) -> bool:
    if headers.get("x-frame-options", "").strip().lower() in ("deny", "sameorigin"):
        return True
    for policy in headers.get_list("content-security-policy"):
        for directive in policy.split(";"):
            words = directive.split()
            if words and words[0].lower() == "frame-ancestors" and "*" not in words[1:]:
                return True
    return False


def _error_code(response: httpx.Response) -> str | None:
    codes = parse_qs(urlsplit(response.headers.get("location", "")).query).get("error", [])
    return codes[0] if codes else None
