"""`vendd verify`: the chain, the sequence, the state tables and the money and stock
invariants (money in = sales + paid out + owed + unclaimed + credit held; loaded - sold -
adjusted = on hand), each checked from the journal alone."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.ledger import projection
from vendd.ledger.journal import GENESIS, JournalRow, canonical, chain_hash
from vendd.ledger.ledger import iter_rows
from vendd.ledger.schema import PROJECTION_TABLES, create_projection

MAX_PROBLEMS = 50


@dataclass
class MoneyTotals:
    cash_in: int = 0
    cash_sales: int = 0
    card_sales: int = 0
    paid_out: int = 0  # change and coin returns the buyer asked for
    owed: int = 0  # payouts that came out short: still owed to a buyer
    unclaimed: int = 0
    held_in_vend: int = 0


@dataclass
class Report:
    rows: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)
    money: MoneyTotals = field(default_factory=MoneyTotals)
    credit: int = 0
    stock: dict[str, int] = field(default_factory=dict)  # slot -> on hand, from the journal

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


class _Replay:
    """Walks the journal once: checks the chain and the vend lifecycle, sums the money,
    and rebuilds the projection into a scratch database."""

    def __init__(self, tz: ZoneInfo, report: Report) -> None:
        self.tz = tz
        self.report = report
        self.scratch = sqlite3.connect(":memory:", isolation_level=None)
        create_projection(self.scratch)
        self.scratch.execute("PRAGMA ignore_check_constraints = ON")  # report, don't stop
        self.expected_seq = 1
        self.prev = GENESIS
        self.open_vends: dict[int, JournalRow] = {}
        self.outcomes: Counter[int] = Counter()
        self.credit = 0
        self.stock: dict[str, int] = {}

    def row(self, row: JournalRow) -> None:
        r = self.report
        if row.seq != self.expected_seq:
            if row.seq > self.expected_seq:
                r.add(f"rows {self.expected_seq}-{row.seq - 1} are missing (deleted?)")
            else:
                r.add(f"row {row.seq}: out of sequence after {self.expected_seq - 1}")
        if chain_hash(self.prev, row.seq, row.ts, row.kind, canonical(row.fields)) != row.hash:
            r.add(f"row {row.seq}: hash does not match its contents and the row before it "
                  f"(row edited, or the chain broken)")
        self.expected_seq = row.seq + 1
        self.prev = row.hash
        r.rows += 1
        r.head = row.hash
        self._money(row)
        try:
            projection.apply(self.scratch, row.seq, row.ts, row.kind, row.fields, self.tz)
        except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
            r.add(f"row {row.seq}: {row.kind} cannot be applied: {exc}")

    def _money(self, row: JournalRow) -> None:
        m, f, r = self.report.money, row.fields, self.report
        try:
            match row.kind:
                case "credit":
                    m.cash_in += f["amount"]
                    self.credit += f["amount"]
                case "vend_intent":
                    if f["vend"] in self.open_vends or self.outcomes[f["vend"]]:
                        r.add(f"row {row.seq}: vend {f['vend']} started twice")
                    self.open_vends[f["vend"]] = row
                    if f["payment"] == "cash":
                        self.credit -= f["price"]
                        m.held_in_vend += f["price"]
                case "sale" | "vend_failed" | "test_vend":
                    intent = self.open_vends.pop(f["vend"], None)
                    self.outcomes[f["vend"]] += 1
                    if intent is None:
                        r.add(f"row {row.seq}: {row.kind} of vend {f['vend']} without an open "
                              f"intent (counted twice?)")
                        return
                    cash = intent.fields["payment"] == "cash"
                    if cash:
                        m.held_in_vend -= intent.fields["price"]
                    if row.kind == "test_vend":
                        pass
                    elif row.kind == "sale":
                        if cash:
                            m.cash_sales += f["price"]
                        else:
                            m.card_sales += f["price"]
                    elif cash:
                        self.credit += intent.fields["price"]
                case "payout":
                    m.paid_out += f["amount"] - f.get("owed", 0)
                    m.owed += f.get("owed", 0)
                    self.credit -= f["amount"]
                case "unclaimed":
                    m.unclaimed += f["amount"]
                    self.credit -= f["amount"]
        except (KeyError, TypeError) as exc:
            r.add(f"row {row.seq}: {row.kind} lacks a field: {exc}")
            return
        if self.credit < 0:
            r.add(f"row {row.seq}: credit would be negative ({self.credit})")


def verify(db: sqlite_utils.Database, tz: ZoneInfo | str = "UTC") -> Report:
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    report = Report()
    replay = _Replay(tz, report)
    for row in iter_rows(db):
        replay.row(row)
    m = report.money
    held = replay.credit
    report.credit = held
    if m.cash_in != m.cash_sales + m.paid_out + m.owed + m.unclaimed + held + m.held_in_vend:
        report.add(
            f"money: in {m.cash_in} != sales {m.cash_sales} + paid out {m.paid_out} + owed "
            f"{m.owed} + unclaimed {m.unclaimed} + credit {held} + in a vend {m.held_in_vend}"
        )
    _compare_tables(db, replay.scratch, report)
    _check_stock(replay.scratch, report)
    return report


_COMPARE = {
    "slots": "SELECT id, price, capacity, stock, enabled, fault FROM slots ORDER BY id",
    "machine": "SELECT credit, cash_box, open_vend, out_of_service, vends FROM machine",
    "sales": "SELECT COUNT(*), COALESCE(SUM(price), 0), COALESCE(MAX(seq), 0) FROM sales",
    "device_faults": "SELECT device, code FROM device_faults ORDER BY device",
    "makers": "SELECT id, name FROM makers ORDER BY id",
}


def _compare_tables(db: sqlite_utils.Database, scratch: sqlite3.Connection,
                    report: Report) -> None:
    assert set(_COMPARE) <= set(PROJECTION_TABLES)
    for table, sql in _COMPARE.items():
        try:
            actual = db.conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            report.add(f"table {table}: cannot be read: {exc}")
            continue
        expected = scratch.execute(sql).fetchall()
        if actual != expected:
            diff = [f"{a} (journal says {e})" for a, e in zip(actual, expected, strict=False)
                    if a != e][:3]
            if len(actual) != len(expected):
                diff.append(f"{len(actual)} rows, journal says {len(expected)}")
            report.add(f"table {table} does not match the journal: {'; '.join(diff)}")


def _check_stock(scratch: sqlite3.Connection, report: Report) -> None:
    for slot, stock, capacity in scratch.execute("SELECT id, stock, capacity FROM slots"):
        report.stock[slot] = stock
        if stock < 0:
            report.add(f"stock: slot {slot} would hold {stock} products")
        elif stock > capacity:
            report.add(f"stock: slot {slot} holds {stock}, more than its capacity {capacity}")
