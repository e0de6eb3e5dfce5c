"""`vendd verify | report` as a coordinator uses them, and `vendd-sim demo` as the README
promises it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, SIM_CONFIG


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with config/sim.toml, where `vendd-sim demo` ran once."""
    work = tmp_path_factory.mktemp("demo")
    (work / "config").mkdir()
    shutil.copy(SIM_CONFIG, work / "config" / "sim.toml")
    text = (work / "config" / "sim.toml").read_text(encoding="utf-8")
    # No broker in this test: the demo must not need one.
    (work / "config" / "sim.toml").write_text(text.replace("port = 1883", "port = 9"),
                                              encoding="utf-8")
    proc = _run(work, "-m", "simulator.cli", "demo")
    assert proc.returncode == 0, proc.stderr
    (work / "demo.out").write_text(proc.stdout, encoding="utf-8")
    return work


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def _vendd(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(cwd, "-m", "vendd.cli", *args)


def test_demo_prints_the_sales_and_the_report_by_maker(demo_dir: Path) -> None:
    out = (demo_dir / "demo.out").read_text(encoding="utf-8")
    assert "Buyer 1 pays $3.50" in out
    assert "Falla en A3 | Crédito devuelto" in out
    assert "TOTAL                       2  $4.50" in out
    assert "Rosa Quishpe        1  $3.50" in out
    assert "María Chicaiza      0  $0.00" in out  # every maker, sales or not
    assert out.strip().endswith(f"ledger: {demo_dir / 'var' / 'vendd.db'}")


def test_verify_passes_on_the_demo_ledger(demo_dir: Path) -> None:
    proc = _vendd(demo_dir, "verify", "--config", "config/sim.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout and "money in $5.00 = sales $4.50" in proc.stdout


def test_verify_names_the_bad_rows_and_exits_1(demo_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(demo_dir / "var" / "vendd.db", copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER journal_append_only_delete")
    conn.execute("DELETE FROM journal WHERE seq = 20")
    conn.commit()
    conn.close()
    proc = _vendd(demo_dir, "verify", "--config", "config/sim.toml", "--ledger", str(copy))
    assert proc.returncode == 1
    assert f"{copy}: rows 20-20 are missing (deleted?)" in proc.stdout


@pytest.mark.parametrize("by", ["maker", "product", "slot", "day"])
def test_report_formats(demo_dir: Path, by: str) -> None:
    proc = _vendd(demo_dir, "report", "--config", "config/sim.toml", "--by", by,
                  "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["items"] == 2 and data["gross"] == 450 and data["currency"] == "USD"
    assert data["journal"]["first_seq"] == 1 and len(data["journal"]["head"]) == 64
    csv = _vendd(demo_dir, "report", "--config", "config/sim.toml", "--by", by,
                 "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("\ufeff") and csv[0].endswith("items,gross,currency")
    assert len(csv) == 2 + len(data["rows"]) and csv[-1].startswith("TOTAL,")


def test_report_of_a_range_with_no_sales(demo_dir: Path) -> None:
    proc = _vendd(demo_dir, "report", "--config", "config/sim.toml", "--from", "2001-01-01",
                  "--to", "2001-01-31")
    assert proc.returncode == 0 and "TOTAL" in proc.stdout and "$0.00" in proc.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["verify", "--config", "nope.toml"], 2, "nope.toml: no such config file"),
        (["verify", "--config", "config/sim.toml", "--ledger", "missing.db"], 1,
         "vendd: missing.db: no such ledger file"),
        (["report", "--config", "config/sim.toml", "--from", "2026-12-01", "--to",
          "2026-11-01"], 1, "vendd: --from 2026-12-01 is after --to 2026-11-01"),
        (["report", "--config", "config/sim.toml", "--from", "yesterday"], 2,
         "'yesterday' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(demo_dir: Path, args: list[str], code: int,
                                                   message: str) -> None:
    proc = _vendd(demo_dir, *args)
    assert proc.returncode == code
    assert message in proc.stderr and "Traceback" not in proc.stderr
