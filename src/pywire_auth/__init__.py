"""pywire-auth: password accounts, JWTs and persistent users for PyWire apps.

Quick start::

    from pywire import PyWire
    from pywire_auth import LocalIdP, SQLAlchemyAuthStore, connect_auth

    app = PyWire(pages_dir="src/pages")
    store = SQLAlchemyAuthStore("sqlite+aiosqlite:///./local-auth.db")
    idp = LocalIdP(store=store)  # reads LOCAL_IDP_SECRET
    connect_auth(app, local_idp=idp)

``SQLAlchemyAuthStore``, ``SQLAlchemyThrottle`` and ``adopt_v04`` need the ``sqlalchemy`` extra,
``RedisThrottle`` the ``redis`` extra and ``PwnedPasswords`` the ``hibp`` extra;
importing one without its extra raises an ``ImportError`` that says what to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pywire_auth.account.options import AccountOptions
from pywire_auth.actions import AuthActions
from pywire_auth.admin.options import AdminOptions
from pywire_auth.audit import AUDIT_LOGGER
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.channels.store import StoreAuthChannel
from pywire_auth.exceptions import (
    AccountDisabledError,
    AdoptionError,
    AuthError,
    ConfigurationError,
    InvalidEmailError,
    InvalidInputError,
    LastSignInMethodError,
    LinkExpiredError,
    LinkRequiredError,
    LinkTokenError,
    LoginCancelledError,
    MailUnavailableError,
    MissingFieldError,
    ProviderError,
    ProviderUnavailableError,
    ReservedClaimError,
    StoreUnavailableError,
    ThrottledError,
    UserExistsError,
    UserNotFoundError,
    WeakPasswordError,
    WrongPasswordError,
)
from pywire_auth.integration import connect_auth
from pywire_auth.local.hashing import Argon2Hasher
from pywire_auth.local.idp import LocalIdP
from pywire_auth.local.normalize import normalize_email
from pywire_auth.local.passwords import PasswordPolicy
from pywire_auth.local.routes import ERROR_CODES
from pywire_auth.mail import ConsoleMailer, MailMessage, MailTemplate, SMTPMailer
from pywire_auth.middleware import AuthMiddleware
from pywire_auth.protocols import (
    AuthStore,
    EventLog,
    ExternalProvider,
    Mailer,
    Notifier,
    PasswordHasher,
    SessionStore,
    Throttle,
    UserDirectory,
)
from pywire_auth.security_headers import SecurityHeaders
from pywire_auth.sessions import SessionConfig
from pywire_auth.stores.memory import MemoryAuthStore
from pywire_auth.throttles.memory import MemoryThrottle
from pywire_auth.throttles.policy import ClientAddress, RateLimit, ThrottlePolicy
from pywire_auth.tokens.issuer import FallbackSecret, TokenIssuer
from pywire_auth.types import (
    LOCAL_PROVIDER,
    ExternalIdentity,
    LoginRecord,
    ProviderLink,
    SessionRecord,
    UserRecord,
)

if TYPE_CHECKING:
    from pywire_auth.channels.postgres import PostgresAuthChannel as PostgresAuthChannel
    from pywire_auth.channels.redis import RedisAuthChannel as RedisAuthChannel
    from pywire_auth.local.pwned import PwnedPasswords as PwnedPasswords
    from pywire_auth.providers.auth0 import Auth0Provider as Auth0Provider
    from pywire_auth.providers.facebook import FacebookProvider as FacebookProvider
    from pywire_auth.providers.github import GitHubProvider as GitHubProvider
    from pywire_auth.providers.google import GoogleProvider as GoogleProvider
    from pywire_auth.providers.microsoft import MicrosoftProvider as MicrosoftProvider
    from pywire_auth.providers.oidc import GenericOIDCProvider as GenericOIDCProvider
    from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore as SQLAlchemyAuthStore
    from pywire_auth.stores.v04 import adopt_v04 as adopt_v04
    from pywire_auth.throttles.redis import RedisThrottle as RedisThrottle
    from pywire_auth.throttles.sql import SQLAlchemyThrottle as SQLAlchemyThrottle

__version__ = "0.5.0.dev0"

__all__ = [
    "AUDIT_LOGGER",
    "ERROR_CODES",
    "LOCAL_PROVIDER",
    "AccountDisabledError",
    "AccountOptions",
    "AdminOptions",
    "AdoptionError",
    "Argon2Hasher",
    "AuthActions",
    "AuthError",
    "AuthMiddleware",
    "AuthStore",
    "ClientAddress",
    "ConfigurationError",
    "ConsoleMailer",
    "EventLog",
    "ExternalIdentity",
    "ExternalProvider",
    "FallbackSecret",
    "FanoutChannel",
    "InvalidEmailError",
    "InvalidInputError",
    "LastSignInMethodError",
    "LinkExpiredError",
    "LinkRequiredError",
    "LinkTokenError",
    "LocalIdP",
    "LoginCancelledError",
    "LoginRecord",
    "MailMessage",
    "MailTemplate",
    "MailUnavailableError",
    "Mailer",
    "MemoryAuthStore",
    "MemoryThrottle",
    "MissingFieldError",
    "Notifier",
    "PasswordHasher",
    "PasswordPolicy",
    "ProviderError",
    "ProviderLink",
    "ProviderUnavailableError",
    "RateLimit",
    "ReservedClaimError",
    "SMTPMailer",
    "SecurityHeaders",
    "SessionConfig",
    "SessionRecord",
    "SessionStore",
    "StoreAuthChannel",
    "StoreUnavailableError",
    "Throttle",
    "ThrottlePolicy",
    "ThrottledError",
    "TokenIssuer",
    "UserDirectory",
    "UserExistsError",
    "UserNotFoundError",
    "UserRecord",
    "WeakPasswordError",
    "WrongPasswordError",
    "connect_auth",
    "normalize_email",
]


# Optional backends load on first use so `import pywire_auth` works without
# their extras; a missing extra surfaces as an ImportError naming it. They stay
# out of __all__ so that `from pywire_auth import *` works on the base install.
_LAZY = {
    "Auth0Provider": "pywire_auth.providers.auth0",
    "FacebookProvider": "pywire_auth.providers.facebook",
    "GenericOIDCProvider": "pywire_auth.providers.oidc",
    "GitHubProvider": "pywire_auth.providers.github",
    "GoogleProvider": "pywire_auth.providers.google",
    "MicrosoftProvider": "pywire_auth.providers.microsoft",
    "PostgresAuthChannel": "pywire_auth.channels.postgres",
    "PwnedPasswords": "pywire_auth.local.pwned",
    "RedisAuthChannel": "pywire_auth.channels.redis",
    "RedisThrottle": "pywire_auth.throttles.redis",
    "SQLAlchemyAuthStore": "pywire_auth.stores.sqlalchemy",
    "SQLAlchemyThrottle": "pywire_auth.throttles.sql",
    "adopt_v04": "pywire_auth.stores.v04",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pywire_auth' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
