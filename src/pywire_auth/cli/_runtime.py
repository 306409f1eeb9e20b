"""What every command shares: the options, the store and actions, output and exit codes.

Exit codes (stable; scripts may rely on them)::

    0  done                         4  already exists / would overwrite
    1  refused (bad input, policy)  5  database or channel unavailable
    2  usage error (click)          6  configuration error (secret, URL)
    3  no such user or session      7  ``db check``: the schema drifted
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import rich_click as click
from pywire.auth import PolicyEngine
from rich.console import Console
from rich.text import Text

from pywire_auth._state import AuthState
from pywire_auth.actions import AuthActions
from pywire_auth.channels._default import default_channel
from pywire_auth.channels.fanout import FanoutChannel
from pywire_auth.cli._config import database_url
from pywire_auth.exceptions import (
    AuthError,
    ConfigurationError,
    StoreUnavailableError,
    UserExistsError,
    UserNotFoundError,
)
from pywire_auth.local.idp import SECRET_ENV, LocalIdP
from pywire_auth.local.normalize import normalize_email
from pywire_auth.local.principal import plain_user_id
from pywire_auth.sessions import SessionManager
from pywire_auth.stores.sqlalchemy import SQLAlchemyAuthStore
from pywire_auth.tokens.issuer import TokenIssuer
from pywire_auth.types import LOCAL_PROVIDER, UserRecord

__all__ = [
    "EXIT_CONFIG",
    "EXIT_DRIFT",
    "EXIT_EXISTS",
    "EXIT_FAILURE",
    "EXIT_NOT_FOUND",
    "EXIT_UNAVAILABLE",
    "Cli",
    "CliGroup",
    "Workspace",
    "json_option",
    "pass_cli",
]

EXIT_FAILURE = 1
EXIT_NOT_FOUND = 3
EXIT_EXISTS = 4
EXIT_UNAVAILABLE = 5
EXIT_CONFIG = 6
EXIT_DRIFT = 7

_T = TypeVar("_T")


@dataclass
class Cli:
    """The global options, handed to every command (``click`` context object)."""

    db: str | None = None
    as_json: bool = False
    # No markup: names, emails and claims are user data, and "[red]" in a display
    # name must print as typed, not restyle (or break) the operator's terminal output.
    out: Console = field(default_factory=lambda: Console(highlight=False, markup=False))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, markup=False)
    )

    @property
    def url(self) -> str:
        """The database URL the commands work on."""
        return database_url(self.db)

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        """Print ``data`` as JSON with ``--json``, else call ``human`` to print it."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2, sort_keys=True))
        else:
            human()

    def fail(self, code: int, error: str, message: str) -> NoReturn:
        """Report an error on stderr (JSON with ``--json``) and exit with ``code``."""
        if self.as_json:
            click.echo(json.dumps({"error": error, "message": message}), err=True)
        else:
            self.err.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)
        sys.exit(code)

    def run(self, work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """Run one command's async work; our errors become messages and exit codes."""
        try:
            return asyncio.run(work())
        except AuthError as err:
            self.fail_for(err)

    def fail_for(self, err: AuthError) -> NoReturn:
        """Exit with the code that names ``err``'s kind (see the module docstring)."""
        if isinstance(err, UserNotFoundError):
            self.fail(EXIT_NOT_FOUND, err.code, str(err))
        if isinstance(err, UserExistsError):
            self.fail(EXIT_EXISTS, err.code, str(err))
        if isinstance(err, StoreUnavailableError):
            self.fail(EXIT_UNAVAILABLE, err.code, f"{err} ({_safe_url(self.url)})")
        if isinstance(err, ConfigurationError):
            self.fail(EXIT_CONFIG, err.code, str(err))
        self.fail(EXIT_FAILURE, err.code, str(err))


class CliGroup(click.RichGroup):
    """The root group: an error raised outside :meth:`Cli.run` exits the same way."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; map an escaped :class:`~pywire_auth.AuthError`."""
        try:
            return super().invoke(ctx)
        except AuthError as err:
            ctx.ensure_object(Cli).fail_for(err)


pass_cli = click.make_pass_decorator(Cli)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Cli).as_json = True


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` on a command, the same as the global flag (``users list --json``)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print JSON instead of text.",
    )(command)


def _safe_url(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


class Workspace:
    """The app's auth parts as the command line needs them, on the configured database.

    Changes go through :class:`~pywire_auth.AuthActions`, the same code the app's
    own ``app.state.auth`` runs: store first, then the auth channel, so live pages
    of the running app (other processes) hear of a revocation or claim change.
    """

    def __init__(self, url: str) -> None:
        self.store = SQLAlchemyAuthStore(url)
        self.channel = default_channel(self.store)
        if isinstance(self.channel, FanoutChannel):
            self.channel.bind_log(self.store)
        # This process signs no cookie and keeps no session cache worth sharing:
        # a throwaway key serves the session manager when the app's is not set.
        sessions = SessionManager(self.store, secrets.token_hex(32))
        self.idp = LocalIdP(self.store, token_issuer=TokenIssuer(secrets.token_hex(32)))
        self.actions = AuthActions(
            AuthState(
                store=self.store,
                sessions=sessions,
                engine=PolicyEngine(),
                channel=self.channel,
                local_idp=self.idp,
            )
        )
        self.idp.set_session_ender(self._end_sessions)

    async def _end_sessions(self, user_id: str, keep: str | None) -> None:
        await self.actions.end_sessions(user_id, keep=keep)

    async def find_user(self, who: str) -> UserRecord:
        """The user named by an email (normalized as at sign-in) or a user id."""
        if "@" in who:
            address = normalize_email(who)
            user = await self.store.get_user_by_link(LOCAL_PROVIDER, address)
            if user is None:  # an account made through a provider has no local link
                page = await self.store.list_users(email_prefix=address, limit=10)
                found = [u for u in page if u.email == address]
                user = found[0] if len(found) == 1 else None
        else:
            user = await self.store.get_user(plain_user_id(who))
        if user is None:
            raise UserNotFoundError(f"no user {who!r}")
        return user

    async def aclose(self) -> None:
        """Stop the channel and close the store and hashing threads."""
        close = getattr(self.channel, "aclose", None)
        if close is not None:
            await close()
        await self.idp.aclose()


@asynccontextmanager
async def workspace(cli: Cli) -> AsyncIterator[Workspace]:
    """A :class:`Workspace` on the configured database, closed afterwards."""
    space = Workspace(cli.url)
    try:
        yield space
    finally:
        await space.aclose()


def idp_secret() -> str:
    """The app's token secret (``LOCAL_IDP_SECRET``), or a configuration error."""
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise ConfigurationError(
            f"{SECRET_ENV} is not set (in the environment, .env or --env-file): "
            "tokens must be signed with the app's own secret"
        )
    return secret
