"""``pywire-auth token issue``: a pre-auth or invite token the app's verify-token accepts.

Signed with the app's ``LOCAL_IDP_SECRET`` and the LocalIdP's issuer and audience,
so ``POST {prefix}/local/verify-token`` accepts it while the user exists and it has
not expired. It carries no session (``sid``): signing out does not end it, only
its ``--ttl`` or deleting the user does, so keep the lifetime short.
"""

from __future__ import annotations

import rich_click as click

from pywire_auth.cli._runtime import Cli, idp_secret, json_option, pass_cli, workspace
from pywire_auth.exceptions import AccountDisabledError, InvalidInputError
from pywire_auth.local.principal import principal_for
from pywire_auth.tokens.issuer import TokenIssuer

__all__ = ["token"]

#: A day: the longest a token from the command line may live.
MAX_TTL = 86_400


@click.group()
def token() -> None:
    """Issue signed tokens for a user (pre-auth links, invites)."""


def _claim(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    for value in values:
        if "=" not in value or not value.partition("=")[0]:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
    return list(values)


@token.command()
@click.option("--user", "user", required=True, metavar="EMAIL_OR_ID", help="Whose token.")
@click.option(
    "--ttl",
    type=click.IntRange(1, MAX_TTL),
    default=900,
    show_default=True,
    help="Lifetime in seconds.",
)
@click.option(
    "--claim", "claim", multiple=True, metavar="K=V", callback=_claim, help="Extra claim."
)
@click.option("--issuer", default="pywire-auth-local", show_default=True, help="LocalIdP issuer.")
@click.option("--audience", default="", help="LocalIdP audience (if the app sets one).")
@json_option
@pass_cli
def issue(cli: Cli, user: str, ttl: int, claim: list[str], issuer: str, audience: str) -> None:
    """Print a signed token for the user (to stdout, alone, for scripts)."""
    secret = idp_secret()
    extra: dict[str, str] = {}
    for item in claim:
        key, _, value = item.partition("=")
        extra[key] = value

    async def work() -> dict[str, object]:
        async with workspace(cli) as space:
            record = await space.find_user(user)
            if record.disabled:
                raise AccountDisabledError(f"{user} is disabled")
            if "email" in extra:
                # The principal's email comes from the store; a token must not say otherwise.
                raise InvalidInputError("the email claim cannot be set")
            principal = principal_for(record)
            issuer_ = TokenIssuer(secret, issuer=issuer, audience=audience)
            signed = issuer_.issue(record.user_id, claims=extra, ttl=ttl)
            return {"token": signed, "user_id": principal.user_id, "expires_in": ttl}

    data = cli.run(work)
    cli.emit(data, lambda: click.echo(data["token"]))
