"""Run by the scratch venv's python, with pywire-auth 0.4.0 from PyPI: fill a database.

    python _v04_seed.py URL [--duplicates]

Uses only 0.4.0's own API (LocalIdP.create_user, and the store calls its OIDC
callback makes for a provider sign-in) and prints the user ids it made as JSON.
This file must not import our package: it runs against 0.4.0's.

On MariaDB/MySQL, 0.4.0 cannot create its own tables (its ``String`` columns have
no length, which MySQL refuses), so its users made them from its ``metadata`` with
a length added, as done here; every row is still written by 0.4.0.
"""

from __future__ import annotations

import asyncio
import json
import sys

from sqlalchemy import String

from pywire_auth import LocalIdP, SQLAlchemyAuthStore
from pywire_auth.stores.sqlalchemy import metadata

PASSWORDS = {
    "alice": "alice-old-password-1",
    "bob": "bob-old-password-2",
    "dave": "dave-old-password-3",
    "dave2": "dave-other-password-4",
}


async def _create_tables(store: SQLAlchemyAuthStore) -> None:
    if store.engine.dialect.name in ("mysql", "mariadb"):
        for table in metadata.tables.values():
            for column in table.columns:
                if isinstance(column.type, String) and column.type.length is None:
                    column.type.length = 255
    await store.init_schema()


async def main(url: str, duplicates: bool) -> dict[str, object]:
    store = SQLAlchemyAuthStore(url, auto_init=False)
    await _create_tables(store)
    idp = LocalIdP(store=store, secret="x" * 32)
    made: dict[str, object] = {}
    # As 0.4.0's /auth/local/register did: the email as typed, claims with it.
    made["alice"] = await idp.create_user(
        email="Alice@Example.COM",
        password=PASSWORDS["alice"],
        name="Alice",
        claims={"email": "Alice@Example.COM", "role": "admin", "email_verified": "true"},
        locale="de",
    )
    made["bob"] = await idp.create_user(
        email="bob@example.com", password=PASSWORDS["bob"], claims={"plan": "pro"}
    )
    # A GitHub identity linked to Alice, and a Google-only account, as 0.4.0's
    # OIDC callback stores them (the provider's subject is the user id).
    await store.link_provider(str(made["alice"]), "github", "4242", {"login": "alice"})
    await store.create_user(
        user_id="108004217368",
        email="Carol@Gmail.com",
        name="Carol",
        claims={"email": "Carol@Gmail.com", "hd": "example.org"},
    )
    await store.link_provider("108004217368", "google", "108004217368", {"hd": "example.org"})
    made["carol"] = "108004217368"
    if duplicates:
        made["dave"] = await idp.create_user(email="Dave@Example.com", password=PASSWORDS["dave"])
        try:
            made["dave2"] = await idp.create_user(
                email="dave@example.com", password=PASSWORDS["dave2"]
            )
        except ValueError as exc:  # MariaDB's default collation ignores case
            made["dave2_refused"] = str(exc)
    await store.close()
    return made


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], "--duplicates" in sys.argv[2:]))
    print(json.dumps(result))
