"""The account routes: reset and change password, verify and change email, delete.

Mounted by ``connect_auth`` beside the local IdP's routes under
``{prefix}/local/``, and built on their plumbing (``LocalRoutes``): the same CSRF
check, size-capped forms, same-site ``next``/``error_next`` redirects and
``?error=`` vocabulary. What they mail, and where its links point, is
``account/mailing.py``; the tokens in the links are ``account/links.py``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from pywire.auth import ANONYMOUS, ClaimsPrincipal
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pywire_auth._forms import BadBody, read_form, with_query_redirects
from pywire_auth._http import add_query_param, is_cross_site, safe_local_path
from pywire_auth.account import email_change
from pywire_auth.account.links import LinkTokens
from pywire_auth.account.mailing import AccountMail
from pywire_auth.account.options import AccountOptions
from pywire_auth.actions import AuthActions
from pywire_auth.exceptions import (
    AuthError,
    InvalidInputError,
    LinkTokenError,
    MailUnavailableError,
    MissingFieldError,
    WrongPasswordError,
)
from pywire_auth.local.guard import Admission, account_of
from pywire_auth.local.normalize import email_lookup_forms
from pywire_auth.local.principal import plain_user_id, principal_user_id
from pywire_auth.local.routes import ERROR_CODES, LocalRoutes
from pywire_auth.protocols import Mailer
from pywire_auth.throttles.policy import RateLimit
from pywire_auth.types import LOCAL_PROVIDER, UserRecord

__all__ = ["AccountRoutes"]

logger = logging.getLogger("pywire_auth.account")

_NO_STORE = {"Cache-Control": "no-store"}
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
RESET, VERIFY = "reset", "verify_email"


@dataclass
class AccountRoutes:
    """Builds the account routes for one app, on top of its :class:`LocalRoutes`."""

    local: LocalRoutes
    mailer: Mailer | None
    options: AccountOptions = field(default_factory=AccountOptions)
    base_url: str = ""
    links: LinkTokens = field(init=False, repr=False)
    mail: AccountMail = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.links = LinkTokens(self.local.state.sessions.derive_key("account-link"))
        self.mail = AccountMail(self.mailer, self.options, self.base_url)
        self.local.on_registered = self._registered

    def routes(self) -> list[Route]:
        """The account routes, mounted under ``{prefix}/local/``."""
        base = self.local._base()
        form = self.local._form_route
        opts = self.options
        endpoints: dict[str, Any] = {
            "forgot-password": form(self.forgot_password, opts.forgot_page, "password_forgot"),
            "reset-password": form(self.reset_password, opts.reset_page, "password_reset"),
            "verify-email/request": form(
                self.request_verification, opts.account_page, "email_verification"
            ),
            "verify-email": self.verify_email,
            "change-password": form(self.change_password, opts.account_page, "password_change"),
            "delete-account": form(self.delete_account, opts.account_page, "account_delete"),
            "change-email": form(self.change_email, opts.account_page, "email_change"),
        }
        return [Route(f"{base}/{name}", fn, methods=_ALL_METHODS) for name, fn in endpoints.items()]

    # Forgot and reset ------------------------------------------------------------

    async def forgot_password(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST forgot-password``: mail a reset link if the account exists.

        The answer is the same redirect whether or not it exists, the throttles
        count before the look-up, and the mail goes out after the response, so
        neither answer, throttling nor timing tells who has an account.
        """
        email = fields.get("email", "")
        if not email.strip():
            raise MissingFieldError("email is required")
        addresses = email_lookup_forms(email)  # invalid_email, whoever asks
        base = self.mail.link_base(request)  # unavailable for every address alike
        mailer = self.mail.require_mailer()
        admission = Admission(self.local.guard.throttle)
        async with admission.refund_if_undecided():
            await self._count(
                admission,
                f"forgot:address:{self.local.guard.address(request.scope)}",
                self.options.reset_requests_per_address,
            )
            await self._count(
                admission,
                f"forgot:account:{_digest(account_of(email))}",
                self.options.reset_requests_per_account,
            )
            login = None
            for address in addresses:
                login = await self.local.state.store.get_login(LOCAL_PROVIDER, address)
                if login is not None:
                    break
        response = RedirectResponse(self.local._next(fields), 303, headers=_NO_STORE)
        if login is not None and login.pw_hash is not None:
            user = login.user
            token = self.links.issue(
                RESET, user.user_id, state=login.pw_hash, ttl=self.options.reset_ttl
            )
            message = self.mail.message(
                "reset_password", user, base, self.options.reset_page, token, self.options.reset_ttl
            )
            self.mail.send_after(response, mailer, message)
        return response

    async def reset_password(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST reset-password``: set the password, sign out everywhere, sign in here."""
        token, password = fields.get("token", ""), fields.get("password", "")
        if not token or not password:
            raise MissingFieldError("token and password are required")
        store = self.local.state.store
        parsed = self.links.parse(token)
        old_hash = await store.get_password_hash(parsed.user_id)
        self.links.verify(RESET, parsed, old_hash)
        user = await store.get_user(parsed.user_id)
        if user is None or old_hash is None:
            raise LinkTokenError("this link is invalid or was already used")
        idp = self.local.idp
        plain = await idp.password_policy.check(password, email=user.email)
        new_hash = await idp.hasher.hash(plain)
        # Compare-and-set: of two requests racing with one link only the first
        # finds the hash the link was made for; the second is a used link.
        if not await store.set_password_hash(user.user_id, new_hash, expected=old_hash):
            raise LinkTokenError("this link is invalid or was already used")
        await self._end_everywhere(user.user_id)
        return await self.local._sign_in(request, user.user_id, {**fields, "email": user.email})

    # Verify email ----------------------------------------------------------------

    async def request_verification(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST verify-email/request`` (signed in): mail a link that confirms the address."""
        user = await self._signed_in_user(request)
        base = self.mail.link_base(request)
        mailer = self.mail.require_mailer()
        if user.claims.get("email_verified") is True:
            return RedirectResponse(self.local._next(fields), 303, headers=_NO_STORE)
        admission = Admission(self.local.guard.throttle)
        async with admission.refund_if_undecided():
            await self._count(
                admission,
                f"verify:user:{_digest(user.user_id)}",
                self.options.verify_requests_per_user,
            )
            token = self.links.issue(
                VERIFY, user.user_id, state=_verify_state(user), ttl=self.options.verify_ttl
            )
            message = self.mail.message(
                "verify_email", user, base, self.options.verify_page, token, self.options.verify_ttl
            )
            try:
                await mailer.send(message)
            except MailUnavailableError:
                # Nothing was stored; the user's next try costs no extra count.
                await admission.give_back(f"verify:user:{_digest(user.user_id)}")
                raise
        return RedirectResponse(self.local._next(fields), 303, headers=_NO_STORE)

    async def verify_email(self, request: Request) -> Response:
        """``GET verify-email?token=`` (the mailed link's page may also POST it): verify.

        A GET is allowed because the token itself is the proof: a forged
        cross-site request without it can do nothing.
        """
        page = self.options.verify_page
        if request.method == "POST":
            if is_cross_site(request.headers, scheme=request.url.scheme):
                return PlainTextResponse("Cross-site request refused", 403)
            try:
                fields = with_query_redirects(await read_form(request), request.query_params)
            except BadBody:
                return _redirect(add_query_param(page, "error", "invalid"))
        elif request.method == "GET":
            # Not HEAD: a link checker's HEAD request must not use the link up.
            fields = dict(request.query_params)
        else:
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, POST"})
        done = safe_local_path(fields.get("next")) or add_query_param(page, "verified", "1")
        try:
            parsed = self.links.parse(fields.get("token", ""))
            store = self.local.state.store
            user = await store.get_user(parsed.user_id)
            if parsed.data:  # an email change: the token carries the new address
                self.links.verify(email_change.PURPOSE, parsed, user.email if user else None)
                if user is not None:
                    await email_change.apply_change(store, user, parsed.data)
            else:
                self.links.verify(VERIFY, parsed, _verify_state(user) if user else None)
            # The link reached the (new) address: it is verified. Pushed to live pages.
            await AuthActions(self.local.state).update_claims(
                parsed.user_id, {"email_verified": True}
            )
        except AuthError as exc:
            # The error page never shows the token: it was only in this request.
            code = exc.code if exc.code in ERROR_CODES else "invalid"
            return _redirect(add_query_param(page, "error", code))
        response = _redirect(done)
        if parsed.data and user is not None:
            self.mail.notify(response, "email_changed", user)  # to the old address
        return response

    # Change email ----------------------------------------------------------------

    async def change_email(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST change-email`` (signed in; ``password``, ``email``): mail a link to the
        new address; the address changes only when that link is used."""
        user = await self._signed_in_user(request)
        password, email = fields.get("password", ""), fields.get("email", "")
        if not password or not email.strip():
            raise MissingFieldError("password and email are required")
        base = self.mail.link_base(request)
        mailer = self.mail.require_mailer()
        await self._check_password(request, user, password)
        address = await email_change.check_new_address(self.local.state.store, user, email)
        ttl = self.options.verify_ttl
        token = self.links.issue(
            email_change.PURPOSE, user.user_id, state=user.email, ttl=ttl, data=address
        )
        recipient = replace(user, email=address)
        await mailer.send(
            self.mail.message("change_email", recipient, base, self.options.verify_page, token, ttl)
        )
        return RedirectResponse(self.local._next(fields), 303, headers=_NO_STORE)

    # Change password -------------------------------------------------------------

    async def change_password(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST change-password`` (signed in): new session here, every other one ends."""
        user = await self._signed_in_user(request)
        current, new = fields.get("current_password", ""), fields.get("new_password", "")
        if not current or not new:
            raise MissingFieldError("current_password and new_password are required")
        admission = Admission(self.local.guard.throttle)
        async with admission.refund_if_undecided():
            await self._count(
                admission,
                f"password:user:{_digest(user.user_id)}",
                self.options.password_checks_per_user,
            )
            changed = await self.local.idp.change_password(
                user_id=user.user_id, old_password=current, new_password=new
            )
            if not changed:
                raise WrongPasswordError("the current password is wrong")
            await admission.succeeded()
        await self._end_everywhere(user.user_id)
        response = await self.local._sign_in(request, user.user_id, {**fields, "email": user.email})
        self.mail.notify(response, "password_changed", user)
        return response

    # Delete account ---------------------------------------------------------------

    async def delete_account(self, request: Request, fields: dict[str, str]) -> Response:
        """``POST delete-account`` (signed in; ``password``): remove the user for good.

        The user, their password, links and sessions go in one store transaction;
        their live tabs drop through the channel and this browser's cookie is cleared.
        """
        user = await self._signed_in_user(request)
        password = fields.get("password", "")
        if not password:
            raise MissingFieldError("password is required")
        await self._check_password(request, user, password)
        sessions = self.local.state.sessions
        try:
            await self.local.state.store.delete_user(user.user_id)
        finally:
            sessions.forget_user(user.user_id)
        await self.local.state.channel.revoke(principal_user_id(user.user_id))
        response = RedirectResponse(self.local._next(fields), 303, headers=_NO_STORE)
        response.headers.append("set-cookie", sessions.clear_cookie_header(https=_https(request)))
        self.mail.notify(response, "account_deleted", user)
        return response

    async def _check_password(self, request: Request, user: UserRecord, password: str) -> None:
        # The session alone is not enough for a destructive change: a stolen
        # session (an unlocked laptop) must not delete the account. Counted per user.
        admission = Admission(self.local.guard.throttle)
        async with admission.refund_if_undecided():
            await self._count(
                admission,
                f"password:user:{_digest(user.user_id)}",
                self.options.password_checks_per_user,
            )
            principal = await self.local.idp.verify_credentials(email=user.email, password=password)
            if principal is None or plain_user_id(principal.user_id) != user.user_id:
                raise WrongPasswordError("the password is wrong")

    # Registration -----------------------------------------------------------------

    async def _registered(self, request: Request, user_id: str, response: Response) -> None:
        """Mail the first verification link after a sign-up, when mail is set up.

        Sent after the answer and never failing it: the account exists either way,
        and the user can ask again from their account page.
        """
        try:
            base = self.mail.link_base(request)
            mailer = self.mail.require_mailer()
        except MailUnavailableError:
            return
        user = await self.local.state.store.get_user(user_id)
        if user is None:
            return
        token = self.links.issue(
            VERIFY, user.user_id, state=_verify_state(user), ttl=self.options.verify_ttl
        )
        message = self.mail.message(
            "verify_email", user, base, self.options.verify_page, token, self.options.verify_ttl
        )
        self.mail.send_after(response, mailer, message)

    # Helpers ---------------------------------------------------------------------

    async def _signed_in_user(self, request: Request) -> UserRecord:
        principal: ClaimsPrincipal = request.scope.get("user", ANONYMOUS)
        if not principal.is_authenticated:
            raise InvalidInputError("sign in first")
        user = await self.local.state.store.get_user(plain_user_id(principal.user_id))
        if user is None:
            raise InvalidInputError("sign in first")
        return user

    async def _end_everywhere(self, user_id: str) -> None:
        # Every session, and every live tab through the channel: whoever knew the
        # old password (or held a session) is out.
        await self.local.state.sessions.end_all(user_id)
        await self.local.state.channel.revoke(principal_user_id(user_id))

    @staticmethod
    async def _count(admission: Admission, key: str, rate: RateLimit) -> None:
        await admission.count(key, rate, refund_on_success=False)


def _verify_state(user: UserRecord) -> str:
    return f"{user.email}\x00{user.claims.get('email_verified') is True}"


def _digest(value: str) -> str:
    # Throttle keys never carry an email or id in the clear (Redis and logs see them).
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _https(request: Request) -> bool:
    return request.url.scheme in ("https", "wss")


def _redirect(target: str) -> Response:
    return RedirectResponse(target, 303, headers=_NO_STORE)
