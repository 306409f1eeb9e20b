"""connect_auth: the only module that touches the PyWire app.

PyWire 0.19 has no public hook for several things an auth add-on needs; each
place below that reaches into its internals says why.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from pywire.auth import AuthChannel, PolicyEngine
from starlette.routing import BaseRoute, Route

from pywire_auth._options import session_options
from pywire_auth._signout import LogoutRoute
from pywire_auth._state import AuthState
from pywire_auth.account.options import AccountOptions
from pywire_auth.account.referrer import NoReferrerMiddleware
from pywire_auth.account.routes import AccountRoutes
from pywire_auth.actions import AuthActions
from pywire_auth.admin.options import AdminOptions
from pywire_auth.channels._default import default_channel
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.exceptions import ConfigurationError
from pywire_auth.hooks import AuthHook, AuthHooks
from pywire_auth.local.idp import LocalIdP
from pywire_auth.local.principal import plain_user_id
from pywire_auth.local.routes import LocalRoutes, RegistrationClaims
from pywire_auth.mail.config import mailer_from_env
from pywire_auth.middleware import AuthMiddleware
from pywire_auth.protocols import AuthStore, EventLog, Mailer, SessionStore, Throttle
from pywire_auth.security_headers import SecurityHeaders, SecurityHeadersMiddleware
from pywire_auth.session_pruner import SessionPruner
from pywire_auth.sessions import SessionConfig, SessionManager
from pywire_auth.stores.memory import MemoryAuthStore
from pywire_auth.throttles._default import default_throttle
from pywire_auth.throttles.policy import ThrottlePolicy

if TYPE_CHECKING:
    from pywire_auth.protocols import ExternalProvider

__all__ = ["connect_auth"]

_DEFAULT = object()


def connect_auth(
    app: Any,
    *,
    local_idp: LocalIdP | None = None,
    providers: Sequence[ExternalProvider] | None = None,
    auth_store: AuthStore | None = None,
    policy_engine: PolicyEngine | None = None,
    auth_channel: AuthChannel | None = None,
    prefix: str = "/auth",
    default_next: str = "/",
    login_page: str = "/login_local",
    register_page: str = "/register",
    session_secret: str = "",
    session_secret_fallbacks: Sequence[str] = (),
    session_config: SessionConfig | None = None,
    throttle: Throttle | object | None = _DEFAULT,
    throttle_policy: ThrottlePolicy | None = None,
    registration_claims: RegistrationClaims | None = None,
    token_ttl: int = 600,
    security_headers: SecurityHeaders | None = None,
    mailer: Mailer | object | None = _DEFAULT,
    base_url: str = "",
    account_options: AccountOptions | None = None,
    admin: AdminOptions | None = None,
    secret_key: str = "",
    session_ttl: int | None = None,
    cookie_secure: bool | None = None,
    on_login: AuthHook | None = None,
    on_logout: AuthHook | None = None,
) -> PolicyEngine:
    """Add sign-in sessions, the auth middleware and the local IdP routes to ``app``.

    Returns the :class:`~pywire.auth.PolicyEngine` so policies can be added::

        engine = connect_auth(app, local_idp=idp)
        engine.add_policy("admin", requires_claim=("role", "admin"))

    * Sessions are signed with ``session_secret`` or ``PYWIRE_SESSION_SECRET`` and kept
      in the IdP's store (which must also be a ``SessionStore``), so they survive
      restarts with the users they belong to. Cookies signed with one of
      ``session_secret_fallbacks`` (or ``PYWIRE_SESSION_SECRET_FALLBACKS``) are still
      accepted, for rotating the secret. The session secret must differ from the
      IdP's token secret.
    * A password change or reset and a deleted user end the user's (other)
      sessions and sign out their live pages in every worker.
    * Live pages hear sign-outs and claim changes from every worker process and
      machine: by default through the store's event log (``StoreAuthChannel``), or
      Redis pub/sub when ``REDIS_URL`` is set (``RedisAuthChannel``).
    * ``throttle`` counts sign-in and sign-up attempts (default: shared by every
      worker: Redis when ``REDIS_URL`` is set, else the SQL store's database; an
      in-memory store gets an in-memory throttle);
      ``throttle_policy`` (a :class:`~pywire_auth.ThrottlePolicy`) sets how many per
      address, account and device, and where the client address comes from behind a
      proxy; ``throttle=None`` turns throttling off.
    * ``providers`` (e.g. :class:`~pywire_auth.GenericOIDCProvider`) add
      ``{prefix}/{name}/login`` and ``{prefix}/{name}/callback`` for sign-in with
      OpenID Connect providers, on the same sessions and store (docs/providers.md).
      Left out, they come from ``PYWIRE_AUTH_OIDC_<NAME>_*`` variables (``.env``);
      ``providers=[]`` turns that off.
      Without ``local_idp``, users live in ``auth_store`` (default: in memory).
    * ``POST {prefix}/logout`` signs out whatever the sign-in method (the same as
      ``{prefix}/local/revoke``: every session of the user ends, live pages too).
    * ``registration_claims(form) -> claims`` decides which claims a new account
      gets from its sign-up form. Without it, posted fields such as ``role`` grant
      nothing: anyone can post them.
    * Responses for ``login_page``, ``register_page`` and the auth routes carry
      anti-framing headers (``X-Frame-Options: DENY``, ``frame-ancestors 'self'``,
      ``Referrer-Policy: same-origin``, ``nosniff``, ``Cache-Control: no-store``);
      ``security_headers=SecurityHeaders(paths=..., all_pages=...)`` adds pages.
    * ``mailer`` sends reset and verification links (default: from
      ``PYWIRE_AUTH_SMTP_URL``/``PYWIRE_AUTH_MAIL_FROM``, the console under
      ``pywire dev``); links start with ``base_url`` or ``PYWIRE_AUTH_BASE_URL``;
      ``account_options`` (an :class:`~pywire_auth.AccountOptions`) sets pages,
      lifetimes and messages. See docs/account-lifecycle.md.
    * ``admin`` (an :class:`~pywire_auth.AdminOptions`) mounts the admin pages
      (accounts, claims, sessions) for users its policy lets in (docs/operations.md).
    * ``on_login(principal, request)`` runs after every sign-in (a new session:
      register, login, password reset or change, provider sign-in) and
      ``on_logout(principal, request)`` after a sign-out (``ANONYMOUS`` if the
      browser had no live session); one that raises is logged, never breaking
      the sign-in (:mod:`pywire_auth.hooks`).
    * pywire-auth's documented short options work too: ``secret_key`` is
      ``session_secret``; ``session_ttl`` and ``cookie_secure`` are
      ``SessionConfig(ttl=, secure=)`` (not combinable with ``session_config``).
    """
    if getattr(app, "_pywire_auth_connected", False):
        raise ConfigurationError("connect_auth was already called for this app")
    engine = policy_engine or PolicyEngine()
    if local_idp is not None and auth_store is not None and auth_store is not local_idp.store:
        raise ConfigurationError("auth_store must be the local IdP's store (or left out)")
    store = local_idp.store if local_idp is not None else auth_store or MemoryAuthStore()
    channel: AuthChannel = auth_channel or default_channel(store)
    if isinstance(channel, FanoutChannel) and isinstance(store, EventLog):
        channel.bind_log(store)
    if not isinstance(store, SessionStore):
        # Sessions reference their users, so they live in the same store.
        raise ConfigurationError(
            f"{type(store).__name__} keeps no sessions: implement SessionStore on it"
        )
    session_secret, session_config = session_options(
        session_secret=session_secret,
        secret_key=secret_key,
        session_config=session_config,
        session_ttl=session_ttl,
        cookie_secure=cookie_secure,
    )
    sessions = SessionManager(
        store, session_secret, session_config, secret_fallbacks=session_secret_fallbacks
    )
    if local_idp is not None and sessions.secret_fingerprints & local_idp.secret_fingerprints:
        # One key for two jobs: a leak or a cross-protocol trick in one (a token
        # signature accepted as a cookie signature) would break the other.
        raise ConfigurationError(
            "the session secret must differ from the local IdP's token secret "
            "(generate each with: openssl rand -hex 32)"
        )
    state = AuthState(
        store=store,
        sessions=sessions,
        engine=engine,
        channel=channel,
        local_idp=local_idp,
        throttle=default_throttle(store) if throttle is _DEFAULT else _as_throttle(throttle),
        hooks=AuthHooks(on_login=on_login, on_logout=on_logout),
    )
    if isinstance(channel, FanoutChannel):
        # A sign-out or claim change in another worker must not be served from
        # this worker's session cache for longer than the channel takes.
        channel.add_listener(lambda event: sessions.forget_user(plain_user_id(event.user_id)))
    routes: list[BaseRoute] = []
    account_paths: list[str] = []
    if local_idp is not None:
        local_routes = LocalRoutes(
            state=state,
            idp=local_idp,
            prefix=prefix,
            default_next=default_next,
            login_page=login_page,
            register_page=register_page,
            token_ttl=token_ttl,
            registration_claims=registration_claims,
            throttle_policy=throttle_policy,
        )
        account = AccountRoutes(
            local_routes,
            mailer_from_env() if mailer is _DEFAULT else _as_mailer(mailer),
            account_options or AccountOptions(),
            base_url,
        )
        routes += local_routes.routes() + account.routes()
        account_paths = [account.options.reset_page, account.options.verify_page]
    # Signs out whatever the sign-in method (the same as /local/revoke).
    logout = LogoutRoute(state, prefix, default_next=default_next, throttle_policy=throttle_policy)
    routes.append(logout.route())
    if providers is None:
        providers = _providers_from_env()
    if providers:
        # Imported here: providers need httpx (the ``oidc`` extra), the core does not.
        from pywire_auth.providers.routes import ProviderRoutes

        routes += ProviderRoutes(
            state=state,
            providers=providers,
            prefix=prefix,
            default_next=default_next,
            login_page=login_page,
            throttle_policy=throttle_policy,
        ).routes()

    if admin is not None:
        # Imported here: most apps never mount the admin pages.
        from pywire_auth.admin.routes import AdminRoutes, register_default_policy

        register_default_policy(engine, admin)
        routes += AdminRoutes(state, admin, login_page=login_page).routes()

    starlette_app = app.app
    # PyWire ends its route list with a GET/POST catch-all for pages and offers no
    # add_route; routes appended after it never match, so ours go in front.
    starlette_app.router.routes[0:0] = routes
    # Must happen before the first request: Starlette builds the stack lazily.
    app.add_middleware(AuthMiddleware, state=state)
    if account_paths:
        app.add_middleware(
            NoReferrerMiddleware, paths=account_paths, prefixes=[prefix.rstrip("/") + "/local"]
        )
    # Pages that take passwords must not be framed by other sites (clickjacking).
    headers_config = (security_headers or SecurityHeaders()).with_paths(
        [
            login_page,
            register_page,
            *account_paths,
            *(route.path for route in routes if isinstance(route, Route)),
        ]
    )
    if headers_config.headers:
        app.add_middleware(SecurityHeadersMiddleware, config=headers_config)
    # PyWire's WebSocket handler looks the channel up under this private name
    # (runtime/websocket.py) to push live sign-outs and claim updates.
    app._auth_channel = channel
    _run_with_lifespan(starlette_app.router, state, close_throttle=throttle is _DEFAULT)

    app.state.local_idp = local_idp
    app.state.auth_store = store
    app.state.auth_channel = channel
    # The documented shape: the external providers' names, in the configured
    # order, so a page can draw one "Sign in with ..." button each. The objects
    # (the local IdP under "local" too) stay reachable by name.
    provider_map: dict[str, Any] = {local_idp.provider: local_idp} if local_idp else {}
    provider_map.update({provider.name: provider for provider in providers})
    app.state.auth_provider_map = provider_map
    app.state.auth_providers = [provider.name for provider in providers]
    actions = AuthActions(state)
    if local_idp is not None:
        # A password change made through the IdP's Python API ends the user's
        # other sessions here and signs out their live pages in every worker.
        local_idp.set_session_ender(
            lambda user_id, keep: _discard(actions.end_sessions(user_id, keep=keep))
        )
    app.state.auth = actions
    app.state.auth_engine = engine
    app._pywire_auth_connected = True
    return engine


async def _discard(work: Awaitable[int]) -> None:
    await work


def _providers_from_env() -> Sequence[ExternalProvider]:
    # Imported only when configured: providers need httpx (the ``oidc`` extra).
    if not any(key.startswith("PYWIRE_AUTH_OIDC_") for key in os.environ):
        return ()
    from pywire_auth.providers.env import providers_from_env

    return providers_from_env()


def _as_throttle(value: object) -> Throttle | None:
    if value is None or isinstance(value, Throttle):
        return value
    raise ConfigurationError("throttle must be a Throttle or None")


def _as_mailer(value: object) -> Mailer | None:
    if value is None or isinstance(value, Mailer):
        return value
    raise ConfigurationError("mailer must be a Mailer or None")


def _run_with_lifespan(router: Any, state: AuthState, *, close_throttle: bool) -> None:
    # Starlette 1.x has no on_startup/on_shutdown lists; wrapping the lifespan is
    # the only way to start following other workers' sign-outs and pruning
    # expired sessions when the server starts, and to stop both, dispose the
    # engine and stop hashing threads when it stops.
    original: Callable[[Any], AbstractAsyncContextManager[Any]] = router.lifespan_context
    channel = state.channel

    @asynccontextmanager
    async def lifespan(starlette_app: Any) -> AsyncIterator[Any]:
        async with original(starlette_app) as app_state:
            pruner = SessionPruner(state.sessions)
            if isinstance(channel, FanoutChannel):
                await channel.start()
            pruner.start()
            try:
                yield app_state
            finally:
                await pruner.aclose()
                if isinstance(channel, FanoutChannel):
                    await channel.aclose()
                close = getattr(state.throttle, "close", None) if close_throttle else None
                if close is not None:
                    await close()
                if state.local_idp is not None:
                    await state.local_idp.aclose()

    router.lifespan_context = lifespan
