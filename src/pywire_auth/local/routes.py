"""The five HTTP routes of the local IdP: register, login, token, verify-token, revoke.

Form routes answer with 303 redirects: to ``next`` on success, and on failure to
the page the form was on (same-origin ``Referer``), else ``error_next``, else the
route's own form page, with ``?error=<code>`` from one closed vocabulary::

    missing  invalid_email  weak_password  exists  invalid  throttled  unavailable
    disabled          (right password, account disabled by an operator)
    cancelled  provider  link_required  last_sign_in  (external sign-in: providers/routes.py)
    token_invalid  token_expired  wrong_password      (the account routes: account/)

Every redirect target must be a path on this site (open redirects), every POST
that changes state must come from this site (CSRF), and bodies are size-capped.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pywire.auth import ANONYMOUS, ClaimsPrincipal
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pywire_auth._forms import BadBody, read_form, read_json_object, with_query_redirects
from pywire_auth._http import add_query_param, is_cross_site, safe_local_path, same_origin_referer
from pywire_auth._signout import end_browser_user_sessions
from pywire_auth._state import AuthState
from pywire_auth.audit import AuditEvent, audit, email_hash
from pywire_auth.exceptions import (
    AuthError,
    ConfigurationError,
    MissingFieldError,
)
from pywire_auth.local.device import DeviceCookies
from pywire_auth.local.guard import SignInGuard
from pywire_auth.local.idp import SESSION_CLAIM, LocalIdP
from pywire_auth.local.principal import plain_user_id
from pywire_auth.middleware import SESSION_SCOPE_KEY
from pywire_auth.sessions import SessionManager
from pywire_auth.throttles.policy import RateLimit, ThrottlePolicy
from pywire_auth.tokens.issuer import RESERVED_CLAIMS
from pywire_auth.tokens.jwks_route import jwks_route
from pywire_auth.types import JSONValue

__all__ = ["ERROR_CODES", "LocalRoutes", "RegistrationClaims"]

logger = logging.getLogger("pywire_auth.routes")

#: Every ``?error=`` value the form and provider routes can produce.
ERROR_CODES = frozenset(
    {
        "missing",
        "invalid_email",
        "weak_password",
        "exists",
        "invalid",
        "throttled",
        "unavailable",
        # The password was right, but an operator disabled the account.
        "disabled",
        # External sign-in (pywire_auth.providers):
        "cancelled",
        "provider",
        "link_required",
        "last_sign_in",
    }
    | {"token_invalid", "token_expired", "wrong_password"}
)

#: Decides which claims a new account gets from its registration form.
RegistrationClaims = Callable[
    [Mapping[str, str]], Mapping[str, JSONValue] | Awaitable[Mapping[str, JSONValue]]
]

_NO_STORE = {"Cache-Control": "no-store"}
#: Sign-up fields the routes read themselves; any other posted field is the app's.
_FORM_FIELDS = frozenset({"email", "password", "name", "next", "error_next"})
_MAX_WARNED = 16
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _code(exc: AuthError) -> str:
    return exc.code if exc.code in ERROR_CODES else "invalid"


@dataclass
class LocalRoutes:
    """Builds the local IdP's Starlette routes for one app."""

    state: AuthState
    idp: LocalIdP
    prefix: str = "/auth"
    default_next: str = "/"
    login_page: str = "/login_local"
    register_page: str = "/register"
    token_ttl: int = 600
    registration_claims: RegistrationClaims | None = None
    throttle_policy: ThrottlePolicy | None = None
    #: Called with the request, the new user id and the response after a sign-up
    #: (the account routes use it to mail the first verification link).
    on_registered: Callable[[Request, str, Response], Awaitable[None]] | None = None
    guard: SignInGuard = field(init=False, repr=False)
    _audit_key: bytes = field(init=False, repr=False)
    _warned: set[str] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        policy = _policy_of(self.state.throttle, self.throttle_policy)
        devices = None
        if policy.device_cookie_ttl:
            devices = DeviceCookies(
                self.state.sessions.derive_key("device-cookie"),
                path=self._base() + "/login",
                ttl=policy.device_cookie_ttl,
                secure=self.state.sessions.config.secure,
            )
        self.guard = SignInGuard(self.state.throttle, policy, devices)
        self._audit_key = self.state.sessions.derive_key("audit-email")

    def _base(self) -> str:
        return self.prefix.rstrip("/") + "/local"

    def routes(self) -> list[Route]:
        """The five routes, mounted under ``{prefix}/local/``.

        Plus ``GET /.well-known/jwks.json`` when the IdP has ``publish_jwks=True``.
        """
        base = self._base()
        # Every method is routed here (not just POST) so that a GET is answered
        # 405 by us instead of falling through to PyWire's page catch-all.
        endpoints = {
            "register": self._form_route(self.register, self.register_page, "sign_up"),
            "login": self._form_route(self.login, self.login_page, "sign_in"),
            "token": self.token,
            "verify-token": self.verify_token,
            "revoke": self._form_route(
                self.revoke, self.default_next, "revoke", body_optional=True
            ),
        }
        routes = [Route(f"{base}/{n}", fn, methods=_ALL_METHODS) for n, fn in endpoints.items()]
        if self.idp.publish_jwks:
            routes.append(jwks_route(self.idp.tokens))
        return routes

    # Plumbing shared by the form routes -------------------------------------

    def _form_route(
        self,
        handler: Callable[[Request, dict[str, str]], Awaitable[Response]],
        error_page: str,
        event: AuditEvent,
        *,
        body_optional: bool = False,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method != "POST":
                return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "POST"})
            if is_cross_site(request.headers, scheme=request.url.scheme):
                return PlainTextResponse("Cross-site request refused", 403)
            # ``next``/``error_next`` may also sit in the form's action URL; known
            # before the body is read so that a refused body still lands there.
            fields = with_query_redirects({}, request.query_params)
            try:
                try:
                    fields = with_query_redirects(await read_form(request), request.query_params)
                except BadBody:
                    # Sign-out must work from a bare fetch() too; it needs no field.
                    if not body_optional:
                        raise
                return await handler(request, fields)
            except BadBody:
                code = "invalid"
            except AuthError as exc:
                code = _code(exc)
            except Exception:
                # The last line of defence: a bug or an unmapped driver error must
                # still land the user back on the form, not on a 500 page.
                logger.exception("unexpected error in %s", request.url.path)
                code = "unavailable"
            self._audit_failure(event, request, fields, code)
            return self._fail(request, fields, code, error_page)

        return endpoint

    def _fail(self, request: Request, fields: Mapping[str, str], code: str, page: str) -> Response:
        target = (
            same_origin_referer(request.headers, scheme=request.url.scheme)
            or safe_local_path(fields.get("error_next"))
            or safe_local_path(page)
            or "/"
        )
        return RedirectResponse(add_query_param(target, "error", code), 303, headers=_NO_STORE)

    def _audit_failure(
        self, event: AuditEvent, request: Request, fields: Mapping[str, str], code: str
    ) -> None:
        audit(
            event,
            "throttled" if code == "throttled" else "failure",
            email_hash=self._email_hash(fields),
            client=self.guard.address(request.scope),
            reason=code,
        )

    def _email_hash(self, fields: Mapping[str, str]) -> str | None:
        # Never the address itself: logs travel further than the database.
        email = fields.get("email", "")
        return email_hash(self._audit_key, email) if email.strip() else None

    def _next(self, fields: Mapping[str, str]) -> str:
        return safe_local_path(fields.get("next")) or safe_local_path(self.default_next) or "/"

    async def _sign_in(self, request: Request, user_id: str, fields: Mapping[str, str]) -> Response:
        sessions = self.state.sessions
        old_token = sessions.token_from_cookie_header(
            request.headers.get("cookie", ""), https=_https(request)
        )
        token = await sessions.start(plain_user_id(user_id), replacing=old_token)
        response = RedirectResponse(self._next(fields), 303, headers=_NO_STORE)
        response.headers.append("set-cookie", sessions.cookie_header(token, https=_https(request)))
        device = self.guard.device_cookie(fields.get("email", ""), https=_https(request))
        if device is not None:
            response.headers.append("set-cookie", device)
        await self.state.hooks.signed_in(request, user_id, self.state.store)
        return response

    # The routes ---------------------------------------------------------------

    async def register(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST {prefix}/local/register``: create the account, sign in, go to ``next``."""
        admission = await self.guard.admit_registration(request.scope)
        async with admission.refund_if_undecided():
            return await self._register(request, fields)

    async def _register(self, request: Request, fields: dict[str, str]) -> Response:
        email, password = fields.get("email", ""), fields.get("password", "")
        if not email.strip() or not password:
            raise MissingFieldError("email and password are required")
        claims: Mapping[str, JSONValue] = {}
        if self.registration_claims is not None:
            result = self.registration_claims(fields)
            claims = await result if inspect.isawaitable(result) else result
        else:
            self._warn_self_granted(fields)
        user_id = await self.idp.create_user(
            email=email, password=password, name=fields.get("name", ""), claims=dict(claims)
        )
        response = await self._sign_in(request, user_id, fields)
        self._audit_success("sign_up", request, user_id, fields)
        if self.on_registered is not None:
            await self.on_registered(request, user_id, response)
        return response

    def _warn_self_granted(self, fields: Mapping[str, str]) -> None:
        # pywire-auth 0.4 stored a posted ``role`` as a claim: anyone could make
        # themselves admin. Here it grants nothing; tell the developer (once per
        # field, and about few fields: the names come from strangers) what to do.
        for name in fields.keys() - _FORM_FIELDS - self._warned:
            if len(self._warned) >= _MAX_WARNED:
                return
            self._warned.add(name)
            logger.warning(
                "sign-up form field %r granted no claim: anyone can post it. Decide "
                "claims with connect_auth(registration_claims=...) (docs/web.md)",
                name[:64],
            )

    async def login(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST {prefix}/local/login``: check the password, sign in, go to ``next``."""
        email, password = fields.get("email", ""), fields.get("password", "")
        if not email.strip() or not password:
            raise MissingFieldError("email and password are required")
        # Counted before any hashing: a refused guess costs no Argon2, and
        # parallel guesses cannot all slip in before the count.
        admission = await self.guard.admit_login(
            request.scope, request.headers.get("cookie", ""), email
        )
        async with admission.refund_if_undecided():
            principal = await self.idp.verify_credentials(email=email, password=password)
            if principal is None:
                self._audit_failure("sign_in", request, fields, "invalid")
                return self._fail(request, fields, "invalid", self.login_page)
            response = await self._sign_in(request, principal.user_id, fields)
        await admission.succeeded()
        self._audit_success("sign_in", request, plain_user_id(principal.user_id), fields)
        return response

    def _audit_success(
        self, event: AuditEvent, request: Request, user_id: str, fields: Mapping[str, str]
    ) -> None:
        audit(
            event,
            "success",
            user_id=user_id,
            email_hash=self._email_hash(fields),
            client=self.guard.address(request.scope),
        )

    async def revoke(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST {prefix}/local/revoke``: end every session of the user, everywhere."""
        client = self.guard.address(request.scope)
        response: Response
        if await end_browser_user_sessions(self.state, request, client=client):
            response = RedirectResponse(self._next(fields), 303, headers=_NO_STORE)
        else:
            # This browser is signed out regardless; say that sessions may live on.
            response = self._fail(request, fields, "unavailable", self.default_next)
        sessions = self.state.sessions
        response.headers.append("set-cookie", sessions.clear_cookie_header(https=_https(request)))
        return response

    async def token(self, request: Request) -> Response:
        """``POST {prefix}/local/token``: a short-lived JWT for the signed-in user."""
        if request.method != "POST":
            return _json({"error": "method_not_allowed"}, 405, {"Allow": "POST"})
        if is_cross_site(request.headers, scheme=request.url.scheme):
            return _json({"error": "cross_site"}, 403)
        principal: ClaimsPrincipal = request.scope.get("user", ANONYMOUS)
        session_token = request.scope.get(SESSION_SCOPE_KEY)
        if not principal.is_authenticated or not isinstance(session_token, str):
            return _json({"error": "not_authenticated"}, 401)
        claims = {
            k: v
            for k, v in principal.raw.items()
            if k not in RESERVED_CLAIMS and k != SESSION_CLAIM
        }
        # The stored id (a SHA-256 of the cookie token), never the token: a JWT
        # handed to scripts and other services must not carry a usable cookie.
        token = self.idp.issue_id_token(
            user_id=plain_user_id(principal.user_id),
            claims=claims,
            ttl=self.token_ttl,
            session_id=SessionManager.session_id(session_token),
        )
        return _json(
            {
                "token": token,
                "token_type": "Bearer",
                "expires_in": self.token_ttl,
                "decoded": self.idp.verify_id_token(token),
            }
        )

    async def verify_token(self, request: Request) -> Response:
        """``POST {prefix}/local/verify-token``: ``{"token": ...}`` -> its claims or invalid.

        Unlike ``LocalIdP.verify_id_token``, also invalid once the token's session
        (``sid``) ended or expired, or its user is gone.
        """
        if request.method != "POST":
            return _json({"error": "method_not_allowed"}, 405, {"Allow": "POST"})
        try:
            body = await read_json_object(request)
        except BadBody as exc:
            return _json({"valid": False, "error": exc.reason}, exc.status)
        token = body.get("token")
        if not isinstance(token, str) or not token.strip():
            return _json({"valid": False, "error": "missing"}, 400)
        claims = self.idp.verify_id_token(token.strip())
        if claims is None:
            return _json({"valid": False})
        try:
            alive = await self._still_signed_in(claims)
        except AuthError:
            # Fail closed: a token whose session cannot be checked is not vouched for.
            return _json({"valid": False, "error": "unavailable"}, 503)
        if not alive:
            return _json({"valid": False})
        # The token's claims verbatim: never today's stored claims, which could
        # differ from (and be mistaken for) what the token asserts.
        return _json({"valid": True, "decoded": claims})

    async def _still_signed_in(self, claims: Mapping[str, Any]) -> bool:
        # Read from the store, not this worker's session cache: a sign-out or
        # revocation in another worker must count at once. A token with a ``sid``
        # lives only as long as that session (sign-out, revoke, expiry, a new
        # sign-in in that browser); one without (issued in Python) as long as its user.
        sessions = self.state.sessions
        subject = claims["sub"]
        if SESSION_CLAIM not in claims:
            user = await self.idp.store.get_user(subject)
            return user is not None and not user.disabled
        session_id = claims[SESSION_CLAIM]
        if not isinstance(session_id, str) or not session_id:
            return False
        found = await sessions.store.get_session_user(session_id)
        if found is None:
            return False
        record, user = found
        return (
            record.user_id == subject
            and user.user_id == subject
            and not user.disabled
            and record.expires_at > sessions.now()
        )


def _policy_of(throttle: object, policy: ThrottlePolicy | None) -> ThrottlePolicy:
    # A throttle built with one limit=/window= rule (the pre-0.5 way) carries it.
    rule = getattr(throttle, "rule", None)
    if not isinstance(rule, RateLimit):
        return policy or ThrottlePolicy()
    if policy is not None:
        raise ConfigurationError(
            "the throttle's limit=/window= and throttle_policy= both set the numbers: "
            "keep throttle_policy=ThrottlePolicy(...) and pass MemoryThrottle() without them"
        )
    return ThrottlePolicy.from_rule(rule)


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(body, status, headers={**_NO_STORE, **(headers or {})})


def _https(request: Request) -> bool:
    return request.url.scheme in ("https", "wss")
