"""The journal: append-only, gap-free, chained; `verify` catches edits, deletions and a
broken chain, and the state tables always match a replay of the journal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support import sell_monedero, stocked_ledger

from vendd.commands import Fact
from vendd.errors import LedgerError
from vendd.ledger import Ledger
from vendd.ledger.ledger import open_readonly
from vendd.ledger.schema import SCHEMA_VERSION
from vendd.ledger.verify import verify

TZ = "America/Guayaquil"


def _stocked(path: Path) -> Ledger:
    return stocked_ledger(path, 8, TZ)


def _sell(ledger: Ledger, vend: int) -> None:
    sell_monedero(ledger, vend, [100] * 4)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "vendd.db"
    ledger = _stocked(path)
    for vend in (1, 2, 3):
        _sell(ledger, vend)
    ledger.close()
    return path


def _verify(path: Path) -> list[str]:
    db = open_readonly(path)
    try:
        return verify(db, TZ).problems
    finally:
        db.close()


def _tamper(path: Path, *statements: str) -> None:
    """What someone with the sqlite3 shell would do: drop the guards, then edit."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER journal_append_only_update")
    conn.execute("DROP TRIGGER journal_append_only_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_a_clean_ledger_verifies_and_sums_the_money(ledger_path: Path) -> None:
    db = open_readonly(ledger_path)
    report = verify(db, TZ)
    assert report.ok, report.problems
    assert report.rows == 3 + 3 * 6
    assert report.money.cash_in == 1200 and report.money.cash_sales == 1050
    assert report.credit == 150
    (stock,) = db.conn.execute("SELECT stock FROM slots WHERE id = 'A1'").fetchone()
    assert stock == 5


def test_sequence_is_gap_free_and_chained(ledger_path: Path) -> None:
    db = open_readonly(ledger_path)
    rows = db.conn.execute("SELECT seq FROM journal ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))


def test_the_journal_refuses_updates_and_deletes(ledger_path: Path) -> None:
    conn = sqlite3.connect(ledger_path)
    with pytest.raises(sqlite3.IntegrityError, match="never updated"):
        conn.execute("UPDATE journal SET fields = '{}' WHERE seq = 5")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM journal WHERE seq = 5")


def test_verify_catches_an_edited_row(ledger_path: Path) -> None:
    _tamper(ledger_path, "UPDATE journal SET fields = replace(fields, '350', '35') "
                         "WHERE seq = 9")
    problems = _verify(ledger_path)
    assert any(p.startswith("row 9: hash does not match") for p in problems), problems


def test_verify_catches_a_deleted_row(ledger_path: Path) -> None:
    _tamper(ledger_path, "DELETE FROM journal WHERE seq = 12")
    problems = _verify(ledger_path)
    assert any("rows 12-12 are missing" in p for p in problems), problems


def test_verify_catches_a_deleted_last_row_through_the_state_tables(ledger_path: Path) -> None:
    last = sqlite3.connect(ledger_path).execute("SELECT MAX(seq) FROM journal").fetchone()[0]
    _tamper(ledger_path, f"DELETE FROM journal WHERE seq = {last}")
    problems = _verify(ledger_path)
    assert "table slots, row id='A1', column stock: stored 5, the journal says 6" in problems


def test_verify_catches_a_broken_chain_even_with_a_recomputed_hash(ledger_path: Path) -> None:
    # The tamperer edits a sale's price and recomputes that row's own hash correctly:
    # the next row's hash no longer chains.
    from vendd.ledger.journal import canonical, chain_hash

    conn = sqlite3.connect(ledger_path)
    seq, ts, kind, fields = conn.execute(
        "SELECT seq, ts, kind, fields FROM journal WHERE kind = 'sale' LIMIT 1").fetchone()
    (prev,) = conn.execute("SELECT hash FROM journal WHERE seq = ?", (seq - 1,)).fetchone()
    import json

    edited = json.loads(fields) | {"price": 1}
    digest = chain_hash(prev, seq, ts, kind, canonical(edited))
    conn.close()
    _tamper(ledger_path, f"UPDATE journal SET fields = '{canonical(edited)}', "
                         f"hash = '{digest}' WHERE seq = {seq}")
    problems = _verify(ledger_path)
    assert any(p.startswith(f"row {seq + 1}: hash does not match") for p in problems), problems
    assert any(p.startswith(("money:", "table ")) for p in problems), problems


def test_verify_catches_a_state_table_edited_behind_the_journal(ledger_path: Path) -> None:
    conn = sqlite3.connect(ledger_path)
    conn.execute("UPDATE machine SET credit = credit + 500")
    conn.commit()
    problems = _verify(ledger_path)
    assert "table machine, row id=1, column credit: stored 650, the journal says 150" in problems


def test_a_failed_append_leaves_nothing_half_written(tmp_path: Path) -> None:
    ledger = _stocked(tmp_path / "vendd.db")
    head = ledger.head
    with pytest.raises(LedgerError):
        # The second fact breaks a constraint (stock cannot go negative): neither lands.
        ledger.append([Fact("credit", {"device": "coin", "amount": 100, "label": "$1"}),
                       Fact("stock_set", {"slot": "A1", "before": 8, "after": -1,
                                          "reason": "adjust", "by": "x"})])
    assert ledger.head == head
    assert ledger.machine().credit == 0
    ledger.append([Fact("credit", {"device": "coin", "amount": 5, "label": "5c"})])
    assert ledger.head[0] == head[0] + 1
    ledger.close()
    assert _verify(tmp_path / "vendd.db") == []


def test_schema_version_and_newer_files_refused(tmp_path: Path) -> None:
    path = tmp_path / "vendd.db"
    Ledger(path, TZ).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="newer than this vendd"):
        Ledger(path, TZ)


def test_pragmas_protect_the_money(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "vendd.db", TZ)
    conn = ledger.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    ledger.close()


def test_sales_land_on_the_local_day(tmp_path: Path) -> None:
    # 04:59 UTC is 23:59 in Quito the day before; 05:01 UTC is 00:01 local.
    times = iter(["2026-11-28T04:59:00+00:00", "2026-11-28T05:01:00+00:00"] * 20)
    ledger = Ledger(tmp_path / "vendd.db", TZ, clock=lambda: next(times))
    ledger.append([Fact("maker_added", {"maker": "rosa", "name": "Rosa"}),
                   Fact("slot_configured", {"slot": "A1", "product": "M", "maker": "rosa",
                                            "price": 100, "capacity": 5, "by": "config"})])
    ledger.append([Fact("stock_set", {"slot": "A1", "before": 0, "after": 5,
                                      "reason": "restock", "by": "rosa"})])
    for vend in (1, 2):
        ledger.append([Fact("vend_intent", {"vend": vend, "slot": "A1", "price": 100,
                                            "payment": "card", "product": "M",
                                            "maker": "rosa"})])
    days = [d for (d,) in ledger.db.conn.execute("SELECT day FROM sales")]
    assert days == []
    times = iter(["2026-11-28T04:59:00+00:00", "2026-11-28T05:01:00+00:00"])
    ledger._clock = lambda: next(times)
    ledger.append([Fact("sale", {"vend": 1, "slot": "A1", "product": "M", "maker": "rosa",
                                 "price": 100, "payment": "card"})])
    ledger.append([Fact("sale", {"vend": 2, "slot": "A1", "product": "M", "maker": "rosa",
                                 "price": 100, "payment": "card"})])
    days = [d for (d,) in ledger.db.conn.execute("SELECT day FROM sales ORDER BY seq")]
    assert days == ["2026-11-27", "2026-11-28"]
    ledger.close()


def test_a_second_writer_never_breaks_the_chain(tmp_path: Path) -> None:
    # The daemon's ledger and a CLI's (`vendd export-dex --reset`) append to the same file.
    daemon_side = _stocked(tmp_path / "vendd.db")
    cli_side = Ledger(tmp_path / "vendd.db", TZ)
    for vend in (1, 2):
        _sell(daemon_side, vend)
        cli_side.append([Fact("note", {"text": f"export {vend}"})])
    _sell(daemon_side, 3)
    daemon_side.close()
    cli_side.close()
    assert _verify(tmp_path / "vendd.db") == []


def test_the_last_counter_of_a_numbering_device(tmp_path: Path) -> None:
    """What the daemon hands the ccTalk driver at start: the newest (serial, counter) of that
    device, from its credits or its counter rows, never another device's."""
    ledger = Ledger(tmp_path / "l.db")
    try:
        assert ledger.device_counter("coin_acceptor") is None
        ledger.append([
            Fact("coin_counter", {"device": "coin_acceptor", "serial": 7, "counter": 0,
                                  "reason": "baseline"}),
            Fact("credit", {"device": "coin_acceptor", "amount": 25, "label": "25c",
                            "serial": 7, "counter": 1}),
            Fact("credit", {"device": "changer", "amount": 10, "label": "10c"}),
        ])
        assert ledger.device_counter("coin_acceptor") == (7, 1)
        ledger.append([Fact("coin_counter", {"device": "coin_acceptor", "serial": 7,
                                             "counter": 2, "reason": "no_credit"}),
                       Fact("credit", {"device": "changer", "amount": 5, "label": "5c"})])
        assert ledger.device_counter("coin_acceptor") == (7, 2)
        assert ledger.device_counter("changer") is None
        assert verify(open_readonly(tmp_path / "l.db"), "UTC").ok
    finally:
        ledger.close()
