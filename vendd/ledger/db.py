"""Opening the SQLite file with the pragmas a money ledger needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from vendd.errors import LedgerError


def connect(path: str | Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """One connection per writing thread: threads sharing a connection share its transaction,
    and one thread's rollback drops the other's writes. WAL so the relay and the reports read
    while the controller writes; synchronous=FULL so a committed sale survives a power cut."""
    path = Path(path)
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=5, check_same_thread=False)
        conn.isolation_level = None  # explicit BEGIN/COMMIT through Database.atomic()
        db = sqlite_utils.Database(conn)
        if not readonly:
            db.enable_wal()
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
    except (sqlite3.Error, OSError) as exc:
        raise LedgerError(f"{path}: cannot open the ledger: {exc}") from exc
    return db
