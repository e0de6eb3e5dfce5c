"""Accounts benchmark (issue 9): the monthly statement by maker, with its split and money
flow, over a ledger of 1,000,000 journaled sales, under 1 s."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from bench.bench_ledger import million_ledger
from bench.common import bench_line
from vendd.config import SharesConfig
from vendd.ledger.ledger import open_readonly
from vendd.ledger.statements import Period, statement

MONTH = Period(date(2026, 3, 1), date(2026, 3, 31), "month")


def statement_seconds(path: Path) -> float:
    db = open_readonly(path)
    best = float("inf")
    try:
        for _ in range(3):
            t0 = time.perf_counter()
            st = statement(db, MONTH, SharesConfig(), "America/Guayaquil", by="maker")
            best = min(best, time.perf_counter() - t0)
            assert st.report.items > 80_000 and st.total_split.total == st.report.gross
    finally:
        db.close()
    return best


def main() -> None:
    seconds = statement_seconds(million_ledger())
    print(bench_line("monthly_statement_1M_sales_s", seconds, "1", seconds < 1.0), flush=True)


if __name__ == "__main__":
    main()
