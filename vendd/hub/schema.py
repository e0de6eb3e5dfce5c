"""The hub's tables as SQLAlchemy Core objects, for its queries. The database itself is made
and upgraded by the Alembic migrations in `migrations/` (keep the two in step); what each
table and column means is written in `store.py`."""

from __future__ import annotations

import sqlalchemy as sa

from vendd.ledger.journal import GENESIS

metadata = sa.MetaData()

machines_t = sa.Table(
    "machines", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("status", sa.String(16)),
    sa.Column("status_at", sa.Float),
    sa.Column("state", sa.Text),
    sa.Column("state_at", sa.Float),
    sa.Column("head_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("head_hash", sa.String(64), nullable=False, server_default=GENESIS),
    sa.Column("head_ts", sa.String(40)),
    sa.Column("machine_head", sa.BigInteger),
    sa.Column("gap_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("alarm_count", sa.Integer, nullable=False, server_default="0"),
)

rows_t = sa.Table(
    "rows", metadata,
    sa.Column("machine", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)

alarms_t = sa.Table(
    "alarms", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("machine", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("alarm", sa.String(20), nullable=False),
    sa.Column("ts", sa.String(40)),
    sa.Column("kind", sa.String(40)),
    sa.Column("fields", sa.Text),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("held_hash", sa.String(64)),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("detected_at", sa.Float, nullable=False),
    sa.UniqueConstraint("machine", "seq", "alarm", "hash", name="alarms_once"),
)

gaps_t = sa.Table(
    "gaps", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("machine", sa.String(64), nullable=False),
    sa.Column("first", sa.BigInteger, nullable=False),
    sa.Column("last", sa.BigInteger, nullable=False),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("closed_at", sa.Float),
    sa.Column("asks", sa.Integer, nullable=False, server_default="0"),
    sa.Column("asked_at", sa.Float),
    sa.Column("next_ask_at", sa.Float, nullable=False),
    sa.Index("gaps_open", "machine", "closed_at"),
)


