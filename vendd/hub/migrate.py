"""Running the hub's Alembic migrations (shipped in `vendd/hub/migrations/`) from the code:
`vendd hub ...` upgrades the database to the newest schema when it opens it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.engine import Engine

SCRIPTS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: several workers starting together take turns through the migrations.
_PG_LOCK = 7_170_001


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        cfg.attributes["connection"] = conn
        # "heads": the replica, the dashboard and the alerts each add their own line of
        # migrations from the replica's first one.
        command.upgrade(cfg, "heads")
