"""`vendd report stock`: stock per slot, the restocks (by whom and when), and the slots that
run out soonest at the recent sales rate.

The rate is per selling day: the slot's sales in the window divided by the days in it on which
the machine sold anything, so a machine that opened three days ago, or a museum closed on
Mondays, is not shown selling slower than it does. A slot is `low` when a quarter of its
capacity or less is left, or when it runs out in under LOW_DAYS selling days."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.ledger.cash import local_time
from vendd.ledger.db import one_snapshot
from vendd.ledger.journal import row_from_db
from vendd.ledger.reports import Format, JournalStamp, journal_stamp, table, to_csv
from vendd.ledger.statements import local_today

COLUMNS = ["slot", "product", "maker", "stock", "capacity", "sold", "per_day", "days_left",
           "state"]
LOW_DAYS = 3.0


@dataclass(frozen=True)
class SlotStock:
    slot: str
    product: str
    maker: str
    stock: int
    capacity: int
    enabled: bool
    fault: str | None
    sold: int  # in the recent window
    per_day: float
    days_left: float | None  # None: no recent sales, no estimate

    @property
    def state(self) -> str:
        if self.fault:
            return f"fault: {self.fault}"
        if not self.enabled:
            return "disabled"
        if self.stock == 0:
            return "empty"
        if self.stock * 4 <= self.capacity or (self.days_left is not None
                                               and self.days_left < LOW_DAYS):
            return "low"
        return "ok"


@dataclass(frozen=True)
class Restock:
    seq: int
    when: str
    slot: str
    before: int
    after: int
    reason: str
    by: str


@dataclass
class StockReport:
    slots: list[SlotStock]  # soonest to run out first
    restocks: list[Restock]  # newest first
    window_days: int
    today: date
    stamp: JournalStamp
    selling_days: int = 0  # days in the window with at least one sale: the rate's divisor


@one_snapshot
def stock_report(db: sqlite_utils.Database, tz: ZoneInfo | str, today: date | None = None,
                 window_days: int = 14, restocks: int = 20) -> StockReport:
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    today = today or local_today(tz)
    first = (today - timedelta(days=window_days - 1)).isoformat()
    sold = dict(db.conn.execute(
        "SELECT slot, COUNT(*) FROM sales WHERE day BETWEEN ? AND ? GROUP BY slot",
        (first, today.isoformat())))
    (selling_days,) = db.conn.execute(
        "SELECT COUNT(DISTINCT day) FROM sales WHERE day BETWEEN ? AND ?",
        (first, today.isoformat())).fetchone()
    slots = []
    for sid, product, maker, stock, capacity, enabled, fault in db.conn.execute(
            "SELECT s.id, p.name, p.maker, s.stock, s.capacity, s.enabled, s.fault "
            "FROM slots s JOIN products p ON p.id = s.product ORDER BY s.id"):
        n = sold.get(sid, 0)
        rate = n / selling_days if selling_days else 0.0
        slots.append(SlotStock(sid, product, maker, stock, capacity, bool(enabled), fault, n,
                               rate, stock / rate if rate else None))
    slots.sort(key=lambda s: (s.days_left is None, s.days_left or 0.0, s.slot))
    rows = [row_from_db(*r) for r in db.conn.execute(
        "SELECT seq, ts, kind, fields, hash FROM journal WHERE kind = 'stock_set' "
        "ORDER BY seq DESC LIMIT ?", (restocks,))]
    found = [Restock(r.seq, local_time(r.ts, tz), r.fields["slot"], r.fields["before"],
                     r.fields["after"], str(r.fields.get("reason", "")),
                     str(r.fields.get("by", ""))) for r in rows]
    return StockReport(slots, found, window_days, today, journal_stamp(db), selling_days)


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_stock(report: StockReport, fmt: Format) -> str:
    rows = [(s.slot, s.product, s.maker, s.stock, s.capacity, s.sold, round(s.per_day, 2),
             None if s.days_left is None else round(s.days_left, 1), s.state)
            for s in report.slots]
    if fmt == "json":
        return json.dumps({
            "today": report.today.isoformat(), "window_days": report.window_days,
            "selling_days": report.selling_days,
            "slots": [dict(zip(COLUMNS, r, strict=True)) for r in rows],
            "restocks": [r.__dict__ for r in report.restocks],
            "journal": report.stamp.as_dict(),
        }, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return to_csv(COLUMNS, rows)
    cells = [[s.slot, s.product, s.maker, str(s.stock), str(s.capacity), str(s.sold),
              f"{s.per_day:.2f}", _days(s.days_left), s.state] for s in report.slots]
    header = ["SLOT", "PRODUCT", "MAKER", "STOCK", "CAPACITY",
              f"SOLD {report.window_days}D", "PER DAY", "DAYS LEFT", "STATE"]
    out = table([f"Stock on {report.today}, soonest to run out first "
                 f"(rate per selling day: {report.selling_days} of the last "
                 f"{report.window_days} days had sales)"],
                header, cells, right={3, 4, 5, 6, 7})
    restocks = [[str(r.seq), r.when, r.slot, str(r.before), str(r.after),
                 f"{r.after - r.before:+d}", r.reason, r.by] for r in report.restocks]
    out += "\n\n" + table(["Stock changes, newest first"],
                          ["SEQ", "WHEN", "SLOT", "BEFORE", "AFTER", "CHANGE", "REASON", "BY"],
                          restocks, right={0, 3, 4, 5})
    return out + "\n" + report.stamp.line()
