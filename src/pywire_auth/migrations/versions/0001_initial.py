"""The schema of pywire-auth 0.5: users, credentials, links, sessions, events, throttle.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

A database that the store created on first use before migrations existed has
exactly these tables; the store stamps it with this revision and upgrades it
from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pywire_auth.stores._schema import ExactText

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# The sizes as they were in this revision (later changes get their own revision).
_USER_ID = 64
_EMAIL = 254
_NAME = 255
_PROVIDER = 64
_SUBJECT = 255
_PW_HASH = 512
_SESSION_ID = 64
_THROTTLE_KEY = 64


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey("pywire_auth_users.user_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "pywire_auth_users",
        sa.Column("user_id", ExactText(_USER_ID), primary_key=True),
        sa.Column("email", ExactText(_EMAIL), nullable=False),
        sa.Column("name", sa.String(_NAME), nullable=False),
        sa.Column("claims", sa.JSON, nullable=False),
        sa.Column("extras", sa.JSON, nullable=False),
    )
    op.create_index("ix_pywire_auth_users_email", "pywire_auth_users", ["email"])
    op.create_table(
        "pywire_auth_credentials",
        sa.Column("user_id", ExactText(_USER_ID), _user_fk(), primary_key=True),
        sa.Column("pw_hash", ExactText(_PW_HASH), nullable=False),
    )
    op.create_table(
        "pywire_auth_provider_links",
        sa.Column("provider", ExactText(_PROVIDER), primary_key=True),
        sa.Column("subject", ExactText(_SUBJECT), primary_key=True),
        sa.Column("user_id", ExactText(_USER_ID), _user_fk(), nullable=False),
        sa.Column("claims", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_pywire_auth_provider_links_user_id", "pywire_auth_provider_links", ["user_id"]
    )
    op.create_table(
        "pywire_auth_sessions",
        sa.Column("session_id", ExactText(_SESSION_ID), primary_key=True),
        sa.Column("user_id", ExactText(_USER_ID), _user_fk(), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_pywire_auth_sessions_user_id", "pywire_auth_sessions", ["user_id"])
    op.create_index("ix_pywire_auth_sessions_expires_at", "pywire_auth_sessions", ["expires_at"])
    op.create_table(
        "pywire_auth_events",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_pywire_auth_events_created_at", "pywire_auth_events", ["created_at"])
    op.create_table(
        "pywire_auth_throttle",
        sa.Column("key_hash", sa.String(_THROTTLE_KEY), primary_key=True),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("hits", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_pywire_auth_throttle_window_end", "pywire_auth_throttle", ["window_end"])


def downgrade() -> None:
    # Children before the users they reference.
    for table in (
        "pywire_auth_throttle",
        "pywire_auth_events",
        "pywire_auth_sessions",
        "pywire_auth_provider_links",
        "pywire_auth_credentials",
        "pywire_auth_users",
    ):
        op.drop_table(table)
