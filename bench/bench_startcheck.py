"""Start-up check benchmark (the ledger is the truth at start):
- `start_check_1M_sales_s`: the daemon's check before it takes money (every stored table
  against the journal, from the checkpoint the previous start wrote) on a ledger of 1,000,000
  sales. Goal: under 10 s here, so a Raspberry Pi starts well inside systemd's 60 s.
- `start_check_vs_sales_scan`: the same as a ratio of a bare read of the sales table measured
  in the same run (the check reads every sale once and hashes it). Goal: at most 4."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.bench_ledger import million_ledger
from bench.common import bench_line
from vendd.ledger import Ledger
from vendd.ledger.checkpoint import checkpoint_fact
from vendd.ledger.startcheck import check_at_start


def _bare_scan(path: Path) -> float:
    conn = sqlite3.connect(path)
    t0 = time.perf_counter()
    for _ in conn.execute("SELECT seq, day, slot, product, maker, price, payment FROM sales "
                          "ORDER BY seq"):
        pass
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        shutil.copy(million_ledger(), path)
        ledger = Ledger(path, "America/Guayaquil")
        ledger.append([checkpoint_fact(ledger.db.conn)])  # what the last start left
        best, bare = float("inf"), float("inf")
        for _ in range(2):  # interleaved with the baseline: both see the same load
            bare = min(bare, _bare_scan(path))
            t0 = time.perf_counter()
            digest = check_at_start(ledger.db, ledger.tz)
            best = min(best, time.perf_counter() - t0)
            assert digest.rows == 1_000_000, digest.rows
        ledger.close()
    print(bench_line("start_check_1M_sales_s", best, "<10", best < 10), flush=True)
    ratio = best / bare
    print(bench_line("start_check_vs_sales_scan", ratio, "<=4", ratio <= 4), flush=True)


if __name__ == "__main__":
    main()
