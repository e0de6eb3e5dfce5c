"""Alerts: each alert's life, every transition, the outbox of deliveries, the rules' cursors.

Revision ID: a001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a001"
down_revision = "0001"
branch_labels = ("alerts",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("slot", sa.String(32)),
        sa.Column("maker", sa.String(64)),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("notices", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_notify_at", sa.Float),
        sa.Column("acked_at", sa.Float),
        sa.Column("acked_by", sa.String(64)),
        sa.Column("closed_at", sa.Float),
        sa.Column("closed_by", sa.String(64)),
    )
    # One open alert per condition, whoever evaluates the rules.
    op.create_index("alerts_open_key", "alerts", ["key"], unique=True,
                    sqlite_where=sa.text("closed_at IS NULL"),
                    postgresql_where=sa.text("closed_at IS NULL"))
    op.create_index("alerts_closed", "alerts", ["closed_at"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Index("alert_events_alert", "alert_id"),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("notice", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("next_try_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("delivered_at", sa.Float),
        sa.Column("cancelled_at", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Index("alert_outbox_due", "delivered_at", "cancelled_at", "next_try_at"),
    )
    op.create_table(
        "alert_cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_cursors")
    op.drop_table("alert_outbox")
    op.drop_table("alert_events")
    op.drop_table("alerts")
