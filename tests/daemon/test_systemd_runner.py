"""`run_service` in a child process (tests/service_child.py) on the sim config with a slow
virtual motor: SIGTERM mid-turn lets the motor finish (bounded), journals the outcome, ends
with the motor off and exit 0; a second signal stops the motor at once. The child is a systemd
service for the occasion: READY=1 and STOPPING=1 arrive on a test notify socket."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from private_broker import Watcher, private_broker
from support import ROOT, sim_config, wait_for

from vendd.ledger.ledger import iter_rows, open_readonly

CHILD = ROOT / "tests" / "daemon" / "service_child.py"


class Child:
    """The service process; its stdout and stderr lines land on queues as they come."""

    def __init__(self, tmp_path: Path, dispenser: dict[str, Any],
                 mqtt: dict[str, Any] | None = None) -> None:
        sections: dict[str, Any] = {"dispenser": {"kind": "virtual", **dispenser}}
        if mqtt is not None:
            sections["mqtt"] = mqtt
        config = sim_config(tmp_path, **sections)
        self.ledger = config.ledger.path
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"vendd-test-{uuid.uuid4().hex}"
        self.notify.bind("\0" + name)
        path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
        env = {**os.environ, "NOTIFY_SOCKET": "@" + name, "PYTHONPATH": path}
        env.pop("INVOCATION_ID", None)
        env.pop("JOURNAL_STREAM", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(config.model_dump(mode="json"))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str] | None, q: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            q.put(line.rstrip("\n"))

    def expect(self, q: queue.Queue[str], text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line with {text!r}; stderr so far: {self.stderr}")
            try:
                line = q.get(timeout=left)
            except queue.Empty:
                continue
            if q is self.err:
                self.stderr.append(line)
            if text in line:
                return line

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 20.0) -> tuple[int, list[str]]:
        rc = self.proc.wait(timeout)
        out = []
        while not self.out.empty():
            out.append(self.out.get())
        return rc, out

    def datagrams(self) -> list[str]:
        self.notify.setblocking(False)
        got = []
        while True:
            try:
                got.append(self.notify.recv(4096).decode())
            except BlockingIOError:
                return got

    def journal(self) -> list[tuple[str, dict[str, Any]]]:
        db = open_readonly(self.ledger)
        try:
            return [(r.kind, r.fields) for r in iter_rows(db)]
        finally:
            db.conn.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.notify.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    children: list[Child] = []

    def start(mqtt: dict[str, Any] | None = None, **dispenser: Any) -> Child:
        child = Child(tmp_path, dispenser, mqtt)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


def kinds(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [k for k, _ in rows]


def test_sigterm_mid_turn_lets_the_motor_finish(spawn):
    child = spawn(turn_time_s=1.0)  # well inside the grace (2 x (1 + 4 + 0.5) s by default)
    child.expect(child.out, "MOTOR ON")
    child.signal(signal.SIGTERM)
    child.expect(child.err, "letting the motor of A3 finish")
    rc, out = child.finish()
    assert rc == 0, child.stderr
    assert "MOTOR AFTER None" in out
    rows = child.journal()
    assert kinds(rows).index("vend_intent") < kinds(rows).index("sale")
    sale = next(f for k, f in rows if k == "sale")
    assert sale["slot"] == "A3" and sale["price"] == 150
    assert "vend_failed" not in kinds(rows)
    grams = child.datagrams()
    ready = [i for i, g in enumerate(grams) if g.startswith("READY=1\nSTATUS=idle")]
    stopping = [i for i, g in enumerate(grams) if g.startswith("STOPPING=1")]
    assert len(ready) == 1 and len(stopping) == 1 and ready[0] < stopping[0], grams
    # `systemctl status` showed the vend. The loop sends STATUS= on its next turn, which on a
    # busy machine can come after the signal handler's STOPPING=1: no order between them.
    assert any("vending A3" in g for g in grams[ready[0]:]), grams


def test_motor_still_turning_after_the_grace_is_stopped_and_journaled(spawn):
    # grace = 1 turn x (0.2 + 0.3 + 0) s = 0.5 s; the motor would take 60 s
    child = spawn(turn_time_s=60.0, turns=1, leave_home_timeout_s=0.2, home_timeout_s=0.3,
                  drop_wait_s=0.0)
    child.expect(child.out, "MOTOR ON")
    child.signal(signal.SIGTERM)
    rc, out = child.finish()  # waits at most 20 s for a motor that would turn for 60
    assert rc == 0, child.stderr
    assert "MOTOR AFTER None" in out
    failed = [f for k, f in child.journal() if k == "vend_failed"]
    assert failed and failed[0]["outcome"] == "interrupted" and failed[0]["slot"] == "A3"


def test_second_signal_stops_the_motor_at_once(spawn):
    child = spawn(turn_time_s=60.0)  # grace 11 s by default: the second signal cuts it short
    child.expect(child.out, "MOTOR ON")
    child.signal(signal.SIGTERM)
    child.expect(child.err, "letting the motor of A3 finish")
    child.signal(signal.SIGINT)
    child.expect(child.err, "stopped at once (second signal)")
    rc, out = child.finish()
    assert rc == 0, child.stderr
    assert "MOTOR AFTER None" in out
    failed = [f for k, f in child.journal() if k == "vend_failed"]
    assert failed and failed[0]["outcome"] == "interrupted"


def test_sigterm_publishes_offline(spawn, tmp_path):
    with private_broker(tmp_path / "broker") as port:
        watcher = Watcher(port, "vendd/quito-01/status")
        try:
            child = spawn(mqtt={"enabled": True, "host": "127.0.0.1", "port": port},
                          turn_time_s=0.5)
            child.expect(child.out, "MOTOR ON")
            wait_for(lambda: "online" in watcher.seen(), what="status online")
            child.signal(signal.SIGTERM)
            rc, out = child.finish()
            assert rc == 0, child.stderr
            assert "MOTOR AFTER None" in out
            wait_for(lambda: watcher.seen()[-1:] == ["offline"], what="status offline")
            assert "sale" in kinds(child.journal())
        finally:
            watcher.close()
