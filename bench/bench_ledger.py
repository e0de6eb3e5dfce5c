"""Ledger benchmarks (core issue):
- appending a sale costs at most 1.5x a bare sqlite3 INSERT + COMMIT with the same pragmas;
- so does appending a coin's credit with its device fields (serial number, event counter);
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

ROUNDS, PER_ROUND = 7, 300
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


def append_ratio(tmp: Path, fact: Callable[[int], Fact] = _sale) -> float:
    ledger = _setup_ledger(tmp / "ledger.db", stock=ROUNDS * PER_ROUND + 10)
    bare = _bare(tmp / "bare.db")
    payload = '{"maker":"rosa","price":350,"product":"Monedero bordado","slot":"A1"}'
    ratios, n = [], 0
    for _ in range(ROUNDS):  # interleaved, so both see the same disk and load
        t0 = time.perf_counter()
        for _ in range(PER_ROUND):
            n += 1
            bare.execute("BEGIN")
            bare.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                         (n, datetime.now(UTC).isoformat(), "sale", payload, "0" * 64))
            bare.execute("COMMIT")
        t1 = time.perf_counter()
        for _ in range(PER_ROUND):
            ledger.append([fact(n)])
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    ledger.close()
    return statistics.median(ratios)


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
    with tempfile.TemporaryDirectory() as tmp:
        ratio = append_ratio(Path(tmp))
    print(bench_line("journal_append_vs_bare_insert", ratio, "1.5", ratio <= 1.5), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ratio = append_ratio(Path(tmp), _coin)
    print(bench_line("journal_append_coin_vs_bare_insert", ratio, "1.5", ratio <= 1.5),
          flush=True)
    seconds = report_seconds(million_ledger())
    print(bench_line("report_by_maker_1M_sales_s", seconds, "1", seconds < 1.0), flush=True)


if __name__ == "__main__":
    main()
