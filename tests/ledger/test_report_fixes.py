"""Report fixes: every maker on her statement, last month, what each maker was paid, CSV for
spreadsheets, and the stock report's rate and low flags."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from accounts_data import TZ, Builder, known_ledger, local, setup_facts
from support import SIM_CONFIG

from vendd.cli import main
from vendd.commands import Fact
from vendd.ledger.ledger import open_readonly
from vendd.ledger.statements import Period, parse_period
from vendd.ledger.stock import stock_report
from vendd.ledger.verify import verify


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([args[0], "--config", str(SIM_CONFIG), *args[1:]])
    got = capsys.readouterr()
    return code, got.out, got.err


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return known_ledger(tmp_path / "known.db")


def test_a_maker_with_no_sales_is_on_the_statement_with_zero(
        ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--format", "json",
                       "--period", "2026-01-07..2026-01-07")
    assert code == 0
    rows = {r["maker"]: r for r in json.loads(out)["rows"]}
    assert set(rows) == {"carmen", "lucia", "rosa"}
    assert (rows["rosa"]["items"], rows["rosa"]["gross"], rows["rosa"]["maker_share"]) == (0, 0, 0)
    assert rows["carmen"]["gross"] == 125


def test_last_month() -> None:
    assert parse_period("last-month", date(2026, 3, 15)) == Period(
        date(2026, 2, 1), date(2026, 2, 28), "last-month")
    assert parse_period("last-month", date(2026, 1, 1)) == Period(
        date(2025, 12, 1), date(2025, 12, 31), "last-month")


def test_what_each_maker_was_paid(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pay", "--ledger", str(ledger), "--maker", "lucia",
                       "--amount", "500", "--by", "carmen", "--note", "efectivo")
    assert code == 0 and "paid lucia $5.00" in out
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--format", "json")
    lucia = next(r for r in json.loads(out)["rows"] if r["maker"] == "lucia")
    assert (lucia["maker_share"], lucia["paid"], lucia["to_pay"]) == (893, 500, 393)
    code, out, _ = run(capsys, "report", "--ledger", str(ledger))
    assert "PAID" in out and "TO PAY" in out and "$3.93" in out
    # The payment is a journal row like any other: the chain and the invariants still hold.
    db = open_readonly(ledger)
    try:
        assert verify(db, TZ).ok
    finally:
        db.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--maker", "nadie", "--amount", "100", "--by", "carmen"], "'nadie' is not a maker"),
    (["--maker", "rosa", "--amount", "0", "--by", "carmen"], "whole cents above zero"),
])
def test_a_bad_payment_is_one_line_and_journals_nothing(
        ledger: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    before = ledger.stat().st_size, _rows(ledger)
    code, _, err = run(capsys, "pay", "--ledger", str(ledger), *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert _rows(ledger) == before[1]


def _rows(path: Path) -> int:
    db = open_readonly(path)
    try:
        return db.conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
    finally:
        db.close()


def test_csv_opens_in_a_spreadsheet(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--ledger", str(ledger), "--format", "csv")
    assert code == 0 and out.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    assert {r["currency"] for r in table} == {"USD"}
    total = table[-1]
    assert total["maker"] == "TOTAL" and total["gross"] == "25.75" and total["items"] == "6"
    assert sum(int(r["gross"].replace(".", "")) for r in table[:-1]) == 2575
    code, out, _ = run(capsys, "report", "cash", "--ledger", str(ledger), "--format", "csv")
    lines = out.removeprefix("\ufeff").splitlines()
    assert lines[0].endswith("difference,currency") and lines[-1] == "TOTAL,,,21.25,21.00,-0.25,USD"


def test_stock_rate_counts_the_days_the_machine_sold(tmp_path: Path) -> None:
    b = Builder(tmp_path / "new.db", local("2026-02-02 08:00"))
    b.at(local("2026-02-02 08:00"), *setup_facts(stock=10))
    b.at(local("2026-02-02 08:01"),
         Fact("slot_configured", {"slot": "C1", "product": "Gorro", "maker": "rosa",
                                  "price": 500, "capacity": 5, "by": "config"}),
         Fact("stock_set", {"slot": "C1", "before": 0, "after": 1, "reason": "restock",
                            "by": "rosa"}))
    for day in ("2026-02-02", "2026-02-03"):  # a new machine: two days of sales
        b.vend(local(f"{day} 10:00"), "A1")
        b.vend(local(f"{day} 11:00"), "A1")
    b.close()
    db = open_readonly(tmp_path / "new.db")
    try:
        report = stock_report(db, TZ, today=date(2026, 2, 3))
    finally:
        db.close()
    slots = {s.slot: s for s in report.slots}
    assert report.selling_days == 2
    assert slots["A1"].per_day == 2.0 and slots["A1"].days_left == 3.0  # 6 left, 2 a day
    assert slots["C1"].stock == 1 and slots["C1"].state == "low"  # 1 left of 5
    assert slots["A2"].state == "ok"  # 10 of 20, no sales
