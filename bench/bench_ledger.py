"""Ledger benchmarks (core issue):
- appending a sale costs at most 1.5x a bare sqlite3 INSERT + COMMIT with the same pragmas;
- so does appending a coin's credit with its device fields (serial number, event counter);
- beside each, the same statements as plain SQL on the ledger's schema (a figure: the floor the
  storage design sets before any vendd code runs); all measured once both files are settled;
- the per-maker report over 1,000,000 journaled sales takes under 1 s."""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import bench_line
from vendd.commands import Fact
from vendd.ledger import Ledger
from vendd.ledger.ledger import open_readonly
from vendd.ledger.reports import sales_report

ROUNDS, PER_ROUND = 12, 200
MILLION = 1_000_000
MAKERS = ["rosa", "carmen", "lucia", "maria"]


def _sale(i: int) -> Fact:
    return Fact("sale", {"vend": i, "slot": "A1", "product": "Monedero bordado",
                         "maker": "rosa", "price": 350, "payment": "cash", "turns": 1})


def _coin(i: int) -> Fact:
    return Fact("credit", {"device": "coin_acceptor", "amount": 25, "label": "25c",
                           "route": "cashbox", "serial": 12345678, "counter": i % 255 + 1})


def _setup_ledger(path: Path, stock: int, clock=None) -> Ledger:
    ledger = Ledger(path, "America/Guayaquil", **({"clock": clock} if clock else {}))
    facts = [Fact("maker_added", {"maker": m, "name": m.title()}) for m in MAKERS]
    facts += [Fact("slot_configured", {"slot": f"A{i + 1}", "product": f"Producto {i + 1}",
                                       "maker": m, "price": 100 + 50 * i, "capacity": stock,
                                       "by": "bench"}) for i, m in enumerate(MAKERS)]
    facts += [Fact("stock_set", {"slot": f"A{i + 1}", "before": 0, "after": stock,
                                 "reason": "restock", "by": "bench"}) for i in range(4)]
    ledger.append(facts)
    return ledger


def _bare(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, ts TEXT, kind TEXT, fields TEXT, "
                 "hash TEXT)")
    return conn


_PAYLOAD = '{"maker":"rosa","price":350,"product":"Monedero bordado","slot":"A1"}'


def _bare_insert(conn: sqlite3.Connection, n: int) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                 (n, datetime.now(UTC).isoformat(), "sale", _PAYLOAD, "0" * 64))
    conn.execute("COMMIT")


# The statements a sale's and a coin's append run, written out as plain SQL on the ledger's own
# schema with no vendd code around them: the floor that the storage design alone sets.
Statements = tuple[tuple[str, Callable[[int], tuple]], ...]
_SALE_SQL: Statements = (
    ("UPDATE slots SET stock = stock - 1 WHERE id = ?", lambda seq: ("A1",)),
    ("INSERT INTO sales (seq, day, slot, product, maker, price, payment) "
     "VALUES (?, ?, ?, ?, ?, ?, ?)",
     lambda seq: (seq, "2026-12-02", "A1", "Producto 1", "rosa", 350, "cash")),
    ("UPDATE machine SET open_vend = NULL, open_vend_slot = NULL, open_vend_price = NULL, "
     "open_vend_payment = NULL, open_vend_dropped = 0 WHERE id = 1", lambda seq: ()),
)
_COIN_SQL: Statements = (
    ("UPDATE machine SET credit = credit + ?, cash_box = cash_box + ? WHERE id = 1",
     lambda seq: (25, 25)),
)


def _sql_alone(conn: sqlite3.Connection, n: int, projection: Statements) -> None:
    conn.execute("BEGIN IMMEDIATE")
    (seq,) = conn.execute("SELECT seq FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    conn.execute("INSERT INTO journal (seq, ts, kind, fields, hash) VALUES (?, ?, ?, ?, ?)",
                 (seq + 1, datetime.now(UTC).isoformat(), "sale", _PAYLOAD, "0" * 64))
    for sql, args in projection:
        conn.execute(sql, args(seq + 1))
    conn.execute("COMMIT")


