"""Every projection table, row by row and column by column, against a replay of the journal.

The stored tables are what the daemon starts from (credit, the open vend, the cash box, stock,
sales by maker), so each of them must be exactly what the journal makes of them. The first
difference is named by table, key, column, the stored value and the journal's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from vendd.ledger.schema import PROJECTION_TABLES

# The key each projection table is compared by (its primary key).
KEYS = {
    "makers": "id",
    "products": "id",
    "slots": "id",
    "machine": "id",
    "device_faults": "device",
    "sales": "seq",
}

Row = tuple[Any, ...]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _order(value: Any) -> tuple[int, Any]:
    """SQLite's own order of values (NULL, numbers, text, blobs), so the two cursors, both
    sorted by SQLite, are merged the same way whatever type a hand edit left in a key."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, bytes(value))


def _rows(conn: sqlite3.Connection, table: str, columns: list[str],
          sales_after: int = 0) -> Iterator[Row]:
    key = KEYS[table]
    where = f" WHERE seq > {int(sales_after)}" if table == "sales" and sales_after else ""
    yield from conn.execute(f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {key}")


def first_difference(stored: sqlite3.Connection, replayed: sqlite3.Connection,
                     sales_after: int = 0) -> str | None:
    """The first row, in table order then key order, where the stored projection and the
    replayed one differ; None when every table matches. `sales_after`: the replay began at a
    checkpoint of that seq, so only the stored sales after it are compared row by row."""
    assert set(KEYS) == set(PROJECTION_TABLES), "a projection table without a compare key"
    for table in PROJECTION_TABLES:
        columns = _columns(replayed, table)
        try:
            found = _table_difference(table, columns, _rows(stored, table, columns, sales_after),
                                      _rows(replayed, table, columns))
        except sqlite3.Error as exc:
            return f"table {table}: cannot be read: {exc}"
        if found is not None:
            return found
    return None


def _table_difference(table: str, columns: list[str], stored: Iterator[Row],
                      replayed: Iterator[Row]) -> str | None:
    key = KEYS[table]
    k = columns.index(key)
    mine, theirs = next(stored, None), next(replayed, None)
    while mine is not None or theirs is not None:
        if theirs is None or (mine is not None and _order(mine[k]) < _order(theirs[k])):
            assert mine is not None
            return (f"table {table}, row {key}={mine[k]!r}: not in the journal "
                    f"(the journal has no such row)")
        if mine is None or _order(theirs[k]) < _order(mine[k]):
            return (f"table {table}, row {key}={theirs[k]!r}: missing "
                    f"(the journal has it, the table does not)")
        for name, a, b in zip(columns, mine, theirs, strict=True):
            if a != b or type(a) is not type(b):
                return (f"table {table}, row {key}={mine[k]!r}, column {name}: "
                        f"stored {a!r}, the journal says {b!r}")
        mine, theirs = next(stored, None), next(replayed, None)
    return None
