"""The public surface of ``pywire_auth``: names, lazy optional backend, error codes."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import pywire_auth
from pywire_auth import exceptions as exc

EXPECTED_ALL = [
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

# Importable from pywire_auth, loaded on first use, kept out of __all__ (they need extras).
EXPECTED_LAZY = [
    "Auth0Provider",
    "FacebookProvider",
    "GenericOIDCProvider",
    "GitHubProvider",
    "GoogleProvider",
    "MicrosoftProvider",
    "PostgresAuthChannel",
    "PwnedPasswords",
    "RedisAuthChannel",
    "RedisThrottle",
    "SQLAlchemyAuthStore",
    "SQLAlchemyThrottle",
    "adopt_v04",
]

# The tree in the exceptions.py module docstring: class -> (code, parent).
EXPECTED_TREE: dict[type[exc.AuthError], tuple[str, type[BaseException]]] = {
    exc.ConfigurationError: ("config", exc.AuthError),
    exc.InvalidInputError: ("invalid", exc.AuthError),
    exc.MissingFieldError: ("missing", exc.InvalidInputError),
    exc.InvalidEmailError: ("invalid_email", exc.InvalidInputError),
    exc.WeakPasswordError: ("weak_password", exc.InvalidInputError),
    exc.ReservedClaimError: ("invalid", exc.InvalidInputError),
    exc.UserExistsError: ("exists", exc.AuthError),
    exc.UserNotFoundError: ("not_found", exc.AuthError),
    exc.AccountDisabledError: ("disabled", exc.AuthError),
    exc.ThrottledError: ("throttled", exc.AuthError),
    exc.StoreUnavailableError: ("unavailable", exc.AuthError),
    exc.ProviderError: ("provider", exc.AuthError),
    exc.ProviderUnavailableError: ("unavailable", exc.ProviderError),
    exc.LoginCancelledError: ("cancelled", exc.ProviderError),
    exc.LinkRequiredError: ("link_required", exc.ProviderError),
    exc.LastSignInMethodError: ("last_sign_in", exc.AuthError),
    exc.WrongPasswordError: ("wrong_password", exc.InvalidInputError),
    exc.LinkTokenError: ("token_invalid", exc.InvalidInputError),
    exc.LinkExpiredError: ("token_expired", exc.LinkTokenError),
    exc.MailUnavailableError: ("unavailable", exc.AuthError),
    exc.AdoptionError: ("adoption", exc.AuthError),
}


def test_all_is_pinned_and_sorted() -> None:
    assert pywire_auth.__all__ == EXPECTED_ALL
    assert len(set(pywire_auth.__all__)) == len(pywire_auth.__all__)

    # Ruff's RUF022 ("isort-style") order: CONSTANTS, then Classes, then functions.
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert sorted(pywire_auth.__all__, key=kind) == pywire_auth.__all__


@pytest.mark.parametrize("name", EXPECTED_ALL + EXPECTED_LAZY)
def test_every_public_name_is_importable(name: str) -> None:
    module = importlib.import_module("pywire_auth")
    assert getattr(module, name) is not None


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = pywire_auth.no_such_name  # type: ignore[attr-defined]


def test_sqlalchemy_store_importable_with_extra() -> None:
    from pywire_auth import SQLAlchemyAuthStore
    from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore as direct

    assert SQLAlchemyAuthStore is direct


def test_sqlalchemy_throttle_importable_with_extra() -> None:
    from pywire_auth import SQLAlchemyThrottle
    from pywire_auth.throttles.sql import SQLAlchemyThrottle as direct

    assert SQLAlchemyThrottle is direct


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_missing_sqlalchemy_extra_gives_helpful_import_error() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["sqlalchemy"] = None  # as if the extra were not installed

        import pywire_auth
        from pywire_auth import LocalIdP, MemoryAuthStore, connect_auth
        print("core-ok", LocalIdP.__name__, MemoryAuthStore.__name__, callable(connect_auth))

        for attempt in range(2):
            try:
                from pywire_auth import SQLAlchemyAuthStore
            except ImportError as error:
                print("import-error:", error)
            else:
                print("unexpectedly imported", SQLAlchemyAuthStore)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "core-ok LocalIdP MemoryAuthStore True"
    errors = [line for line in lines if line.startswith("import-error:")]
    # Both attempts fail the same way: no half-imported module is left behind.
    assert len(errors) == 2, result.stdout
    for line in errors:
        assert "pywire-auth[sqlalchemy]" in line


def test_missing_sqlalchemy_extra_names_it_for_the_sql_throttle() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["sqlalchemy"] = None  # as if the extra were not installed

        from pywire_auth import MemoryThrottle, connect_auth
        try:
            from pywire_auth import SQLAlchemyThrottle
        except ImportError as error:
            print("import-error:", error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "import-error: SQLAlchemyThrottle needs" in result.stdout
    assert "pywire-auth[sqlalchemy]" in result.stdout


def test_missing_redis_extra_gives_helpful_import_error() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["redis"] = None  # as if the extra were not installed

        from pywire_auth import MemoryThrottle, connect_auth
        try:
            from pywire_auth import RedisThrottle
        except ImportError as error:
            print("import-error:", error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pywire-auth[redis]" in result.stdout


def test_missing_hibp_extra_gives_helpful_import_error() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["httpx"] = None  # as if the extra were not installed

        from pywire_auth import LocalIdP, PasswordPolicy
        print("core-ok", PasswordPolicy().min_length)
        try:
            from pywire_auth import PwnedPasswords
        except ImportError as error:
            print("import-error:", error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "core-ok 8" in result.stdout
    assert "pywire-auth[hibp]" in result.stdout


def test_core_import_does_not_need_sqlalchemy() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["sqlalchemy"] = None
        import pywire_auth
        loaded = sorted(m for m in sys.modules if m.startswith("pywire_auth.stores.sqlalchemy"))
        print(loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("cls", "expected"), list(EXPECTED_TREE.items()))
def test_exception_codes_and_parents(
    cls: type[exc.AuthError], expected: tuple[str, type[BaseException]]
) -> None:
    code, parent = expected
    assert cls.code == code
    assert cls.__bases__[0] is parent
    assert issubclass(cls, exc.AuthError)
    error = cls("boom")
    assert error.code == code
    assert str(error) == "boom"


def test_exception_tree_covers_every_exported_error() -> None:
    exported = {getattr(exc, name) for name in exc.__all__} - {exc.AuthError}
    assert exported == set(EXPECTED_TREE)


def test_invalid_input_errors_are_value_errors() -> None:
    for cls in (
        exc.InvalidInputError,
        exc.MissingFieldError,
        exc.InvalidEmailError,
        exc.WeakPasswordError,
        exc.ReservedClaimError,
    ):
        assert issubclass(cls, ValueError)


def test_user_exists_is_a_value_error() -> None:
    assert issubclass(exc.UserExistsError, ValueError)
    with pytest.raises(ValueError, match="taken"):
        raise exc.UserExistsError("alice@example.com is taken")


def test_user_not_found_is_a_lookup_error() -> None:
    assert issubclass(exc.UserNotFoundError, LookupError)


def test_non_input_errors_are_not_value_errors() -> None:
    for cls in (exc.ConfigurationError, exc.ThrottledError, exc.StoreUnavailableError):
        assert not issubclass(cls, ValueError)


def test_default_message_is_the_class_docstring() -> None:
    error = exc.ThrottledError()
    assert str(error) == exc.ThrottledError.__doc__
    assert str(error)


def test_root_error_code() -> None:
    assert exc.AuthError.code == "error"
    assert exc.AuthError("x").code == "error"


def test_exceptions_reexported_at_top_level() -> None:
    for name in exc.__all__:
        assert getattr(pywire_auth, name) is getattr(exc, name)


def test_lazy_names_are_listed_but_not_in_all() -> None:
    assert sorted(set(EXPECTED_LAZY) & set(pywire_auth.__all__)) == []
    assert set(EXPECTED_LAZY) <= set(dir(pywire_auth))


def test_star_import_works_without_the_extras() -> None:
    result = _run_python(
        """
        import sys
        for extra in ("sqlalchemy", "redis", "asyncpg", "httpx"):
            sys.modules[extra] = None  # as if the extras were not installed
        from pywire_auth import *
        print("ok", LocalIdP.__name__, StoreAuthChannel.__name__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok LocalIdP StoreAuthChannel"
