"""How each kind of journal fact changes the current-state tables.

This is the only code that writes those tables: `Ledger.append` runs it in the same
transaction as the journal row, and `verify` runs it again over the whole journal into a
scratch database to prove the tables are what the journal says."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from vendd.ledger.kinds import KINDS

Fields = dict[str, Any]
Handler = Callable[[sqlite3.Connection, int, str, Fields, ZoneInfo], None]

_HANDLERS: dict[str, Handler] = {}

def handles(*kinds: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for kind in kinds:
            _HANDLERS[kind] = fn
        return fn

    return register


def apply(conn: sqlite3.Connection, seq: int, ts: str, kind: str, fields: Fields,
          tz: ZoneInfo) -> None:
    spec = KINDS.get(kind)
    if spec is None:
        raise KeyError(f"no schema for journal kind {kind!r}")
    if spec.money is not None:
        # Credit and cash box follow the kind's money effect, the same one verify sums.
        effect = spec.money(fields)
        if effect.credit or effect.to_cash_box:
            conn.execute(
                "UPDATE machine SET credit = credit + ?, cash_box = cash_box + ? WHERE id = 1",
                (effect.credit, effect.to_cash_box))
    handler = _HANDLERS.get(kind)
    if handler is not None:
        handler(conn, seq, ts, fields, tz)
    elif spec.money is None and not spec.record_only:
        raise KeyError(f"no projection for journal kind {kind!r}")


def projects(kind: str) -> bool:
    """Whether a row of `kind` has a defined effect on the state tables (none for a
    record-only kind counts as defined)."""
    spec = KINDS.get(kind)
    return spec is not None and (kind in _HANDLERS or spec.money is not None
                                 or spec.record_only)


def known_kinds() -> frozenset[str]:
    return frozenset(k for k in KINDS if projects(k))


def local_day(ts: str, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(ts).astimezone(tz).date().isoformat()


@handles("maker_added")
def _maker(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute(
        "INSERT INTO makers (id, name) VALUES (?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name = excluded.name",
        (f["maker"], f["name"]),
    )


@handles("slot_configured")
def _slot(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute(
        "INSERT INTO products (name, maker) VALUES (?, ?) ON CONFLICT(name, maker) DO NOTHING",
        (f["product"], f["maker"]),
    )
    (product,) = conn.execute(
        "SELECT id FROM products WHERE name = ? AND maker = ?", (f["product"], f["maker"])
    ).fetchone()
    conn.execute(
        "INSERT INTO slots (id, product, price, config_price, capacity, stock) "
        "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT(id) DO UPDATE SET product=excluded.product, "
        "config_price=excluded.config_price, capacity=excluded.capacity, "
        # A price set at the machine stands until the file's own price changes.
        "price=CASE WHEN slots.config_price = excluded.config_price THEN slots.price "
        "ELSE excluded.price END",
        (f["slot"], product, f["price"], f["price"], f["capacity"]),
    )


@handles("price_set")
def _price(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET price = ? WHERE id = ?", (f["price"], f["slot"]))


@handles("stock_set")
def _stock(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    # Whoever sets the stock has just looked into the spiral: that settles a pending count.
    conn.execute("UPDATE slots SET stock = ?, count_me = 0 WHERE id = ?", (f["after"], f["slot"]))


@handles("count_needed")
def _count_needed(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET count_me = 1 WHERE id = ?", (f["slot"],))


@handles("slot_enabled")
def _enabled(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET enabled = ? WHERE id = ?", (int(f["enabled"]), f["slot"]))


@handles("slot_fault")
def _slot_fault(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET fault = ? WHERE id = ?", (f["fault"], f["slot"]))


@handles("slot_fault_cleared")
def _slot_ok(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET fault = NULL WHERE id = ?", (f["slot"],))


@handles("vend_intent")
def _intent(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    # The cash set aside from the credit is the kind's money effect (applied in `apply`).
    conn.execute(
        "UPDATE machine SET open_vend = ?, open_vend_slot = ?, "
        "open_vend_price = ?, open_vend_payment = ?, vends = MAX(vends, ?) WHERE id = 1",
        (f["vend"], f["slot"], f["price"], f["payment"], f["vend"]),
    )


def _close_vend(conn: sqlite3.Connection) -> None:
    conn.execute(
        "UPDATE machine SET open_vend = NULL, open_vend_slot = NULL, open_vend_price = NULL, "
        "open_vend_payment = NULL, open_vend_dropped = 0 WHERE id = 1"
    )


def _one_less(conn: sqlite3.Connection, slot: str) -> None:
    # A product physically left the spiral; a count below zero means the ledger was wrong
    # about what was loaded, and the next count puts it right.
    conn.execute("UPDATE slots SET stock = MAX(stock - 1, 0) WHERE id = ?", (slot,))


@handles("sale")
def _sale(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET stock = stock - 1 WHERE id = ?", (f["slot"],))
    conn.execute(
        "INSERT INTO sales (seq, day, slot, product, maker, price, payment) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, local_day(ts, tz), f["slot"], f["product"], f["maker"], f["price"], f["payment"]),
    )
    if f.get("drop"):
        # Seen by the drop sensor while the motor still turns: the vend stays open (its
        # motor's end is `vend_done`), but its money is settled.
        conn.execute("UPDATE machine SET open_vend_dropped = 1 WHERE id = 1")
    else:
        _close_vend(conn)  # no drop sensor: the finished turn is the only evidence


@handles("test_drop")
def _test_drop(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    _one_less(conn, f["slot"])
    conn.execute("UPDATE machine SET open_vend_dropped = 1 WHERE id = 1")


@handles("extra_drop")
def _extra_drop(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    _one_less(conn, f["slot"])


@handles("vend_done")
def _done(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    # The motor of a vend whose product already fell: no money, only the slot's state.
    if f["outcome"] != "delivered":
        conn.execute("UPDATE slots SET fault = ? WHERE id = ?", (f["outcome"], f["slot"]))
    _close_vend(conn)


@handles("vend_failed")
def _failed(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE slots SET fault = ? WHERE id = ?", (f["outcome"], f["slot"]))
    _close_vend(conn)


@handles("test_vend")
def _test_vend(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    (dropped,) = conn.execute("SELECT open_vend_dropped FROM machine WHERE id = 1").fetchone()
    if f["outcome"] == "delivered" and not dropped:  # out, and not counted at the drop
        _one_less(conn, f["slot"])
    _close_vend(conn)


@handles("device_fault")
def _fault(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    if f.get("blocking", True):
        conn.execute(
            "INSERT INTO device_faults (device, code, detail, since_seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(device) DO UPDATE SET code=excluded.code, detail=excluded.detail",
            (f["device"], f["code"], f.get("detail", ""), seq),
        )


@handles("device_recovered")
def _recovered(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("DELETE FROM device_faults WHERE device = ?", (f["device"],))


@handles("service_mode")
def _mode(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    reason = f.get("reason") or "service" if f["out_of_service"] else None
    conn.execute("UPDATE machine SET out_of_service = ? WHERE id = 1", (reason,))


@handles("cash_collected")
def _collected(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    conn.execute("UPDATE machine SET cash_box = 0 WHERE id = 1")


@handles("started")
def _started(conn: sqlite3.Connection, seq: int, ts: str, f: Fields, tz: ZoneInfo) -> None:
    # Every device is probed again at start-up and reports its faults anew.
    conn.execute("DELETE FROM device_faults")
