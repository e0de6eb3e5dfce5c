"""Opening the SQLite file with the pragmas a money ledger needs, and reading it in one
snapshot."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import sqlite_utils

from vendd.errors import LedgerError

P = ParamSpec("P")
R = TypeVar("R")


def connect(path: str | Path, *, readonly: bool = False, busy_s: float = 5.0,
            ) -> sqlite_utils.Database:
    """One connection per writing thread: threads sharing a connection share its transaction,
    and one thread's rollback drops the other's writes. WAL so the relay and the reports read
    while the controller writes; synchronous=FULL so a committed sale survives a power cut.
    `busy_s`: how long a write waits for another connection's write to end."""
    path = Path(path)
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=busy_s, check_same_thread=False
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=busy_s, check_same_thread=False)
        conn.isolation_level = None  # explicit BEGIN/COMMIT through Database.atomic()
        db = sqlite_utils.Database(conn)
        if not readonly:
            db.enable_wal()
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
    except (sqlite3.Error, OSError) as exc:
        raise LedgerError(f"{path}: cannot open the ledger: {exc}") from exc
    return db


@contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """Every read inside sees the file as of one commit, even while the daemon writes: a
    report's figures and the chain head it names, or verify's journal and the tables it
    compares with it, come from the same moment. Inside a transaction already, that one's."""
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")  # deferred: the first read fixes the snapshot, no lock is taken
    try:
        yield
    finally:
        if conn.in_transaction:  # an error may have ended it already
            conn.execute("COMMIT")


def one_snapshot(read: Callable[Concatenate[sqlite_utils.Database, P], R]
                 ) -> Callable[Concatenate[sqlite_utils.Database, P], R]:
    """A reading function whose first argument is the database runs in one snapshot."""
    @functools.wraps(read)
    def reading(db: sqlite_utils.Database, *args: P.args, **kwargs: P.kwargs) -> R:
        with snapshot(db):
            return read(db, *args, **kwargs)

    return reading
