"""``pywire-auth users list|show|create|set-password|disable|enable|delete``."""

from __future__ import annotations

import rich_click as click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from pywire_auth.cli._format import user_json
from pywire_auth.cli._passwords import password_stdin_option, read_password
from pywire_auth.cli._runtime import Cli, json_option, pass_cli, workspace
from pywire_auth.types import UserRecord

__all__ = ["users"]

_PAGE = 500


@click.group()
def users() -> None:
    """List, show, create and change accounts."""


@users.command("list")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@json_option
@pass_cli
def list_users(cli: Cli, limit: int | None) -> None:
    """Every account, by email; [cyan]--json[/] gives an array of objects."""

    async def work() -> list[UserRecord]:
        async with workspace(cli) as space:
            total = await space.store.count_users()
            wanted = total if limit is None else min(limit, total)
            found: list[UserRecord] = []
            # Keyset pages: the bar moves at the same pace on page 1 and page 2000.
            with Progress(
                TextColumn("users"),
                BarColumn(),
                MofNCompleteColumn(),
                console=cli.err,
                transient=True,
                disable=wanted < _PAGE,
            ) as progress:
                task = progress.add_task("users", total=wanted)
                after: tuple[str, str] | None = None
                while len(found) < wanted:
                    page = await space.store.list_users(
                        after=after, limit=min(_PAGE, wanted - len(found))
                    )
                    if not page:
                        break
                    found += page
                    after = (page[-1].email, page[-1].user_id)
                    progress.update(task, completed=len(found))
            return found

    found = cli.run(work)

    def human() -> None:
        table = Table("email", "name", "user id", "claims", "", box=None)
        for user in found:
            state = "disabled" if user.disabled else ""
            table.add_row(user.email, user.name, user.user_id, _claims_text(user), state)
        cli.out.print(table)
        cli.err.print(f"{len(found)} user(s)")

    cli.emit([user_json(u) for u in found], human)


@users.command()
@click.argument("user")
@json_option
@pass_cli
def show(cli: Cli, user: str) -> None:
    """One account (USER is an email or a user id), its links and sessions."""

    async def work() -> dict[str, object]:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            links = await space.store.get_links(record.user_id)
            sessions = await space.store.list_user_sessions(record.user_id)
            has_password = await space.store.get_password_hash(record.user_id) is not None
            return {
                **user_json(record),
                "has_password": has_password,
                "links": [{"provider": link.provider, "subject": link.subject} for link in links],
                "sessions": len(sessions),
            }

    data = cli.run(work)

    def human() -> None:
        for key in ("user_id", "email", "name", "claims", "disabled", "has_password", "sessions"):
            cli.out.print(f"{key}: {data[key]}", soft_wrap=True)
        for link in data["links"]:  # type: ignore[attr-defined]
            cli.out.print(f"link: {link['provider']} {link['subject']}", soft_wrap=True)

    cli.emit(data, human)


@users.command()
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@password_stdin_option
@json_option
@pass_cli
def create(cli: Cli, email: str, name: str, password_stdin: bool) -> None:
    """Create a password account, as the sign-up page would (same policy checks)."""
    password = read_password(password_stdin)

    async def work() -> UserRecord | None:
        async with workspace(cli) as space:
            user_id = await space.idp.create_user(email=email, password=password, name=name)
            return await space.store.get_user(user_id)

    record = cli.run(work)
    data = user_json(record) if record else {}
    cli.emit(data, lambda: cli.out.print(f"created {data.get('email')} ({data.get('user_id')})"))


@users.command("set-password")
@click.argument("user")
@password_stdin_option
@json_option
@pass_cli
def set_password(cli: Cli, user: str, password_stdin: bool) -> None:
    """Set a new password; every session of the user ends, live pages too."""
    password = read_password(password_stdin)

    async def work() -> UserRecord:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            await space.actions.reset_password(record.user_id, password)
            return record

    record = cli.run(work)
    cli.emit(
        {"user_id": record.user_id, "password_set": True},
        lambda: cli.out.print(f"password set for {record.email}; their sessions ended"),
    )


@users.command()
@click.argument("user")
@json_option
@pass_cli
def disable(cli: Cli, user: str) -> None:
    """Bar the account from signing in; its sessions end and live pages sign out."""
    _set_disabled(cli, user, disabled=True)


@users.command()
@click.argument("user")
@json_option
@pass_cli
def enable(cli: Cli, user: str) -> None:
    """Let a disabled account sign in again."""
    _set_disabled(cli, user, disabled=False)


def _set_disabled(cli: Cli, user: str, *, disabled: bool) -> None:
    async def work() -> UserRecord:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            return await space.actions.set_disabled(record.user_id, disabled)

    record = cli.run(work)
    state = "disabled" if record.disabled else "enabled"
    cli.emit(user_json(record), lambda: cli.out.print(f"{record.email} is {state}"))


@users.command()
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_cli
def delete(cli: Cli, user: str, yes: bool) -> None:
    """Delete an account with its links and sessions; its live pages sign out."""
    if not yes:
        click.confirm(f"Delete {user} and everything of theirs?", abort=True, err=True)

    async def work() -> UserRecord:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            await space.actions.delete_user(record.user_id)
            return record

    record = cli.run(work)
    cli.emit(
        {"user_id": record.user_id, "deleted": True},
        lambda: cli.out.print(f"deleted {record.email} ({record.user_id})"),
    )


def _claims_text(user: UserRecord) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(user.claims.items()))
