"""The ledger's tables and forward migrations (PRAGMA user_version is the schema version)."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from vendd.errors import LedgerError

# The journal is the history; every other table is a projection of it, kept in the same
# transaction and rebuildable (see projection.py).
_V1 = """
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER journal_append_only_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'journal rows are never updated'); END;
CREATE TRIGGER journal_append_only_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'journal rows are never deleted'); END;

CREATE TABLE makers (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    maker TEXT NOT NULL REFERENCES makers(id),
    UNIQUE (name, maker)
);
CREATE TABLE slots (
    id TEXT PRIMARY KEY,
    product INTEGER NOT NULL REFERENCES products(id),
    price INTEGER NOT NULL CHECK (price > 0),
    config_price INTEGER NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    enabled INTEGER NOT NULL DEFAULT 1,
    fault TEXT
);
CREATE TABLE machine (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    credit INTEGER NOT NULL CHECK (credit >= 0),
    open_vend INTEGER,
    open_vend_slot TEXT,
    open_vend_price INTEGER,
    open_vend_payment TEXT,
    out_of_service TEXT,
    cash_box INTEGER NOT NULL,
    vends INTEGER NOT NULL DEFAULT 0
);
INSERT INTO machine (id, credit, cash_box) VALUES (1, 0, 0);
CREATE TABLE device_faults (
    device TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    detail TEXT NOT NULL,
    since_seq INTEGER NOT NULL
);
CREATE TABLE sales (
    seq INTEGER PRIMARY KEY REFERENCES journal(seq),
    day TEXT NOT NULL,
    slot TEXT NOT NULL,
    product TEXT NOT NULL,
    maker TEXT NOT NULL,
    price INTEGER NOT NULL,
    payment TEXT NOT NULL
);
CREATE INDEX sales_day_maker ON sales (day, maker, price);
CREATE TABLE relay (name TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL);
"""

# The drop is the sale: a vend stays open after its product fell until the motor is home
# (`open_vend_dropped`); a slot whose stock is uncertain waits for a count (`count_me`).
_V2 = """
ALTER TABLE machine ADD COLUMN open_vend_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE slots ADD COLUMN count_me INTEGER NOT NULL DEFAULT 0;
"""

MIGRATIONS: list[str] = [_V1, _V2]
SCHEMA_VERSION = len(MIGRATIONS)
PROJECTION_TABLES = ("makers", "products", "slots", "machine", "device_faults", "sales")


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the file to SCHEMA_VERSION; returns the version it had. Refuses a newer file."""
    conn = db.conn
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"ledger schema {version} is newer than this vendd ({SCHEMA_VERSION}): upgrade vendd"
        )
    for number in range(version, SCHEMA_VERSION):
        try:
            with db.atomic():
                for statement in _split(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
        except sqlite3.Error as exc:
            raise LedgerError(f"migration to schema {number + 1} failed: {exc}") from exc
    return version


def create_projection(conn: sqlite3.Connection) -> None:
    """The projection tables alone (for rebuilding into a scratch database)."""
    for migration in MIGRATIONS:
        for statement in _split(migration):
            if "journal" not in statement.split("(")[0]:
                conn.execute(statement.replace("REFERENCES journal(seq)", ""))


def _split(script: str) -> list[str]:
    # Statements end with ';' at the end of a line; trigger bodies keep theirs inside END;.
    out, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        if line.rstrip().endswith(";") and (not current[0].startswith("CREATE TRIGGER")
                                             or line.strip().endswith("END;")):
            out.append("\n".join(current))
            current = []
    return out
