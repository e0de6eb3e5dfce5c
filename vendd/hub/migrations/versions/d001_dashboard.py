"""The dashboard's people, sessions and the changes sent to machines.

Revision ID: d001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("maker", sa.String(64)),
        sa.Column("password", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "web_changes",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("coordinator", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.Float, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("answered_at", sa.Float),
        sa.Column("seq", sa.BigInteger),
        sa.Index("web_changes_sent", "sent_at"),
    )


def downgrade() -> None:
    op.drop_table("web_changes")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
