"""Users can be disabled: ``pywire_auth_users.disabled``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Existing users stay enabled (the server default fills the column).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "pywire_auth_users",
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite before 3.35 cannot drop a column: batch mode copies the table.
    with op.batch_alter_table("pywire_auth_users") as batch:
        batch.drop_column("disabled")
