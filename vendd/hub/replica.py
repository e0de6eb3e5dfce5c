"""A machine's verified rows as a ledger file of its own, so the hub's figures come from the
ledger's own code (`vendd.ledger` projection, statements, cash and stock) and not a copy.

`<store.replicas>/<machine>.db` has the machine's ledger schema: the journal (verified rows
only, with their own seq, time and hash) and the state tables, built by `projection.apply`
exactly as on the machine. It is a cache: brought up to the verified head on each use, and
rebuilt from the store if its head no longer matches (store replaced, time zone changed)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.errors import LedgerError
from vendd.hub.store import Store
from vendd.ledger import projection
from vendd.ledger.db import connect
from vendd.ledger.schema import migrate

log = logging.getLogger(__name__)

BATCH = 5000
_META = "CREATE TABLE IF NOT EXISTS hub_replica (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
# The statement's one pass over a period's sales reads only the first index, and its money
# rows are found by kind with the second (the machine's own ledger keeps neither: this is
# the hub's cache, where reports are what it is for).
_INDEXES = ("CREATE INDEX IF NOT EXISTS hub_sales_day_maker_payment "
            "ON sales (day, maker, payment, price)",
            "CREATE INDEX IF NOT EXISTS hub_journal_kind ON journal (kind, seq)")


def replica_path(folder: Path, machine: str) -> Path:
    return folder / f"{machine}.db"


def sync_replica(store: Store, folder: Path, machine: str, tz: ZoneInfo,
                 ) -> sqlite_utils.Database:
    """The machine's replica ledger, up to the store's verified head. Raises LedgerError."""
    path = replica_path(folder, machine)
    m = store.machine(machine)
    if m is None:
        raise LedgerError(f"the hub has no rows of machine {machine!r}")
    db = _open(path, tz)
    if not _matches(db, store, machine, m.head_seq):
        log.warning("%s: the replica ledger does not match the store; rebuilding", machine)
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = _open(path, tz)
    conn = db.conn
    try:
        while True:
            (head,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
            rows = store.rows(machine, head, BATCH, upto=m.head_seq)
            if not rows:
                return db
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another report may have synced meanwhile.
                (now_head,) = conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
                for seq, ts, kind, fields, hash_ in rows:
                    if seq <= now_head:
                        continue
                    conn.execute("INSERT INTO journal (seq, ts, kind, fields, hash) "
                                 "VALUES (?, ?, ?, ?, ?)", (seq, ts, kind, fields, hash_))
                    projection.apply(conn, seq, ts, kind, json.loads(fields), tz)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    except (sqlite3.Error, KeyError, ValueError) as exc:
        db.close()
        raise LedgerError(f"{path}: cannot bring the replica of {machine} up to date: "
                          f"{exc}") from exc


def _open(path: Path, tz: ZoneInfo) -> sqlite_utils.Database:
    db = connect(path)
    migrate(db)
    conn = db.conn
    conn.execute(_META)
    for index in _INDEXES:
        conn.execute(index)
    row = conn.execute("SELECT value FROM hub_replica WHERE key = 'timezone'").fetchone()
    if row is None:
        conn.execute("INSERT INTO hub_replica (key, value) VALUES ('timezone', ?)", (tz.key,))
    elif row[0] != tz.key:
        # Sales days were computed in another zone: start again in this one.
        conn.execute("UPDATE hub_replica SET value = 'stale' WHERE key = 'timezone'")
    return db


def _matches(db: sqlite_utils.Database, store: Store, machine: str, verified: int) -> bool:
    conn = db.conn
    zone = conn.execute("SELECT value FROM hub_replica WHERE key = 'timezone'").fetchone()
    if zone is None or zone[0] == "stale":
        return False
    head = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    if head is None:
        return True
    if head[0] > verified:
        return False
    held = store.rows(machine, head[0] - 1, 1)
    return bool(held) and held[0][0] == head[0] and held[0][4] == head[1]
