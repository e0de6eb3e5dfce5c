"""The ledger is the truth at start: every projection table edited by hand (the sqlite3 shell's
UPDATE, INSERT, DELETE; the journal itself refuses UPDATE and DELETE) is named by `vendd verify`
(table, row, column, stored and journal values) and refused by `vendd run` with one line and
exit 78, before any device takes money. An unreadable journal row is named by its seq."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, SIM_CONFIG, restock_all, wait_for

from vendd.cli import main
from vendd.config import load_config
from vendd.daemon.app import Daemon
from vendd.daemon.systemd import EXIT_CONFIG
from vendd.errors import LedgerIntegrityError
from vendd.events import DeviceFault
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor
from vendd.ledger.schema import PROJECTION_TABLES

DEVICES = """
[coin_acceptor]
kind = "virtual"
coins = [{ value = 50, label = "50c" }, { value = 100, label = "$1" }]

[dispenser]
kind = "virtual"
turn_time_s = 0.0

[buttons]
kind = "virtual"

[display]
kind = "virtual"

[mqtt]
enabled = false

[ledger]
path = "{ledger}"
"""

# One hand edit per projection table, and what `verify` and `vendd run` must say about it.
EDITS = {
    "machine": ("UPDATE machine SET credit = 2000",
                "table machine, row id=1, column credit: stored 2000, the journal says 50"),
    "sales": ("UPDATE sales SET maker = 'carmen'",
              "column maker: stored 'carmen', the journal says 'lucia'"),
    "slots": ("UPDATE slots SET stock = stock + 1 WHERE id = 'A3'",
              "table slots, row id='A3', column stock: stored 10, the journal says 9"),
    "makers": ("INSERT INTO makers (id, name) VALUES ('eva', 'Eva')",
               "table makers, row id='eva': not in the journal"),
    "products": ("UPDATE products SET name = 'Llavero de oro' WHERE name = 'Llavero de lana'",
                 "column name: stored 'Llavero de oro', the journal says 'Llavero de lana'"),
    "device_faults": ("DELETE FROM device_faults",
                      "table device_faults, row device='coin': missing"),
}


def test_every_projection_table_has_its_edit() -> None:
    assert set(EDITS) == set(PROJECTION_TABLES)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger a daemon wrote: restocked, one sale with change left as credit, a coin
    acceptor fault still open."""
    work = tmp_path_factory.mktemp("pristine")
    config = _config(work)
    daemon = Daemon(load_config(config))
    daemon.start()
    try:
        daemon.wait_ready()
        restock_all(daemon)
        acceptor = daemon.devices.acceptors[0]
        buttons = daemon.devices.inputs[0]
        assert isinstance(acceptor, VirtualCoinAcceptor) and isinstance(buttons, VirtualButtons)
        controller = daemon.controller
        assert controller is not None
        wait_for(lambda: acceptor.accepting, what="the acceptor to open")
        assert acceptor.insert(100) and acceptor.insert(100)
        buttons.press("A3")  # $1.50, $0.50 stays as credit
        wait_for(lambda: controller.wait_until(
            lambda s: s.vend is None and s.slots["A3"].stock == 9 and s.credit == 50, 0.1),
            what="the sale")
        controller.post(DeviceFault("coin", "sensor_dirty", "clean the coin path"))
        wait_for(lambda: controller.wait_until(lambda s: "coin" in s.faults, 0.1),
                 what="the fault")
    finally:
        daemon.stop()
    return work / "vendd.db"


def _config(work: Path) -> Path:
    text = SIM_CONFIG.read_text(encoding="utf-8")
    text = text[: text.index("# A ccTalk acceptor simulated")]
    # sim.toml's PINs are the example's public ones, which `vendd run` refuses.
    text = "\n".join(line for line in text.splitlines() if not line.startswith("pin = "))
    path = work / "vendd.toml"
    path.write_text(text + DEVICES.replace("{ledger}", str(work / "vendd.db")), encoding="utf-8")
    return path


@pytest.fixture
def work(tmp_path: Path, pristine: Path) -> Path:
    shutil.copy(pristine, tmp_path / "vendd.db")
    _config(tmp_path)
    return tmp_path


def _edit(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _journal_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
    finally:
        conn.close()


def _vendd_run(work: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("INVOCATION_ID", "JOURNAL_STREAM")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "vendd.cli", "run", "--config", str(work / "vendd.toml")],
        capture_output=True, text=True, timeout=60, env=env, check=False)


