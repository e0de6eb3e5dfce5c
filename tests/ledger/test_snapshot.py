"""Reading a ledger the daemon is writing: `verify`, the start-up check and every report read
the file as of one commit, so they never report a difference that is only a sale committed
between two of their reads, and the chain head a report names covers exactly its figures."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support import sell_monedero, stocked_ledger, wait_for

from vendd.config import SharesConfig
from vendd.ledger.against import compare
from vendd.ledger.cash import cash_report
from vendd.ledger.dex import DexMachine, write_dex
from vendd.ledger.ledger import open_readonly, read_rows
from vendd.ledger.reports import sales_report
from vendd.ledger.startcheck import check_at_start
from vendd.ledger.statements import Period, statement
from vendd.ledger.stock import stock_report
from vendd.ledger.verify import verify
from vendd.telemetry.actions import sales_report as request_report

TZ = "America/Guayaquil"
LOADED = 100_000
READS = 15


@pytest.fixture
def busy_ledger(tmp_path: Path) -> Iterator[Path]:
    """A ledger with a writer selling from it until the test ends."""
    path = tmp_path / "vendd.db"
    ledger = stocked_ledger(path, LOADED, TZ)
    sell_monedero(ledger, 1, [350])
    stop = threading.Event()
    cycles = [1]

    def sell() -> None:
        while not stop.is_set():
            cycles[0] += 1
            sell_monedero(ledger, cycles[0], [350])

    writer = threading.Thread(target=sell, name="writer")
    writer.start()
    try:
        yield path
    finally:
        stop.set()
        writer.join()
        ledger.close()
    assert cycles[0] > 1, "the writer never ran beside the readers"


def _through(path: Path, head_seq: int, kind: str) -> int:
    """How many rows of `kind` the journal holds up to `head_seq` (read afterwards)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (n,) = conn.execute("SELECT COUNT(*) FROM journal WHERE kind = ? AND seq <= ?",
                            (kind, head_seq)).fetchone()
    finally:
        conn.close()
    return n


def _head(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (n,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
    finally:
        conn.close()
    return int(n)


def _read_while_selling(read: Callable[[], None]) -> None:
    for _ in range(READS):
        read()


def test_verify_of_a_ledger_being_written_finds_nothing_wrong(busy_ledger: Path) -> None:
    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            report = verify(db, TZ)
        finally:
            db.close()
        assert report.ok, report.problems

    _read_while_selling(read)


def test_the_start_check_of_a_ledger_being_written_passes(busy_ledger: Path) -> None:
    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            check_at_start(db, TZ)  # raises LedgerIntegrityError on any difference
        finally:
            db.close()

    _read_while_selling(read)


def test_a_sales_report_covers_exactly_the_rows_up_to_the_head_it_names(
        busy_ledger: Path) -> None:
    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            report = sales_report(db, "maker")
        finally:
            db.close()
        assert report.items == _through(busy_ledger, report.head_seq, "sale")

    _read_while_selling(read)


def test_the_stock_and_cash_reports_match_the_head_they_name(busy_ledger: Path) -> None:
    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            stock = stock_report(db, TZ)
            cash = cash_report(db, TZ)
        finally:
            db.close()
        (a1,) = [s for s in stock.slots if s.slot == "A1"]
        assert a1.stock == LOADED - _through(busy_ledger, stock.stamp.head_seq, "sale")
        assert cash.in_box == 350 * _through(busy_ledger, cash.stamp.head_seq, "credit")

    _read_while_selling(read)


def test_a_statement_s_sales_and_its_money_agree_while_the_machine_sells(
        busy_ledger: Path) -> None:
    """Its lines come from the sales table and its money from a pass over the journal: two
    reads that must see the same sales."""
    shares = SharesConfig(maker=70, collective=20, museum=10)

    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            st = statement(db, Period(None, None), shares, TZ)
        finally:
            db.close()
        assert st.report.gross == st.money.cash_sales
        assert st.money.cash_in == 350 * _through(busy_ledger, st.stamp.head_seq, "credit")

    _read_while_selling(read)


def test_a_report_asked_over_mqtt_adds_up_while_the_machine_sells(busy_ledger: Path) -> None:
    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            report = request_report(db, date(2000, 1, 1), date(2999, 12, 31))
        finally:
            db.close()
        assert report["total"] == 350 * report["count"]
        assert sum(m["count"] for m in report["makers"]) == report["count"]
        assert sum(d["count"] for d in report["days"]) == report["count"]

    _read_while_selling(read)


def test_a_dex_file_of_a_ledger_being_written_adds_up_to_the_head_it_names(
        busy_ledger: Path) -> None:
    machine = DexMachine("quito-01", "Costureras", "Quito", "USD", 2, "test")

    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            dex = write_dex(db, machine, TZ, datetime.now(UTC))
        finally:
            db.close()
        sales = _through(busy_ledger, dex.stamp.head_seq, "sale")
        assert dex.counts.paid_count.init == sales
        assert dex.counts.paid_value.init == 350 * sales
        assert f"VA1*{350 * sales}*{sales}*" in dex.text

    _read_while_selling(read)


def test_comparing_with_the_hub_beside_the_daemon_finds_only_rows_not_sent_yet(
        busy_ledger: Path) -> None:
    """The hub holds the rows the machine had sent; the machine goes on selling meanwhile."""
    wait_for(lambda: _head(busy_ledger) > 40, what="forty rows journaled")
    db = open_readonly(busy_ledger)
    try:
        sent = read_rows(db, 0, 40)
    finally:
        db.close()
    hub = [json.dumps({"seq": r.seq, "ts": r.ts, "kind": r.kind, "fields": r.fields,
                       "hash": r.hash}) for r in sent]
    wait_for(lambda: _head(busy_ledger) > sent[-1].seq, what="rows the hub has not had")

    def read() -> None:
        db = open_readonly(busy_ledger)
        try:
            result = compare(db, iter(hub), "hub.jsonl")
        finally:
            db.close()
        assert result.ok, result.difference
        assert result.hub_rows == len(sent)
        assert result.ahead is not None
        assert result.ahead.startswith(f"rows {sent[-1].seq + 1}..")
        last = int(result.ahead.split("..")[1].split()[0])
        assert result.local_rows == last  # every row up to the one it names, none skipped

    _read_while_selling(read)
