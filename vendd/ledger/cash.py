"""`vendd report cash`: every cash collection (expected by the journal, counted by the
seamstress, the difference) and the cash that should be in the box now."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.ledger.db import one_snapshot
from vendd.ledger.journal import row_from_db
from vendd.ledger.kinds import money_effect
from vendd.ledger.reports import Format, JournalStamp, journal_stamp, table, to_csv
from vendd.money import Money

COLUMNS = ["seq", "when", "by", "expected", "counted", "difference"]


@dataclass(frozen=True)
class Collection:
    seq: int
    when: str  # local time, YYYY-MM-DD HH:MM
    by: str
    expected: int
    counted: int
    difference: int  # counted - expected: negative = missing from the box


@dataclass
class CashReport:
    collections: list[Collection] = field(default_factory=list)
    in_box: int = 0  # inserted into the cash box since the last collection, by the journal
    inserted_since: int = 0  # seq of the last collection (0: never collected)
    stamp: JournalStamp = field(default_factory=lambda: JournalStamp(0, 0, 0, ""))

    @property
    def difference(self) -> int:
        return sum(c.difference for c in self.collections)


def local_time(ts: str, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(ts).astimezone(tz).strftime("%Y-%m-%d %H:%M")


@one_snapshot
def cash_report(db: sqlite_utils.Database, tz: ZoneInfo | str) -> CashReport:
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    report = CashReport()
    cur = db.conn.execute(
        "SELECT seq, ts, kind, fields, hash FROM journal "
        "WHERE kind IN ('credit', 'cash_collected') ORDER BY seq")
    for raw in cur:
        row = row_from_db(*raw)
        f = row.fields
        if row.kind == "credit":
            report.in_box += money_effect(row).to_cash_box  # tube coins pay change
        else:
            report.collections.append(Collection(
                row.seq, local_time(row.ts, tz), str(f.get("by", "")), f["expected"],
                f["counted"], f.get("difference", f["counted"] - f["expected"])))
            report.in_box = 0
            report.inserted_since = row.seq
    report.stamp = journal_stamp(db)
    return report


def render_cash(report: CashReport, fmt: Format, money: Money) -> str:
    rows = [(c.seq, c.when, c.by, c.expected, c.counted, c.difference)
            for c in report.collections]
    if fmt == "json":
        return json.dumps({
            "currency": money.currency,
            "collections": [dict(zip(COLUMNS, r, strict=True)) for r in rows],
            "difference": report.difference,
            "in_box_now": report.in_box, "since_seq": report.inserted_since,
            "journal": report.stamp.as_dict(),
        }, ensure_ascii=False, indent=2)
    if fmt == "csv":
        sums = ["TOTAL", "", "", sum(c.expected for c in report.collections),
                sum(c.counted for c in report.collections), report.difference]
        return to_csv(COLUMNS, rows, money, {"expected", "counted", "difference"}, sums)
    cells = [[str(r[0]), r[1], r[2], money(r[3]), money(r[4]), money(r[5])] for r in rows]
    total = ["TOTAL", "", "", money(sum(c.expected for c in report.collections)),
             money(sum(c.counted for c in report.collections)), money(report.difference)]
    since = (f"since the collection of row {report.inserted_since}" if report.inserted_since
             else "never collected")
    footer = [f"cash that should be in the box now: {money(report.in_box)} ({since})",
              report.stamp.line()]
    return table(["Cash collections"], [c.upper() for c in COLUMNS], cells, total,
                 right={0, 3, 4, 5}, footer=footer)