def test_an_untouched_ledger_verifies(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--config", str(work / "vendd.toml")]) == 0
    assert ": OK," in capsys.readouterr().out


@pytest.mark.parametrize("table", list(EDITS))
def test_verify_names_the_edited_row(table: str, work: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    sql, expected = EDITS[table]
    _edit(work / "vendd.db", sql)
    assert main(["verify", "--config", str(work / "vendd.toml")]) == 1
    out = capsys.readouterr().out
    assert expected in out, out
    assert f"table {table}, row " in out


@pytest.mark.parametrize("table", list(EDITS))
def test_vendd_run_refuses_an_edited_table(table: str, work: Path) -> None:
    sql, expected = EDITS[table]
    db = work / "vendd.db"
    _edit(db, sql)
    rows = _journal_rows(db)
    proc = _vendd_run(work)
    assert proc.returncode == EXIT_CONFIG, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "refusing to start: the ledger does not match its journal" in lines[0]
    assert expected in lines[0]
    assert _journal_rows(db) == rows  # refused before anything was journaled


def test_the_daemon_checks_before_any_device_starts(work: Path) -> None:
    _edit(work / "vendd.db", EDITS["machine"][0])
    daemon = Daemon(load_config(work / "vendd.toml"))
    acceptor = daemon.devices.acceptors[0]
    assert isinstance(acceptor, VirtualCoinAcceptor)
    with pytest.raises(LedgerIntegrityError, match="column credit: stored 2000"):
        daemon.start()
    assert daemon.controller is None and daemon.ledger is None
    with pytest.raises(RuntimeError, match="before start"):
        acceptor.insert(100)  # never started: it cannot take a coin


def test_an_unreadable_journal_row_is_named_by_its_seq(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = work / "vendd.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_append_only_update")
    (seq,) = conn.execute("SELECT seq FROM journal WHERE kind = 'sale'").fetchone()
    conn.execute("UPDATE journal SET fields = '{\"slot\": \"A3\", ' WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    assert main(["verify", "--config", str(work / "vendd.toml")]) == 1
    out = capsys.readouterr().out
    assert f"row {seq}: sale: its fields are not readable JSON" in out
    assert "Traceback" not in out
    proc = _vendd_run(work)
    assert proc.returncode == EXIT_CONFIG and "Traceback" not in proc.stderr
    assert f"row {seq}: sale: its fields are not readable JSON" in proc.stderr


def test_a_report_over_an_unreadable_row_says_which_row(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = work / "vendd.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_append_only_update")
    (seq,) = conn.execute("SELECT MAX(seq) FROM journal WHERE kind = 'stock_set'").fetchone()
    conn.execute("UPDATE journal SET fields = 'not json' WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    assert main(["report", "stock", "--config", str(work / "vendd.toml")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"vendd: journal row {seq} (stock_set): its fields are not readable "
                           f"JSON (Expecting value: line 1 column 1 (char 0))")


def test_an_untouched_ledger_starts(work: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("INVOCATION_ID", "JOURNAL_STREAM")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vendd.cli", "run", "--config", str(work / "vendd.toml")],
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "vendd ready" in line:
                break
        assert any("vendd ready" in line for line in seen), seen
        assert "credit $0.50" in seen[-1]  # the credit the journal holds
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _start_and_stop(work: Path) -> None:
    daemon = Daemon(load_config(work / "vendd.toml"))
    daemon.start()
    try:
        daemon.wait_ready()
    finally:
        daemon.stop()


def test_a_sale_edited_before_the_last_checkpoint_is_refused(work: Path) -> None:
    """Each start journals a checkpoint and the next one replays only what follows it: an
    older sale is still checked (by the checkpoint's digest of the sales table)."""
    db = work / "vendd.db"
    _start_and_stop(work)  # a checkpoint now covers the sale
    conn = sqlite3.connect(db)
    (cp_seq, fields) = conn.execute(
        "SELECT seq, fields FROM journal WHERE kind = 'checkpoint' ORDER BY seq DESC").fetchone()
    (sale_seq,) = conn.execute("SELECT seq FROM sales").fetchone()
    conn.close()
    assert sale_seq < cp_seq and '"sales_rows":1' in fields
    _start_and_stop(work)  # untouched: it starts
    _edit(db, EDITS["sales"][0])
    with pytest.raises(LedgerIntegrityError) as refused:
        Daemon(load_config(work / "vendd.toml")).start()
    assert (f"table sales, row seq={sale_seq}, column maker: stored 'carmen', the journal "
            f"says 'lucia'") in str(refused.value)


def test_a_forged_checkpoint_is_named_by_verify(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint row added by hand (correctly chained) that claims a credit the journal
    never gave: the full replay checks every checkpoint against the rows before it."""
    import json

    from vendd.ledger.checkpoint import checkpoint_fact
    from vendd.ledger.journal import canonical, chain_hash

    db = work / "vendd.db"
    conn = sqlite3.connect(db, isolation_level=None)
    fields = checkpoint_fact(conn).fields
    tables = json.loads(fields["tables"])
    credit = tables["machine"]["columns"].index("credit")
    tables["machine"]["rows"][0][credit] = 2000
    fields = fields | {"tables": json.dumps(tables)}
    seq, prev = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC").fetchone()
    ts = "2026-12-01T20:00:00.000000+00:00"
    body = canonical(fields)
    conn.execute("INSERT INTO journal VALUES (?, ?, 'checkpoint', ?, ?)",
                 (seq + 1, ts, body, chain_hash(prev, seq + 1, ts, "checkpoint", body)))
    conn.execute("UPDATE machine SET credit = 2000")
    conn.close()
    assert main(["verify", "--config", str(work / "vendd.toml")]) == 1
    out = capsys.readouterr().out
    assert f"row {seq + 1}: checkpoint does not match the rows before it (table machine)" in out
    assert "table machine, row id=1, column credit: stored 2000, the journal says 50" in out
