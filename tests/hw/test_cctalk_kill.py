"""SIGKILL the daemon while a coin is still in the ccTalk acceptor's buffer. The acceptor (the
simulated peer, in this process) outlives the daemon as real hardware does; the next start
credits exactly the coins the journal does not hold, and a later start none again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import sim_config, wait_for

from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.hw.cctalk import codec
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.ledger.verify import verify

HERE = Path(__file__).resolve().parent
COINS = {1: (5, "5c"), 2: (10, "10c"), 3: (25, "25c")}


def spawn(config_file: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(HERE / "daemon_child.py"), str(config_file)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"the daemon did not start: {line!r}"
    return proc


def credits(db_path: Path) -> list[tuple[int, int, int]]:
    db = open_readonly(db_path)
    try:
        return [(r.fields["amount"], r.fields["serial"], r.fields["counter"])
                for r in iter_rows(db) if r.kind == "credit"]
    finally:
        db.close()


@pytest.fixture
def cabinet(tmp_path: Path) -> Iterator[tuple[SimCctalkAcceptor, Path, list]]:
    peer = SimCctalkAcceptor(COINS, coin_gap_s=0.0).start()
    config = sim_config(tmp_path, coin_acceptor={
        "kind": "cctalk", "port": peer.port, "poll_interval_ms": 100,
        "coins": [{"value": v, "label": lbl, "position": p} for p, (v, lbl) in COINS.items()]})
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config.model_dump(mode="json")))
    procs: list[subprocess.Popen[str]] = []
    yield peer, config_file, procs
    for proc in procs:  # a failed test never leaves a daemon running
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    peer.stop()


def test_coin_in_the_buffer_at_a_kill_is_credited_once_at_the_next_start(cabinet, tmp_path):
    peer, config_file, procs = cabinet
    db_path = tmp_path / "vendd.db"
    serial = peer.serial_number

    procs.append(daemon := spawn(config_file))
    wait_for(lambda: peer.accepting, what="the acceptor open")
    assert peer.insert(3)
    wait_for(lambda: credits(db_path) == [(25, serial, 1)], what="the first coin journaled")

    # The acceptor goes deaf for a moment, takes a coin the daemon cannot read, and the daemon
    # is killed: that coin is in the acceptor's buffer and nowhere in the journal.
    peer.silence(10**6)
    heard = len(peer.requests)
    wait_for(lambda: len(peer.requests) > heard, what="a request left unanswered")
    assert peer.insert(2)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    peer.heal()
    assert credits(db_path) == [(25, serial, 1)]
    assert peer.insert(1)  # nobody inhibited the acceptor: a buyer's coin while it is down

    procs.append(daemon := spawn(config_file))
    wait_for(lambda: len(credits(db_path)) == 3, what="the two buffered coins")
    assert credits(db_path) == [(25, serial, 1), (10, serial, 2), (5, serial, 3)]

    # Killed again with everything journaled: the next start credits nothing twice.
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.wait(10)
    procs.append(daemon := spawn(config_file))
    reads = peer.requests.count(codec.READ_CREDIT)
    wait_for(lambda: peer.requests.count(codec.READ_CREDIT) > reads + 5, what="polls")
    assert credits(db_path) == [(25, serial, 1), (10, serial, 2), (5, serial, 3)]
    daemon.terminate()
    assert daemon.wait(10) == 0
    report = verify(open_readonly(db_path), "America/Guayaquil")
    assert report.ok, report.problems
    assert report.credit == 40
