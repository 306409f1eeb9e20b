"""The admin routes: accounts list, account page, and the actions on an account.

Every route first checks who asks (:meth:`AdminRoutes._guard`): anonymous visitors
go to the sign-in page, signed-in users the policy refuses get 403. Every action
is a POST that must come from this site (:func:`~pywire_auth._http.is_cross_site`,
the check the sign-in forms use: a page on another site cannot make the operator's
browser grant a claim or delete an account, CSRF) and goes through
:class:`~pywire_auth.AuthActions`, so the user's open pages hear of it at once.
Results come back as a redirect with a fixed code (``?done=``/``?error=``), never
as text taken from the request.
"""

from __future__ import annotations

import inspect
import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import quote

from pywire.auth import ClaimsPrincipal, PolicyContext, PolicyEngine
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pywire_auth._forms import BadBody, read_form
from pywire_auth._http import add_query_param, is_cross_site, safe_local_path
from pywire_auth._state import AuthState
from pywire_auth.actions import AuthActions
from pywire_auth.admin import html
from pywire_auth.admin.options import AdminOptions
from pywire_auth.audit import audit
from pywire_auth.exceptions import (
    AuthError,
    ConfigurationError,
    InvalidInputError,
    UserNotFoundError,
)
from pywire_auth.protocols import UserDirectory
from pywire_auth.stores._limits import EMAIL_LENGTH, USER_ID_LENGTH
from pywire_auth.types import UserRecord

__all__ = ["AdminRoutes", "register_default_policy"]

logger = logging.getLogger(__name__)

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_CLAIM_TYPE_LENGTH = 64
_CLAIM_VALUE_LENGTH = 255

#: What ``?done=`` may say; anything else shows nothing (no reflected text).
DONE_MESSAGES: Mapping[str, str] = {
    "granted": "Claim granted.",
    "claim_revoked": "Claim revoked.",
    "sessions_revoked": "Every session of this account was ended.",
    "session_revoked": "The session was ended.",
    "deleted": "The account was deleted.",
    "disabled": "The account was disabled: it cannot sign in, and its sessions ended.",
    "enabled": "The account was enabled again.",
}
#: What ``?error=`` may say.
ERROR_MESSAGES: Mapping[str, str] = {
    "invalid": "That was not accepted: check the fields.",
    "reserved": "sub, email and name come from the account and cannot be set as claims.",
    "confirm": "Tick the box to confirm the deletion.",
    "not_found": "There is no such account, claim or session (any more).",
    "unavailable": "The user store is unavailable; nothing was changed. Try again.",
}