def _warm(write: Callable[[int], object], wal: Path) -> None:
    """Write until the file's WAL has been checkpointed and is being reused: the state of a
    ledger after its first minutes. While a WAL still grows, each commit's sync also writes the
    file's new size, which slows it by half; the ledger's five-page commits get past that in
    200 rows and the bare insert's one-page commits in 1,000, so without this the first rounds
    compared a growing bare file with a settled ledger."""
    size, same = -1, 0
    for n in range(-10_000, 0):
        write(n)
        current = wal.stat().st_size
        same = same + 1 if current == size else 0
        if same == 200:
            return
        size = current


def append_ratios(tmp: Path, fact: Callable[[int], Fact] = _sale,
                  sql: Statements = _SALE_SQL) -> tuple[float, float]:
    """(vendd's append, the same SQL alone) each over the bare insert, medians of rounds that
    take turns so all three see the same disk and load."""
    ledger = _setup_ledger(tmp / "ledger.db", stock=100_000)
    alone = _setup_ledger(tmp / "alone.db", stock=100_000)
    bare = _bare(tmp / "bare.db")
    writers = {
        "bare": (lambda n: _bare_insert(bare, n), tmp / "bare.db-wal"),
        "ledger": (lambda n: ledger.append([fact(n)]), tmp / "ledger.db-wal"),
        "alone": (lambda n: _sql_alone(alone.db.conn, n, sql), tmp / "alone.db-wal"),
    }
    for write, wal in writers.values():
        _warm(write, wal)
    times: dict[str, list[float]] = {name: [] for name in writers}
    n = 0
    for _ in range(ROUNDS):
        for name, (write, _wal) in writers.items():
            t0 = time.perf_counter()
            for i in range(n, n + PER_ROUND):
                write(i)
            times[name].append(time.perf_counter() - t0)
        n += PER_ROUND
    ledger.close()
    alone.close()
    bare.close()
    base = times["bare"]
    return (statistics.median(t / b for t, b in zip(times["ledger"], base, strict=True)),
            statistics.median(t / b for t, b in zip(times["alone"], base, strict=True)))


def million_ledger(path: Path | None = None) -> Path:
    """A ledger of 1,000,000 journaled sales over about a year, built once into var/bench and
    reused by every benchmark that reads it."""
    if path is None:
        path = Path("var/bench/million-sales.db")
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    start = datetime(2026, 1, 1, 13, tzinfo=UTC)
    tick = iter(range(10 * MILLION))
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    ledger = _setup_ledger(partial, stock=MILLION + 10,
                           clock=lambda: (start + timedelta(seconds=30 * next(tick))).isoformat())
    ledger.db.conn.execute("PRAGMA synchronous=OFF")
    batch = 20_000
    for first in range(0, MILLION, batch):
        ledger.append([
            Fact("sale", {"vend": i, "slot": f"A{i % 4 + 1}", "product": f"Producto {i % 4 + 1}",
                          "maker": MAKERS[i % 4], "price": 100 + 50 * (i % 4), "payment": "cash",
                          "turns": 1})
            for i in range(first, first + batch)
        ])
    ledger.close()
    partial.rename(path)
    return path


def report_seconds(path: Path) -> float:
    db = open_readonly(path)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        report = sales_report(db, "maker")
        best = min(best, time.perf_counter() - t0)
        assert report.items == MILLION, report.items
    db.close()
    return best


def main() -> None:
    for name, fact, sql in (("", _sale, _SALE_SQL), ("coin_", _coin, _COIN_SQL)):
        with tempfile.TemporaryDirectory() as tmp:
            ratio, floor = append_ratios(Path(tmp), fact, sql)
        print(bench_line(f"journal_append_{name}vs_bare_insert", ratio, "1.5", ratio <= 1.5),
              flush=True)
        print(bench_line(f"journal_{name or 'sale_'}sql_alone_vs_bare_insert", floor, "figure",
                         True), flush=True)
    seconds = report_seconds(million_ledger())
    print(bench_line("report_by_maker_1M_sales_s", seconds, "1", seconds < 1.0), flush=True)


if __name__ == "__main__":
    main()
