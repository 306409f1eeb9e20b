"""The users' email index also holds user_id: the admin page's keyset pages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

``ix_pywire_auth_users_email`` becomes ``ix_pywire_auth_users_email_user_id`` on
``(email, user_id)``: pages ordered by email, ties by id, read the index in order.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TABLE = "pywire_auth_users"


def upgrade() -> None:
    # The new index first: email lookups are never without one.
    op.create_index("ix_pywire_auth_users_email_user_id", _TABLE, ["email", "user_id"])
    op.drop_index("ix_pywire_auth_users_email", table_name=_TABLE)


def downgrade() -> None:
    op.create_index("ix_pywire_auth_users_email", _TABLE, ["email"])
    op.drop_index("ix_pywire_auth_users_email_user_id", table_name=_TABLE)