_SECURITY_HEADERS = {
    # Account data must not stay in a shared browser's cache or a proxy (ASVS 8.2.1).
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": html.CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

Handler = Callable[[Request, ClaimsPrincipal], Awaitable[Response]]
Action = Callable[[str, dict[str, str]], Awaitable[str]]


def register_default_policy(engine: PolicyEngine, options: AdminOptions) -> None:
    """Give the engine ``role=<name>`` as the admin policy if the app defined none."""
    name = options.policy
    if isinstance(name, str) and not engine.has_policy(name):
        engine.add_policy(name, requires_claim=("role", name))


class AdminRoutes:
    """The routes under ``options.path``; ``integration.py`` mounts them."""

    def __init__(self, state: AuthState, options: AdminOptions, *, login_page: str) -> None:
        if not isinstance(state.store, UserDirectory):
            raise ConfigurationError(
                f"{type(state.store).__name__} cannot list users (UserDirectory): "
                "the admin pages need it"
            )
        self._state = state
        self._directory: UserDirectory = state.store
        self._options = options
        self._login_page = login_page
        self._actions = AuthActions(state)
        self._base = options.path

    def routes(self) -> list[Route]:
        """The accounts list, the account page and one POST route per action."""
        user = self._base + "/users/{user_id}"
        actions: dict[str, Action] = {
            "grant": self._grant,
            "revoke-claim": self._revoke_claim,
            "revoke-sessions": self._revoke_sessions,
            "revoke-session": self._revoke_session,
            "delete": self._delete,
            "disable": self._disable,
            "enable": self._enable,
        }
        routes = [
            Route(self._base, self._page(self._users), methods=_ALL_METHODS),
            Route(user, self._page(self._account), methods=_ALL_METHODS),
        ]
        routes += [
            Route(f"{user}/{name}", self._action(name, action), methods=_ALL_METHODS)
            for name, action in actions.items()
        ]
        return routes

    # Who may ask -------------------------------------------------------------------

    async def _allowed(self, request: Request, principal: ClaimsPrincipal) -> bool:
        policy = self._options.policy
        context = PolicyContext(principal=principal, request=request)
        try:
            if isinstance(policy, str):
                return await self._state.engine.evaluate(policy, context)
            result = policy(context)
            return bool(await result if inspect.isawaitable(result) else result)
        except KeyError:
            # The named policy was removed after connect_auth: refuse, do not guess.
            logger.error("admin policy %r is not defined; refusing", policy)
            return False

    async def _guard(self, request: Request) -> ClaimsPrincipal | Response:
        principal = request.scope.get("user")
        if not isinstance(principal, ClaimsPrincipal) or not principal.is_authenticated:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = safe_local_path(self._login_page) or "/"
            return _headers(RedirectResponse(add_query_param(login, "next", target), 303))
        if not await self._allowed(request, principal):
            page = html.message_page(
                base=self._base,
                title="Not allowed",
                message="Your account may not use the admin pages.",
            )
            return _headers(HTMLResponse(page, 403))
        return principal

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method not in ("GET", "HEAD"):
                return _headers(PlainTextResponse("Method Not Allowed", 405, {"Allow": "GET"}))
            allowed = await self._guard(request)
            if isinstance(allowed, Response):
                return allowed
            try:
                return _headers(await handler(request, allowed))
            except AuthError as exc:
                logger.warning("admin page failed (%s)", exc.code)
                page = html.message_page(
                    base=self._base, title="Unavailable", message=ERROR_MESSAGES["unavailable"]
                )
                return _headers(HTMLResponse(page, 503))

        return endpoint

    def _action(self, name: str, action: Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method != "POST":
                return _headers(PlainTextResponse("Method Not Allowed", 405, {"Allow": "POST"}))
            if is_cross_site(request.headers, scheme=request.url.scheme):
                return _headers(PlainTextResponse("Cross-site request refused", 403))
            allowed = await self._guard(request)
            if isinstance(allowed, Response):
                return allowed
            user_id = request.path_params["user_id"]
            back = self._user_url(user_id)
            try:
                fields = await read_form(request)
                done = await action(user_id, fields)
            except BadBody:
                return _headers(RedirectResponse(add_query_param(back, "error", "invalid"), 303))
            except AuthError as exc:
                code = _error_code(exc)
                audit("admin_action", "failure", user_id=user_id, reason=f"{name}:{code}")
                return _headers(RedirectResponse(add_query_param(back, "error", code), 303))
            audit("admin_action", "success", user_id=user_id, reason=f"{name} by {allowed.user_id}")
            target = self._base if done == "deleted" else back
            return _headers(RedirectResponse(add_query_param(target, "done", done), 303))

        return endpoint

    def _user_url(self, user_id: str) -> str:
        return f"{self._base}/users/{quote(user_id, safe='')}"

    # Pages --------------------------------------------------------------------------

    async def _users(self, request: Request, _principal: ClaimsPrincipal) -> Response:
        params = request.query_params
        # Stored emails are normalized (NFKC, lower case): a search is too.
        query = unicodedata.normalize("NFKC", params.get("q", "")).strip().lower()[:EMAIL_LENGTH]
        after_email, after_id = params.get("after_email"), params.get("after_id")
        after = (after_email, after_id) if after_email is not None and after_id else None
        size = self._options.page_size
        error = None
        try:
            # One row more than a page tells whether a next page exists.
            found = await self._directory.list_users(
                email_prefix=query, after=after, limit=size + 1
            )
        except InvalidInputError:
            found, after, error = [], None, ERROR_MESSAGES["invalid"]
        page = found[:size]
        next_after = (page[-1].email, page[-1].user_id) if len(found) > size else None
        body = html.users_page(
            base=self._base,
            query=query,
            users=page,
            next_after=next_after,
            first_page=after is None,
            message=_message(DONE_MESSAGES, params.get("done")),
            error=error or _message(ERROR_MESSAGES, params.get("error")),
        )
        return HTMLResponse(body)

    async def _account(self, request: Request, _principal: ClaimsPrincipal) -> Response:
        user_id = request.path_params["user_id"]
        user = await self._state.store.get_user(user_id) if len(user_id) <= USER_ID_LENGTH else None
        if user is None:
            page = html.message_page(
                base=self._base, title="No such account", message=ERROR_MESSAGES["not_found"]
            )
            return HTMLResponse(page, 404)
        params = request.query_params
        body = html.account_page(
            base=self._base,
            user=user,
            links=await self._state.store.get_links(user.user_id),
            sessions=await self._directory.list_user_sessions(user.user_id),
            now=int(time.time()),
            message=_message(DONE_MESSAGES, params.get("done")),
            error=_message(ERROR_MESSAGES, params.get("error")),
        )
        return HTMLResponse(body)

    # Actions: each returns its ?done= code ------------------------------------------

    async def _grant(self, user_id: str, fields: dict[str, str]) -> str:
        claim, value = _claim_fields(fields)
        if not value:
            raise InvalidInputError("a claim value is needed")
        await self._actions.grant(user_id, claim, value)
        return "granted"

    async def _revoke_claim(self, user_id: str, fields: dict[str, str]) -> str:
        claim, value = _claim_fields(fields)
        user = await self._require_user(user_id)
        stored = user.claims.get(claim)
        values = stored if isinstance(stored, list) else [] if stored is None else [stored]
        # The form names a value as the page showed it: `true` or `3` for JSON values.
        remaining = [v for v in values if value and html.claim_text(v) != value]
        if claim not in user.claims or len(remaining) == len(values):
            raise UserNotFoundError("no such claim value")  # shown as "not_found"
        kept = None if not remaining else remaining[0] if len(remaining) == 1 else remaining
        await self._actions.update_claims(user.user_id, {claim: kept})
        return "claim_revoked"

    async def _revoke_sessions(self, user_id: str, _fields: dict[str, str]) -> str:
        await self._require_user(user_id)
        await self._actions.revoke_sessions(user_id)
        return "sessions_revoked"

    async def _revoke_session(self, user_id: str, fields: dict[str, str]) -> str:
        if not await self._actions.end_session(user_id, fields.get("session", "")):
            raise UserNotFoundError("no such session")  # shown as "not_found"
        return "session_revoked"

    async def _disable(self, user_id: str, _fields: dict[str, str]) -> str:
        await self._actions.set_disabled(user_id, True)
        return "disabled"

    async def _enable(self, user_id: str, _fields: dict[str, str]) -> str:
        await self._actions.set_disabled(user_id, False)
        return "enabled"

    async def _delete(self, user_id: str, fields: dict[str, str]) -> str:
        if fields.get("confirm") != "yes":
            raise _Unconfirmed
        if not await self._actions.delete_user(user_id):
            raise UserNotFoundError(f"no user {user_id!r}")
        return "deleted"

    async def _require_user(self, user_id: str) -> UserRecord:
        user = await self._state.store.get_user(user_id)
        if user is None:
            raise UserNotFoundError(f"no user {user_id!r}")
        return user


class _Unconfirmed(InvalidInputError):
    """The deletion's confirmation box was not ticked."""


def _claim_fields(fields: Mapping[str, str]) -> tuple[str, str]:
    claim, value = fields.get("claim", "").strip(), fields.get("value", "").strip()
    if not claim or len(claim) > _CLAIM_TYPE_LENGTH or len(value) > _CLAIM_VALUE_LENGTH:
        raise InvalidInputError("claim type and value are too long or missing")
    if claim in ("sub", "email", "name"):
        raise _Reserved
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in claim + value):
        raise InvalidInputError("claims must not hold control characters")
    return claim, value


class _Reserved(InvalidInputError):
    """sub, email and name are the account's own."""


def _error_code(exc: AuthError) -> str:
    if isinstance(exc, _Unconfirmed):
        return "confirm"
    if isinstance(exc, _Reserved):
        return "reserved"
    if exc.code in ERROR_MESSAGES:
        return exc.code
    return "unavailable" if exc.code == "unavailable" else "invalid"


def _message(messages: Mapping[str, str], code: str | None) -> str | None:
    return messages.get(code) if code else None


def _headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers[name] = value
    return response
