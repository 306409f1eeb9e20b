"""The external sign-in routes: ``{prefix}/{name}/login``, ``/link``, ``/unlink``,
and ``/callback`` (``{prefix}/logout`` is ``_signout.py``, for every app).

``GET /login?next=/path`` starts a pending login (see ``pending.py``) and
redirects to the provider. ``GET /link?next=/path`` does the same for a
signed-in user who wants to add this provider to their account;
``POST /unlink`` removes it again unless it is the account's last way in.
``GET|POST /callback`` checks the answer, resolves the user (``linking.py``)
and starts the same server-side session as a password sign-in (new session id:
session fixation), or, for a link, adds the link to the signed-in account.
Every failure is a 303 to the login page with ``?error=`` from the closed
vocabulary (``ERROR_CODES``): ``cancelled``, ``provider``, ``unavailable``,
``link_required``, ``exists``, ``throttled``, ``last_sign_in``. Never a 500,
and codes and tokens never reach the logs.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pywire_auth._client_address import AddressResolver, group_key
from pywire_auth._form_route import ALL_METHODS, form_next, same_site_form
from pywire_auth._forms import BadBody, read_form
from pywire_auth._http import add_query_param, is_cross_site, safe_local_path
from pywire_auth._state import AuthState
from pywire_auth.audit import audit
from pywire_auth.exceptions import AuthError, ConfigurationError, ProviderError
from pywire_auth.local.guard import Admission
from pywire_auth.local.principal import plain_user_id
from pywire_auth.local.routes import ERROR_CODES
from pywire_auth.protocols import ExternalProvider
from pywire_auth.providers.linking import link_identity, resolve_user
from pywire_auth.providers.pending import PendingLogins
from pywire_auth.throttles.memory import MemoryThrottle
from pywire_auth.throttles.policy import ThrottlePolicy

__all__ = ["PROVIDER_ERROR_CODES", "ProviderRoutes"]

logger = logging.getLogger("pywire_auth.providers")

#: The ``?error=`` values the provider routes can produce (all in ``ERROR_CODES``).
PROVIDER_ERROR_CODES = (
    frozenset(
        {
            "cancelled",
            "provider",
            "unavailable",
            "link_required",
            "throttled",
            "exists",
            "last_sign_in",
            "disabled",
        }
    )
    & ERROR_CODES
)

_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class ProviderRoutes:
    """Builds the login and callback routes of every configured provider."""

    state: AuthState
    providers: Sequence[ExternalProvider]
    prefix: str = "/auth"
    default_next: str = "/"
    login_page: str = "/login_local"
    throttle_policy: ThrottlePolicy | None = None
    pending: PendingLogins = field(init=False, repr=False)
    _policy: ThrottlePolicy = field(init=False, repr=False)
    _addresses: AddressResolver = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"two providers share a name: {names}")
        # Without a shared throttle the single-use mark is per process; the
        # cookie is still cleared and the provider refuses a replayed code.
        throttle = self.state.throttle or MemoryThrottle()
        self.pending = PendingLogins(
            self.state.sessions.derive_key("oidc-pending"),
            throttle=throttle,
            path=self._base(),
            secure=self.state.sessions.config.secure,
        )
        self._policy = self.throttle_policy or ThrottlePolicy()
        self._addresses = AddressResolver(self._policy.client_address)

    def _address(self, request: Request) -> str:
        return group_key(self._addresses.client(request.scope), self._policy.ipv6_prefix)

    def _base(self) -> str:
        return self.prefix.rstrip("/") or "/"

    def routes(self) -> list[Route]:
        """``login``, ``link``, ``unlink`` and ``callback`` for each provider."""
        base = self.prefix.rstrip("/")
        # Every method is routed to /unlink (not just POST) so that a GET is
        # answered 405 by us instead of falling through to PyWire's pages.
        routes: list[Route] = []
        for provider in self.providers:
            routes.append(
                Route(
                    f"{base}/{provider.name}/unlink",
                    same_site_form(
                        partial(self.unlink, provider=provider),
                        self.login_page,
                        PROVIDER_ERROR_CODES,
                    ),
                    methods=ALL_METHODS,
                )
            )
            routes.append(
                Route(
                    f"{base}/{provider.name}/login",
                    self._guarded(provider, self.login),
                    methods=["GET", "HEAD"],
                )
            )
            routes.append(
                Route(
                    f"{base}/{provider.name}/link",
                    self._guarded(provider, self.link),
                    methods=["GET", "HEAD"],
                )
            )
            routes.append(
                Route(
                    f"{base}/{provider.name}/callback",
                    self._guarded(provider, self.callback),
                    methods=["GET", "POST"],
                )
            )
        return routes

    def _guarded(
        self,
        provider: ExternalProvider,
        handler: Callable[[Request, ExternalProvider], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, provider)
            except AuthError as exc:
                code = exc.code if exc.code in PROVIDER_ERROR_CODES else "provider"
                # The message names the failed check, never a code or a token.
                logger.info("%s sign-in refused (%s): %s", provider.name, code, exc)
                return self._fail(request, code)
            except Exception:
                logger.exception("unexpected error in %s", request.url.path)
                return self._fail(request, "unavailable")

        return endpoint

    def _fail(self, request: Request, code: str) -> Response:
        target = safe_local_path(self.login_page) or "/"
        response = RedirectResponse(add_query_param(target, "error", code), 303, headers=_NO_STORE)
        if request.url.path.endswith("/callback"):
            response.headers.append("set-cookie", self.pending.cookie("", https=_https(request)))
        return response

    def _redirect_uri(self, request: Request, provider: ExternalProvider) -> str:
        if provider.redirect_uri:
            return provider.redirect_uri
        return (
            f"{str(request.base_url).rstrip('/')}{self.prefix.rstrip('/')}/{provider.name}/callback"
        )

    async def _session_user(self, request: Request) -> str | None:
        # Read from the store, not the middleware's cache: a link must go to the
        # user whose session this is right now.
        sessions = self.state.sessions
        # On https the cookie is named __Host-...: read the name this request uses.
        token = sessions.token_from_cookie_header(
            request.headers.get("cookie", ""), https=_https(request)
        )
        record = await sessions.load(token) if token else None
        return record.user_id if record is not None else None

    async def login(self, request: Request, provider: ExternalProvider) -> Response:
        """Start a pending login and send the browser to the provider."""
        return await self._start(request, provider, link_user="")

    async def link(self, request: Request, provider: ExternalProvider) -> Response:
        """Start a pending link of this provider to the signed-in user's account."""
        if is_cross_site(request.headers, scheme=request.url.scheme):
            # Another site must not start linking an identity to this account.
            return PlainTextResponse("Cross-site request refused", 403)
        user_id = await self._session_user(request)
        if user_id is None:
            target = safe_local_path(self.login_page) or "/"
            return RedirectResponse(target, 303, headers=_NO_STORE)
        return await self._start(request, provider, link_user=user_id)

    async def unlink(
        self, request: Request, fields: dict[str, str], *, provider: ExternalProvider
    ) -> Response:
        """``POST {prefix}/{name}/unlink``: remove this provider from the signed-in account.

        Refused with ``last_sign_in`` when the account has no password and no
        other provider (the store checks and deletes in one transaction).
        """
        user_id = await self._session_user(request)
        if user_id is None:
            target = safe_local_path(self.login_page) or "/"
            return RedirectResponse(target, 303, headers=_NO_STORE)
        store = self.state.store
        for link in await store.get_links(user_id):
            if link.provider == provider.name:
                await store.remove_link(user_id, link.provider, link.subject)
        audit("provider_unlink", "success", user_id=user_id, client=self._address(request))
        return RedirectResponse(
            form_next(request, fields, self.default_next), 303, headers=_NO_STORE
        )

    async def _start(
        self, request: Request, provider: ExternalProvider, *, link_user: str
    ) -> Response:
        next_path = (
            safe_local_path(request.query_params.get("next"))
            or safe_local_path(self.default_next)
            or "/"
        )
        pending, value = self.pending.start(provider.name, next_path, link_user=link_user)
        url = await provider.authorization_url(
            redirect_uri=self._redirect_uri(request, provider),
            state=pending.state,
            nonce=self.pending.nonce(pending),
            code_challenge=self.pending.code_challenge(pending),
        )
        response = RedirectResponse(url, 302, headers=_NO_STORE)
        response.headers.append("set-cookie", self.pending.cookie(value, https=_https(request)))
        return response

    async def callback(self, request: Request, provider: ExternalProvider) -> Response:
        """Finish the login: check everything, find or create the user, start a session."""
        params: Mapping[str, str] = request.query_params
        if request.method == "POST":
            try:
                params = await read_form(request)
            except BadBody:
                return self._fail(request, "provider")
            if is_cross_site(request.headers, scheme=request.url.scheme):
                return _same_site_hop(request.url.path, params)
        # Counted before the pending cookie is read or the provider is asked:
        # each callback may cost a token request, so a flood of forged ones
        # from one address stops here.
        admission = Admission(self.state.throttle)
        await admission.count(
            f"oidc-callback:address:{self._address(request)}",
            self._policy.callbacks_per_address,
            refund_on_success=True,
        )
        response = await self._finish(request, provider, params)
        await admission.succeeded()
        return response

    async def _finish(
        self, request: Request, provider: ExternalProvider, params: Mapping[str, str]
    ) -> Response:
        pending = self.pending.read(
            request.cookies.get(self.pending.cookie_name), provider.name, params.get("state")
        )
        await self.pending.burn(pending)
        code = await provider.check_authorization_response(params)
        identity = await provider.exchange(
            code=code,
            redirect_uri=self._redirect_uri(request, provider),
            code_verifier=self.pending.code_verifier(pending),
            nonce=self.pending.nonce(pending),
        )
        https = _https(request)
        if pending.link_user:
            # The session that started the link must still be this browser's.
            if await self._session_user(request) != pending.link_user:
                raise ProviderError("the account that started the link is no longer signed in")
            await link_identity(self.state.store, identity, pending.link_user)
            response = RedirectResponse(pending.next, 303, headers=_NO_STORE)
            response.headers.append("set-cookie", self.pending.cookie("", https=https))
            return response
        user_id = await resolve_user(self.state.store, identity, trust_email=provider.trust_email)
        sessions = self.state.sessions
        old_token = sessions.token_from_cookie_header(
            request.headers.get("cookie", ""), https=https
        )
        token = await sessions.start(plain_user_id(user_id), replacing=old_token)
        response = RedirectResponse(pending.next, 303, headers=_NO_STORE)
        response.headers.append("set-cookie", sessions.cookie_header(token, https=https))
        response.headers.append("set-cookie", self.pending.cookie("", https=https))
        await self.state.hooks.signed_in(request, user_id, self.state.store)
        return response


