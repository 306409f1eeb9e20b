"""Alembic environment of pywire-auth's own migrations.

Run through :mod:`pywire_auth.migrations` (or ``pywire-auth db ...``), which hands
over an open connection in ``config.attributes["connection"]``. Our revisions are
recorded in their own version table, ``pywire_auth_alembic_version``, so they never
mix with the application's own Alembic history in ``alembic_version``.
"""

from __future__ import annotations

from alembic import context

from pywire_auth.migrations._scope import VERSION_TABLE, include_pywire_auth
from pywire_auth.stores._schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_object=include_pywire_auth,
    compare_type=True,
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
