"""`vendd hub ...` as an operator meets it: one-line errors, the systemd unit, `make hub-demo`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_helpers import hub_toml, vendd
from support import ROOT

UNIT = ROOT / "systemd" / "vendd-hub.service"
EXEC = "/opt/vendd/venv/bin/vendd"


def verify(path: Path) -> tuple[int, list[str]]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: install systemd (CI: .ci/run does)")
    proc = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    # Only what concerns our unit: a container may warn about units of its own.
    return proc.returncode, [ln for ln in (proc.stdout + proc.stderr).splitlines()
                             if "vendd" in ln]


def test_the_hub_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    stub = tmp_path / "vendd"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(f"ExecStart={EXEC} hub run ") == 1
    copy = tmp_path / "vendd-hub.service"
    copy.write_text(text.replace(f"ExecStart={EXEC} ", f"ExecStart={stub} "))
    code, lines = verify(copy)
    assert code == 0 and lines == [], lines


def test_errors_are_one_line(tmp_path: Path, store_url: str) -> None:
    missing = vendd("hub", "status", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and missing.stderr.strip().endswith("no such config file")
    config = hub_toml(tmp_path / "hub", 1, store_url)
    empty = vendd("hub", "report", "--config", str(config))
    assert empty.returncode == 1 and "holds no verified rows yet" in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
    nope = vendd("hub", "export", "--config", str(config), "--machine", "nadie", "--out",
                 str(tmp_path / "x.jsonl"))
    assert nope.returncode == 1 and "no rows of 'nadie'" in nope.stderr
    status = vendd("hub", "status", "--config", str(config))
    assert status.returncode == 0 and "Machines (0)" in status.stdout
    broken = hub_toml(tmp_path / "bad", 1, "postgresql://nobody@127.0.0.1:1/none")
    down = vendd("hub", "status", "--config", str(broken))
    assert down.returncode == 1 and "cannot open the hub's database" in down.stderr
    assert "Traceback" not in down.stderr and len(down.stderr.strip().splitlines()) == 1


def test_hub_demo_runs_three_machines_and_prints_the_hub(tmp_path: Path) -> None:
    # The demo's machine that goes offline for a while stays (tests/hub/alerts/test_demo.py).
    proc = subprocess.run([sys.executable, "-m", "simulator.hub_demo", "--until", "40",
                           "--seconds", "150", "--offline-after", "600",
                           "--folder", str(tmp_path / "demo")], cwd=ROOT,
                          capture_output=True, text=True, timeout=200, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "hub: http://127.0.0.1:" in out and "Machines (3)" in out
    for machine in ("quito-01", "quito-02", "cuenca-01"):
        line = next(ln for ln in out.splitlines() if ln.startswith(machine + " "))
        assert int(line.split()[4]) >= 40 and line.rstrip().endswith("ok"), line