#: What a form_post answer may carry on to the second, same-site POST.
_HOP_FIELDS = ("code", "state", "iss", "error")


def _same_site_hop(path: str, params: Mapping[str, str]) -> Response:
    """A page that re-posts a cross-site ``form_post`` answer from our own origin.

    The provider's page POSTs the code to us from its own site, and browsers
    send no ``SameSite=Lax`` cookie on a cross-site POST: neither the
    pending-login cookie (the browser binding) nor the session cookie (for
    ``/link``, and to replace an old session). Rather than weaken either
    cookie to ``SameSite=None``, this page posts the same fields again from our
    origin, where both are sent; the code still never appears in a URL. It
    checks nothing itself: the second POST goes through every check.
    """
    nonce = secrets.token_urlsafe(16)
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name], quote=True)}">'
        for name in _HOP_FIELDS
        if name in params
    )
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Signing in</title></head>'
        f'<body><form method="post" action="{html.escape(path, quote=True)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        f'<script nonce="{nonce}">document.forms[0].submit();</script></body></html>'
    )
    headers = {
        **_NO_STORE,
        # Only our one inline script runs, the form can only go to us, no one
        # frames the page, and no Referer with the path leaves the site.
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    return HTMLResponse(body, headers=headers)


def _https(request: Request) -> bool:
    return request.url.scheme in ("https", "wss")
