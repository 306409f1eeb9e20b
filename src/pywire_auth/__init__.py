"""pywire-auth: password accounts, JWTs and persistent users for PyWire apps.

Quick start::

    from pywire import PyWire
    from pywire_auth import LocalIdP, SQLAlchemyAuthStore, connect_auth

    app = PyWire(pages_dir="src/pages")
    store = SQLAlchemyAuthStore("sqlite+aiosqlite:///./local-auth.db")
    idp = LocalIdP(store=store)  # reads LOCAL_IDP_SECRET
    connect_auth(app, local_idp=idp)

``SQLAlchemyAuthStore`` needs the ``sqlalchemy`` extra; importing it without the
extra raises an ``ImportError`` that says what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pywire_auth.exceptions import (
    AuthError,
    ConfigurationError,
    InvalidEmailError,
    InvalidInputError,
    MissingFieldError,
    ReservedClaimError,
    StoreUnavailableError,
    ThrottledError,
    UserExistsError,
    UserNotFoundError,
    WeakPasswordError,
)
from pywire_auth.local.hashing import Argon2Hasher
from pywire_auth.local.idp import LocalIdP
from pywire_auth.local.normalize import PasswordPolicy, normalize_email
from pywire_auth.protocols import AuthStore, PasswordHasher
from pywire_auth.stores.memory import MemoryAuthStore
from pywire_auth.tokens.issuer import TokenIssuer
from pywire_auth.types import LOCAL_PROVIDER, LoginRecord, ProviderLink, UserRecord

if TYPE_CHECKING:
    from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

__version__ = "0.5.0.dev0"

__all__ = [
    "LOCAL_PROVIDER",
    "Argon2Hasher",
    "AuthError",
    "AuthStore",
    "ConfigurationError",
    "InvalidEmailError",
    "InvalidInputError",
    "LocalIdP",
    "LoginRecord",
    "MemoryAuthStore",
    "MissingFieldError",
    "PasswordHasher",
    "PasswordPolicy",
    "ProviderLink",
    "ReservedClaimError",
    "SQLAlchemyAuthStore",
    "StoreUnavailableError",
    "ThrottledError",
    "TokenIssuer",
    "UserExistsError",
    "UserNotFoundError",
    "UserRecord",
    "WeakPasswordError",
    "normalize_email",
]


def __getattr__(name: str) -> Any:
    # Optional backends load on first use so `import pywire_auth` works without
    # their extras; a missing extra surfaces as an ImportError naming it.
    if name == "SQLAlchemyAuthStore":
        from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore

        return SQLAlchemyAuthStore
    raise AttributeError(f"module 'pywire_auth' has no attribute {name!r}")
