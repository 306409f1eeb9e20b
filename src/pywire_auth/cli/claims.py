"""``pywire-auth claims grant|revoke``: change a user's claims; live pages re-render."""

from __future__ import annotations

import rich_click as click

from pywire_auth.cli._runtime import Cli, json_option, pass_cli, workspace

__all__ = ["claims"]


@click.group()
def claims() -> None:
    """Grant or revoke a user's claims (roles, permissions)."""


@claims.command()
@click.argument("user")
@click.argument("claim_type")
@click.argument("value")
@json_option
@pass_cli
def grant(cli: Cli, user: str, claim_type: str, value: str) -> None:
    """Add VALUE to the user's CLAIM_TYPE claim, e.g. [cyan]grant ann@x.io role admin[/]."""

    async def work() -> dict[str, object]:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            principal = await space.actions.grant(record.user_id, claim_type, value)
            return {"user_id": record.user_id, claim_type: principal.raw.get(claim_type)}

    data = cli.run(work)
    cli.emit(data, lambda: cli.out.print(f"{claim_type} is now {data[claim_type]!r}"))


@claims.command()
@click.argument("user")
@click.argument("claim_type")
@click.argument("value", required=False)
@json_option
@pass_cli
def revoke(cli: Cli, user: str, claim_type: str, value: str | None) -> None:
    """Remove VALUE from the user's CLAIM_TYPE claim, or the whole claim without VALUE."""

    async def work() -> dict[str, object]:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            principal = await space.actions.revoke_claim(record.user_id, claim_type, value)
            return {"user_id": record.user_id, claim_type: principal.raw.get(claim_type)}

    data = cli.run(work)
    cli.emit(data, lambda: cli.out.print(f"{claim_type} is now {data[claim_type]!r}"))
