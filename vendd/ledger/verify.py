"""`vendd verify`: the chain, the sequence, the state tables and the money and stock
invariants (money in = sales + paid out + owed + unclaimed + credit held; loaded - sold -
adjusted = on hand), each checked from the journal alone."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.errors import LedgerError
from vendd.ledger import kinds, projection
from vendd.ledger.journal import GENESIS, JournalRow, canonical, chain_hash
from vendd.ledger.kinds import MoneyEffect
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

    def add(self, e: MoneyEffect) -> None:
        self.cash_in += e.cash_in
        self.cash_sales += e.cash_sale
        self.card_sales += e.card_sale
        self.paid_out += e.paid_out
        self.owed += e.owed
        self.unclaimed += e.unclaimed
        self.held_in_vend += e.held


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
        """Sum the row's money effect, after checking it against the vend it closes."""
        r = self.report
        try:
            kinds.validate(row.kind, row.fields)
        except LedgerError as exc:
            r.add(f"row {row.seq}: {exc}")
            return
        f = row.fields
        if row.kind == "vend_intent":
            if f["vend"] in self.open_vends or self.outcomes[f["vend"]]:
                r.add(f"row {row.seq}: vend {f['vend']} started twice")
            self.open_vends[f["vend"]] = row
        elif row.kind in _OUTCOMES:
            intent = self.open_vends.pop(f["vend"], None)
            self.outcomes[f["vend"]] += 1
            if intent is None:
                r.add(f"row {row.seq}: {row.kind} of vend {f['vend']} without an open "
                      f"intent (counted twice?)")
                return
            if row.kind != "test_vend" and (f["price"], f["payment"]) != (
                    intent.fields["price"], intent.fields["payment"]):
                r.add(f"row {row.seq}: {row.kind} of vend {f['vend']} says {f['payment']} "
                      f"{f['price']}, its intent {intent.fields['payment']} "
                      f"{intent.fields['price']}")
                return
        effect = kinds.money_effect(row)
        r.money.add(effect)
        self.credit += effect.credit
        if self.credit < 0:
            r.add(f"row {row.seq}: credit would be negative ({self.credit})")


_OUTCOMES = frozenset({"sale", "vend_failed", "test_vend"})


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
