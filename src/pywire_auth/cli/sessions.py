"""``pywire-auth sessions list|revoke``: a user's signed-in browsers.

A revocation reaches the live pages of the running app through its auth channel:
the default channel is the store's event table, which every app process follows,
so this process only has to write there (or to Redis when the app uses it).
"""

from __future__ import annotations

import time

import rich_click as click
from rich.table import Table

from pywire_auth.cli._format import session_json, timestamp
from pywire_auth.cli._runtime import Cli, json_option, pass_cli, workspace
from pywire_auth.exceptions import UserNotFoundError
from pywire_auth.local.principal import principal_for

__all__ = ["sessions"]


@click.group()
def sessions() -> None:
    """List or end a user's sessions."""


@sessions.command("list")
@click.argument("user")
@json_option
@pass_cli
def list_sessions(cli: Cli, user: str) -> None:
    """The user's stored sessions, oldest first (ids are hashes, never cookies)."""

    async def work() -> list[dict[str, object]]:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            return [session_json(s) for s in await space.store.list_user_sessions(record.user_id)]

    found = cli.run(work)

    def human() -> None:
        now = int(time.time())
        table = Table("session id", "created", "expires", "", box=None)
        for s in found:
            expires = int(str(s["expires_at"]))
            table.add_row(
                str(s["session_id"])[:16] + "…",
                timestamp(int(str(s["created_at"]))),
                timestamp(expires),
                "" if expires > now else "expired",
            )
        cli.out.print(table)
        cli.err.print(f"{len(found)} session(s)")

    cli.emit(found, human)


@sessions.command()
@click.argument("user")
@click.option(
    "--session",
    "session_id",
    metavar="ID",
    help="End only this session (its id from [cyan]sessions list[/], or a unique prefix).",
)
@json_option
@pass_cli
def revoke(cli: Cli, user: str, session_id: str | None) -> None:
    """End the user's sessions (or one) and sign out their live pages in the app."""

    async def work() -> int:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            if session_id is None:
                return await space.actions.revoke_sessions(record.user_id)
            stored = await space.store.list_user_sessions(record.user_id)
            matches = [s for s in stored if s.session_id.startswith(session_id)]
            if len(matches) != 1:
                raise UserNotFoundError(f"no single session of {user} starts with {session_id!r}")
            ended = await space.store.delete_session(matches[0].session_id)
            # The same principal again: each live page checks that its own session
            # still exists, so only the page of the ended one leaves.
            principal = principal_for(record)
            await space.channel.update_principal(principal.user_id, principal=principal)
            return int(ended)

    ended = cli.run(work)
    cli.emit(
        {"revoked": ended},
        lambda: cli.out.print(f"ended {ended} session(s); their live pages sign out"),
    )
