"""`vendd verify`: the chain, the sequence, every projection table and the money and stock
invariants (money in = sales + paid out + owed + unclaimed + credit held; loaded - sold -
adjusted = on hand), each checked from the journal alone.

`check_at_start` is the part the daemon runs before it takes money: every row readable, the
chain whole, every stored table what a replay of the journal makes of it."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.errors import LedgerIntegrityError
from vendd.ledger import projection
from vendd.ledger.compare import first_difference
from vendd.ledger.journal import GENESIS, JournalRow, canonical, chain_hash
from vendd.ledger.schema import create_projection

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
    # The subset that makes the stored state untrustworthy: unreadable or missing rows, a
    # broken chain, a table that differs from the replay. The daemon refuses to start on these.
    integrity: list[str] = field(default_factory=list)
    money: MoneyTotals = field(default_factory=MoneyTotals)
    credit: int = 0
    stock: dict[str, int] = field(default_factory=dict)  # slot -> on hand, from the journal

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str, integrity: bool = False) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        if integrity and len(self.integrity) < MAX_PROBLEMS:
            self.integrity.append(problem)


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
        self.dropped: set[int] = set()  # open vends whose product fell (sold, motor turning)
        self.outcomes: Counter[int] = Counter()
        self.credit = 0
        self.stock: dict[str, int] = {}

    def _sequence(self, seq: int) -> None:
        r = self.report
        if seq != self.expected_seq:
            if seq > self.expected_seq:
                r.add(f"rows {self.expected_seq}-{seq - 1} are missing (deleted?)", True)
            else:
                r.add(f"row {seq}: out of sequence after {self.expected_seq - 1}", True)
        self.expected_seq = seq + 1
        r.rows += 1

    def unreadable(self, seq: int, hash_: str, why: str) -> None:
        self._sequence(seq)
        self.report.add(f"row {seq}: {why}", True)
        self.prev = self.report.head = hash_

    def row(self, row: JournalRow) -> None:
        r = self.report
        self._sequence(row.seq)
        if chain_hash(self.prev, row.seq, row.ts, row.kind, canonical(row.fields)) != row.hash:
            r.add(f"row {row.seq}: hash does not match its contents and the row before it "
                  f"(row edited, or the chain broken)", True)
        self.prev = row.hash
        r.head = row.hash
        self._money(row)
        try:
            projection.apply(self.scratch, row.seq, row.ts, row.kind, row.fields, self.tz)
        except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
            r.add(f"row {row.seq}: {row.kind} cannot be applied: {exc}", True)

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
                case "sale":
                    self._sale(row)
                case "test_drop":
                    if self._open(row) is not None:
                        self.dropped.add(f["vend"])
                case "vend_done" | "vend_failed" | "test_vend":
                    self._close(row)
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

    def _open(self, row: JournalRow) -> JournalRow | None:
        intent = self.open_vends.get(row.fields["vend"])
        if intent is None:
            self.report.add(f"row {row.seq}: {row.kind} of vend {row.fields['vend']} without "
                            f"an open intent (counted twice?)")
        return intent

    def _sale(self, row: JournalRow) -> None:
        """The money of a vend: at the drop (the vend stays open until its motor is home) or,
        without a drop sensor, at the end of the turn (it closes the vend)."""
        f, m = row.fields, self.report.money
        intent = self._open(row)
        if intent is None:
            self.outcomes[f["vend"]] += 1
            return
        if f["vend"] in self.dropped:
            self.report.add(f"row {row.seq}: vend {f['vend']} sold twice")
            return
        if f.get("drop"):
            self.dropped.add(f["vend"])
        else:
            self.open_vends.pop(f["vend"])
            self.outcomes[f["vend"]] += 1
        if intent.fields["payment"] == "cash":
            m.held_in_vend -= intent.fields["price"]
            m.cash_sales += f["price"]
        else:
            m.card_sales += f["price"]

    def _close(self, row: JournalRow) -> None:
        f = row.fields
        intent = self._open(row)
        self.outcomes[f["vend"]] += 1
        if intent is None:
            return
        del self.open_vends[f["vend"]]
        dropped = f["vend"] in self.dropped
        self.dropped.discard(f["vend"])
        if row.kind == "vend_done" and not dropped:
            self.report.add(f"row {row.seq}: vend {f['vend']} done without a sale at its drop")
        elif row.kind == "vend_failed" and dropped:
            self.report.add(f"row {row.seq}: vend {f['vend']} failed after its sale")
        elif row.kind == "vend_failed" and intent.fields["payment"] == "cash":
            self.report.money.held_in_vend -= intent.fields["price"]
            self.credit += intent.fields["price"]
        elif row.kind == "test_vend" and intent.fields["payment"] == "cash":
            self.report.money.held_in_vend -= intent.fields["price"]


def _raw_rows(db: sqlite_utils.Database, batch: int = 5000) -> Iterator[tuple]:
    after = 0
    while rows := db.conn.execute(
            "SELECT seq, ts, kind, fields, hash FROM journal WHERE seq > ? ORDER BY seq "
            "LIMIT ?", (after, batch)).fetchall():
        yield from rows
        after = rows[-1][0]


def _replay(db: sqlite_utils.Database, tz: ZoneInfo, report: Report) -> _Replay:
    replay = _Replay(tz, report)
    replay.scratch.execute("BEGIN")  # one transaction: the scratch copy is never committed
    for seq, ts, kind, text, hash_ in _raw_rows(db):
        try:
            fields = json.loads(text)
        except (TypeError, ValueError) as exc:
            replay.unreadable(seq, hash_, f"{kind}: its fields are not readable JSON ({exc})")
            continue
        if not isinstance(fields, dict):
            replay.unreadable(seq, hash_, f"{kind}: its fields are not a JSON object")
            continue
        replay.row(JournalRow(seq, ts, kind, fields, hash_))
    return replay


def check_at_start(db: sqlite_utils.Database, tz: ZoneInfo | str = "UTC") -> Report:
    """Replay the journal and compare every stored table with it; raise LedgerIntegrityError
    (one line: the first problem) when the stored state is not what the journal says."""
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    report = Report()
    replay = _replay(db, tz, report)
    if not report.integrity:
        difference = first_difference(db.conn, replay.scratch)
        if difference is not None:
            report.add(difference, True)
    replay.scratch.close()
    if report.integrity:
        more = len(report.integrity) - 1
        extra = f" (and {more} more; `vendd verify` lists them)" if more else ""
        raise LedgerIntegrityError(
            f"the ledger does not match its journal: {report.integrity[0]}{extra}")
    return report


def verify(db: sqlite_utils.Database, tz: ZoneInfo | str = "UTC") -> Report:
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    report = Report()
    replay = _replay(db, tz, report)
    m = report.money
    held = replay.credit
    report.credit = held
    if m.cash_in != m.cash_sales + m.paid_out + m.owed + m.unclaimed + held + m.held_in_vend:
        report.add(
            f"money: in {m.cash_in} != sales {m.cash_sales} + paid out {m.paid_out} + owed "
            f"{m.owed} + unclaimed {m.unclaimed} + credit {held} + in a vend {m.held_in_vend}"
        )
    difference = first_difference(db.conn, replay.scratch)
    if difference is not None:
        report.add(difference, True)
    _check_stock(replay.scratch, report)
    replay.scratch.close()
    return report


def _check_stock(scratch: sqlite3.Connection, report: Report) -> None:
    for slot, stock, capacity in scratch.execute("SELECT id, stock, capacity FROM slots"):
        report.stock[slot] = stock
        if stock < 0:
            report.add(f"stock: slot {slot} would hold {stock} products")
        elif stock > capacity:
            report.add(f"stock: slot {slot} holds {stock}, more than its capacity {capacity}")
