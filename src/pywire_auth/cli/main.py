"""``pywire-auth``: operate an app's accounts, sessions, tokens, secrets and schema.

Built on rich-click like PyWire's own ``pywire`` command. Each command group lives
in its own module; this one holds the global options and wires the groups in.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(cli, ["--db", "sqlite+aiosqlite:///./a.db", "db", "check"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

import rich_click as click

from pywire_auth.cli._config import load_environment
from pywire_auth.cli._runtime import Cli, CliGroup
from pywire_auth.cli.audit import audit
from pywire_auth.cli.claims import claims
from pywire_auth.cli.db import db
from pywire_auth.cli.secrets import secrets_group
from pywire_auth.cli.sessions import sessions
from pywire_auth.cli.token import token
from pywire_auth.cli.users import users

__all__ = ["cli", "main"]

click.rich_click.TEXT_MARKUP = "rich"
click.rich_click.STYLE_HEADER_TEXT = "bold cyan"
click.rich_click.STYLE_OPTION = "cyan"
click.rich_click.STYLE_SWITCH = "cyan"
click.rich_click.STYLE_USAGE_COMMAND = "cyan"
click.rich_click.ERRORS_SUGGESTION = "Try running 'pywire-auth --help' for more information."
click.rich_click.COMMAND_GROUPS = {
    "pywire-auth": [
        {"name": "Accounts", "commands": ["users", "claims", "sessions", "token"]},
        {"name": "Operations", "commands": ["db", "secrets", "audit"]},
    ]
}


@click.group(
    cls=CliGroup,
    help="""
[bold white on cyan] pywire-auth [/] Operate the accounts of a PyWire app.

Reads the app's configuration like the app does ([cyan].env[/], [cyan]LOCAL_AUTH_DB[/],
[cyan]LOCAL_IDP_SECRET[/]); [cyan]--db[/] and [cyan]--env-file[/] override it.
Passwords are read from a prompt or stdin only, never from the command line.
""",
)
@click.option("--db", metavar="URL", help="Database URL (default: LOCAL_AUTH_DB).")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this env file instead of the .env cascade; its values win.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, env_file: Path | None, as_json: bool) -> None:
    """The ``pywire-auth`` command group."""
    load_environment(env_file)
    state = ctx.ensure_object(Cli)
    state.db = db
    state.as_json = state.as_json or as_json


cli.add_command(users)
cli.add_command(claims)
cli.add_command(sessions)
cli.add_command(token)
cli.add_command(secrets_group)
cli.add_command(db)
# --- registration point for `pywire-auth audit` (src/pywire_auth/cli/audit.py, the self-audit)
cli.add_command(audit)


def main() -> None:
    """Entry point of the ``pywire-auth`` console script."""
    # Library warnings (a readable SQLite file, a channel falling back) go to stderr
    # without the logging boilerplate.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    cli(prog_name="pywire-auth")
