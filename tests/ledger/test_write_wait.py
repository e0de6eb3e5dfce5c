"""A journal write waits out another writer that holds the file longer than a moment (the
relay storing its position, `vendd export-dex --reset`, on a disk that stalls under load)
instead of failing, which stops the machine. Another process holds the write lock here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import sell_monedero, stocked_ledger

from vendd.ledger.ledger import WRITE_WAIT_S

HOLD_S = 7.0  # longer than SQLite's usual 5 s, well inside the ledger's wait
HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_a_sale_waits_for_another_writer_and_is_journaled(tmp_path: Path) -> None:
    assert HOLD_S < WRITE_WAIT_S
    path = tmp_path / "vendd.db"
    ledger = stocked_ledger(path, 5)
    try:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(HOLD_S)],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        sell_monedero(ledger, 1, [350])  # waits for the holder, then journals
        assert holder.wait(30) == 0
        holder.stdout.close()
        (stock,) = [s.stock for s in ledger.slots() if s.id == "A1"]
        assert stock == 4
        assert ledger.machine().cash_box == 350
    finally:
        ledger.close()
