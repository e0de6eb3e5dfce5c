"""The daemon loads only what it uses: `vendd run` on the simulated machine, once it can sell,
has not imported numpy, pandas or matplotlib (the charts extra installs them; they cost the Pi
tens of MB of memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import ROOT, sim_config

CHILD = """
import json, sys
import vendd.cli  # the entry point's own imports
from vendd.config import Config
from vendd.daemon.systemd import run_service

def on_ready(daemon):
    heavy = sorted(m for m in ("numpy", "pandas", "matplotlib") if m in sys.modules)
    print("HEAVY", json.dumps(heavy), flush=True)
    import os, signal
    os.kill(os.getpid(), signal.SIGTERM)

config = Config(**json.loads(sys.argv[1]))
sys.exit(run_service(config, "warning", on_ready=on_ready))
"""


def test_vendd_run_imports_no_numpy_pandas_or_matplotlib(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401  # installed here, so the check below can fail

    config = sim_config(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config.model_dump(mode="json"))],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY ")]
    assert lines, proc.stderr
    assert json.loads(lines[0].removeprefix("HEAVY ")) == []
    assert proc.returncode == 0, proc.stderr


def test_charts_still_get_numpy_after_the_ledger_is_loaded() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import vendd.ledger.ledger, numpy; print(numpy.int64(3) + 1)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.stdout.strip() == "4", proc.stderr
