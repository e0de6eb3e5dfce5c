"""Start-up checkpoints: what every projection table held, journaled, so the next start replays
only the rows after it instead of the whole history.

After its start-up check passes, the daemon journals a `checkpoint` row: every small projection
table (machine, slots, products, makers, device_faults) row by row, and for `sales` (one row per
sale, the big one) its row count and a SHA-256 over its rows in seq order. The next start loads
those tables into a scratch database, replays the rows after `through` on top, and compares:
the small tables and the sales after `through` row by row, the older sales by the digest. Any
difference sends the check back to a full replay, which names the first differing row.

The checkpoint is a journal row like any other (chained, published); `vendd verify` replays the
whole journal and checks each checkpoint against the state the rows before it give."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from vendd.commands import Fact
from vendd.ledger.compare import KEYS
from vendd.ledger.schema import PROJECTION_TABLES

KIND = "checkpoint"
SMALL_TABLES = tuple(t for t in PROJECTION_TABLES if t != "sales")
SALES_COLUMNS = "seq, day, slot, product, maker, price, payment"


@dataclass
class SalesDigest:
    """A running SHA-256 over the sales table's rows in seq order."""

    rows: int = 0
    last_seq: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)

    def feed(self, conn: sqlite3.Connection, upto: int | None = None) -> SalesDigest:
        """Add the stored sales after the last one fed, up to seq `upto` (None: all)."""
        sql = f"SELECT {SALES_COLUMNS} FROM sales WHERE seq > ?"
        args: tuple[int, ...] = (self.last_seq,)
        if upto is not None:
            sql += " AND seq <= ?"
            args += (upto,)
        update = self.hasher.update
        for row in conn.execute(sql + " ORDER BY seq", args):
            update(repr(row).encode())
            self.rows += 1
            self.last_seq = row[0]
        return self

    def hexdigest(self) -> str:
        return str(self.hasher.hexdigest())


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # the checkpoint row itself
    through: int  # the state is that of every row up to this seq
    tables: dict[str, dict[str, list[Any]]]  # table -> {"columns": [...], "rows": [[...]]}
    sales_rows: int
    sales_digest: str


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def small_tables(conn: sqlite3.Connection) -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {}
    for table in SMALL_TABLES:
        columns = _columns(conn, table)
        rows = conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} ORDER BY {KEYS[table]}").fetchall()
        out[table] = {"columns": columns, "rows": [list(r) for r in rows]}
    return out


def checkpoint_fact(conn: sqlite3.Connection, sales: SalesDigest | None = None) -> Fact:
    """The checkpoint of the tables as they stand (read in one transaction). `sales`: a digest
    already fed with the older sales (the start-up check made one), continued here."""
    conn.execute("BEGIN")
    try:
        (through,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
        tables = small_tables(conn)
        digest = (sales or SalesDigest()).feed(conn)
    finally:
        conn.execute("COMMIT")
    return Fact(KIND, {
        "through": through,
        "tables": json.dumps(tables, ensure_ascii=False, separators=(",", ":")),
        "sales_rows": digest.rows,
        "sales_digest": digest.hexdigest(),
    })


def last_checkpoint(conn: sqlite3.Connection) -> Checkpoint | None:
    """The newest readable checkpoint, or None (then only a full replay can tell)."""
    row = conn.execute(
        "SELECT seq, fields FROM journal WHERE kind = ? ORDER BY seq DESC LIMIT 1", (KIND,)
    ).fetchone()
    if row is None:
        return None
    try:
        return parse(row[0], json.loads(row[1]))
    except (TypeError, ValueError, KeyError):
        return None  # unreadable: the full replay names the row


def parse(seq: int, f: dict[str, Any]) -> Checkpoint:
    tables = json.loads(f["tables"])
    if not isinstance(tables, dict) or set(tables) != set(SMALL_TABLES):
        raise ValueError("a checkpoint must hold every small projection table")
    return Checkpoint(seq, int(f["through"]), tables, int(f["sales_rows"]),
                      str(f["sales_digest"]))


def restore(scratch: sqlite3.Connection, cp: Checkpoint) -> None:
    """Load the checkpoint's tables into an empty projection (columns by name, so a newer
    schema's added columns keep their defaults)."""
    for table in SMALL_TABLES:
        data = cp.tables[table]
        columns = data["columns"]
        scratch.execute(f"DELETE FROM {table}")
        marks = ", ".join("?" for _ in columns)
        scratch.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [tuple(r) for r in data["rows"]])


def differs(scratch: sqlite3.Connection, cp: Checkpoint) -> str | None:
    """Where a checkpoint disagrees with the state a replay reached at its `through`."""
    now = small_tables(scratch)
    for table in SMALL_TABLES:
        mine = cp.tables[table]
        if mine["columns"] != now[table]["columns"][: len(mine["columns"])]:
            return f"table {table}: other columns"
        width = len(mine["columns"])
        replayed = [r[:width] for r in now[table]["rows"]]
        if mine["rows"] != replayed:
            return f"table {table}"
    (rows,) = scratch.execute("SELECT COUNT(*) FROM sales").fetchone()
    if rows != cp.sales_rows:
        return f"table sales: {cp.sales_rows} rows, the journal gives {rows}"
    return None
