"""SIGKILL `vendd-sim run` at random moments during scripted sales, restart it on the same
ledger, and hold the ledger against what physically happened in the cabinet."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

from support import SIM_CONFIG, wait_for

from simulator.sim import Tally
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.ledger.verify import verify

KILLS = 20


def _config(tmp_path: Path) -> Path:
    text = SIM_CONFIG.read_text(encoding="utf-8")
    text = text.replace('path = "var/vendd.db"', f'path = "{tmp_path / "vendd.db"}"')
    text = text.replace("[mqtt]\nenabled = true", "[mqtt]\nenabled = false")
    path = tmp_path / "sim.toml"
    path.write_text(text, encoding="utf-8")
    tomllib.loads(text)
    return path


def _journal(db_path: Path) -> list:
    db = open_readonly(db_path)
    try:
        return list(iter_rows(db))
    finally:
        db.close()


def _start(config: Path, tally: Path, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", "--config", str(config),
         "--traffic", str(seed), "--tally", str(tally), "--turn-time", "0.03"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _kill_rounds(config: Path, tally: Path, db_path: Path,
                 running: list[subprocess.Popen[str]]) -> None:
    rng = random.Random(20261128)
    credit_before_kill: int | None = None
    for round_ in range(KILLS):
        proc = _start(config, tally, seed=round_)
        running.append(proc)
        assert proc.stdout is not None
        ready = proc.stdout.readline().strip()
        assert ready.startswith("ready"), proc.stderr.read() if proc.stderr else ready
        if credit_before_kill is not None:
            # After a restart the credit is what the journal held: nothing lost or invented.
            assert ready == f"ready credit={credit_before_kill}"
        target = len(_journal(db_path)) + rng.randint(2, 25)
        wait_for(lambda t=target: len(_journal(db_path)) > t, timeout=20, what="sales")
        time.sleep(rng.uniform(0, 0.05))  # a random moment inside whatever is under way
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        report = verify(open_readonly(db_path), "America/Guayaquil")
        assert report.ok, f"round {round_}: {report.problems}"
        # An interrupted vend is restored to the buyer at the next start.
        credit_before_kill = report.credit + report.money.held_in_vend


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    config, tally, db_path = _config(tmp_path), tmp_path / "tally.jsonl", tmp_path / "vendd.db"
    running: list[subprocess.Popen[str]] = []
    try:
        _kill_rounds(config, tally, db_path, running)
    finally:
        for proc in running:  # a failed round must not leave a daemon selling on its own
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    rows = _journal(db_path)
    kinds = Counter(r.kind for r in rows)
    assert kinds["started"] == KILLS
    assert kinds["sale"] > KILLS, kinds

    # No sale counted twice: each vend has at most one outcome.
    outcomes = Counter(r.fields["vend"] for r in rows if r.kind in ("sale", "vend_failed"))
    assert all(n == 1 for n in outcomes.values())

    # The cabinet's physical tally against the ledger.
    coins, drops = Tally.read(tally)
    # Every coin that went in is credited once, the one still in the acceptor's buffer at a
    # kill too (at the next start): no allowance for a coin in flight.
    credited = [r.fields["amount"] for r in rows if r.kind == "credit"]
    assert credited == coins, "a coin lost, credited twice, or credited that never went in"
    sales = [r for r in rows if r.kind == "sale"]
    interrupted = [r for r in rows if r.kind == "vend_failed"
                   and r.fields["outcome"] == "interrupted"]
    assert len(sales) <= len(drops) <= len(sales) + len(interrupted)
    assert Counter(r.fields["slot"] for r in sales) <= Counter(drops)
