"""`vendd verify`: the chain, the sequence, every projection table and the money and stock
invariants (money in = sales + paid out + owed + unclaimed + credit held; loaded - sold -
adjusted = on hand), each checked from the journal alone.

The daemon runs the integrity part of the same replay before it takes money (startcheck.py)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.errors import LedgerError
from vendd.ledger import checkpoint, kinds, projection
from vendd.ledger.compare import first_difference
from vendd.ledger.db import one_snapshot
from vendd.ledger.journal import GENESIS, JournalRow, canonical, chain_hash
from vendd.ledger.kinds import MoneyEffect
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


class Replay:
    """Walks the journal once: checks the chain and the vend lifecycle, sums the money,
    and rebuilds the projection into a scratch database."""

    def __init__(self, tz: ZoneInfo, report: Report, money: bool = True) -> None:
        self.tz = tz
        self.report = report
        self.money = money  # False: only the chain and the tables (the start-up check)
        self.from_genesis = True  # False: replaying on top of a checkpoint's tables
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
        if self.money:
            self._money(row)
        if row.kind == checkpoint.KIND and self.from_genesis:
            self._checkpoint(row)
        try:
            projection.apply(self.scratch, row.seq, row.ts, row.kind, row.fields, self.tz)
        except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
            r.add(f"row {row.seq}: {row.kind} cannot be applied: {exc}", True)

    def _checkpoint(self, row: JournalRow) -> None:
        """A checkpoint is what the next start trusts: it must be the state of the rows before
        it (checked when nothing came between its reading and its row)."""
        try:
            cp = checkpoint.parse(row.seq, row.fields)
        except (TypeError, ValueError, KeyError) as exc:
            self.report.add(f"row {row.seq}: checkpoint cannot be read: {exc}", True)
            return
        if cp.through == row.seq - 1:
            where = checkpoint.differs(self.scratch, cp)
            if where is not None:
                self.report.add(f"row {row.seq}: checkpoint does not match the rows before it "
                                f"({where})", True)

    def _money(self, row: JournalRow) -> None:
        """Sum the row's money effect, after checking it against the vend it belongs to."""
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
        elif row.kind in _VEND_ROWS and not self._fits_its_vend(row):
            return
        effect = kinds.money_effect(row)
        r.money.add(effect)
        self.credit += effect.credit
        if self.credit < 0:
            r.add(f"row {row.seq}: credit would be negative ({self.credit})")

    def _fits_its_vend(self, row: JournalRow) -> bool:
        """A vend's life: intent; then its sale at the drop (the vend stays open while the
        motor finishes) and `vend_done`; or, without a drop sensor, the sale at the end of the
        turn; or `vend_failed`. False: the row does not fit, its money is not counted."""
        r, f = self.report, row.fields
        vend = f["vend"]
        intent = self.open_vends.get(vend)
        if intent is None:
            self.outcomes[vend] += 1
            r.add(f"row {row.seq}: {row.kind} of vend {vend} without an open intent "
                  f"(counted twice?)")
            return False
        if row.kind in ("sale", "vend_failed") and (f["price"], f["payment"]) != (
                intent.fields["price"], intent.fields["payment"]):
            r.add(f"row {row.seq}: {row.kind} of vend {vend} says {f['payment']} "
                  f"{f['price']}, its intent {intent.fields['payment']} "
                  f"{intent.fields['price']}")
            return False
        dropped = vend in self.dropped
        if row.kind in ("sale", "test_drop"):
            if dropped:
                r.add(f"row {row.seq}: vend {vend} sold twice")
                return False
            if row.kind == "test_drop" or f.get("drop"):
                self.dropped.add(vend)
                return True
        del self.open_vends[vend]
        self.dropped.discard(vend)
        self.outcomes[vend] += 1
        if row.kind == "vend_done" and not dropped:
            r.add(f"row {row.seq}: vend {vend} done without a sale at its drop")
        elif row.kind == "vend_failed" and dropped:
            r.add(f"row {row.seq}: vend {vend} failed after its sale")
            return False
        return True


# The rows that belong to one vend after its intent.
_VEND_ROWS = frozenset({"sale", "test_drop", "vend_done", "vend_failed", "test_vend"})


def _raw_rows(db: sqlite_utils.Database, after: int = 0,
              batch: int = 5000) -> Iterator[tuple]:
    while rows := db.conn.execute(
            "SELECT seq, ts, kind, fields, hash FROM journal WHERE seq > ? ORDER BY seq "
            "LIMIT ?", (after, batch)).fetchall():
        yield from rows
        after = rows[-1][0]


def replay_journal(db: sqlite_utils.Database, replay: Replay, after: int = 0) -> Replay:
    """Feed `replay` the journal rows after seq `after` (all of them by default)."""
    replay.scratch.execute("BEGIN")  # one transaction: the scratch copy is never committed
    for seq, ts, kind, text, hash_ in _raw_rows(db, after):
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


@one_snapshot
def verify(db: sqlite_utils.Database, tz: ZoneInfo | str = "UTC") -> Report:
    tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    report = Report()
    replay = replay_journal(db, Replay(tz, report))
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
