"""The machine of a chaos run: a private Mosquitto, a coordinator's subscriber, the simulated
cabinet in a long-lived process (`vendd-sim cabinet`), and the daemon (`vendd-sim daemon`) in
processes that are started and SIGKILLed over and over on that same cabinet."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feed_helpers import Broker, Feed

from simulator.rpc import Client
from vendd.ledger.journal import JournalRow
from vendd.ledger.ledger import iter_rows, open_readonly

ROOT = Path(__file__).resolve().parents[2]
SIM_CONFIG = ROOT / "config" / "sim.toml"
PREFIX, MACHINE = "vendd", "quito-01"
TURN_TIME_S = 0.4  # one turn of a spiral
DWELL_S = 0.4  # a powered cam rests this long at home before it turns on (the daemon is slow)
WAIT_S = 20.0  # longest wait for anything the machine should do (a loaded CI box is slow)

# The museum's 2 x 4 matrix, with one GPIO button per slot, coin return and service key.
BUTTONS = """[buttons]
kind = "gpio"
selection = { A1 = 17, A2 = 27, A3 = 22, A4 = 23, B1 = 24, B2 = 25, B3 = 4, B4 = 18 }
cancel_pin = 21
service_key_pin = 7
"""


class ChaosFailure(AssertionError):
    pass


def ledger_exists(db_path: Path) -> bool:
    """Whether a daemon got as far as creating the ledger (a kill during its very first
    start can leave an empty file)."""
    if not db_path.exists():
        return False
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'journal'").fetchone() \
            is not None


def journal(db_path: Path) -> list[JournalRow]:
    if not ledger_exists(db_path):
        return []
    db = open_readonly(db_path)
    try:
        return list(iter_rows(db))
    finally:
        db.close()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ChaosFailure(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.005)


class Machine:
    def __init__(self, folder: Path, feed: bool = True) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.db = folder / "vendd.db"
        self.cabinet_dir = folder / "cabinet"
        self.broker = Broker(folder / "broker", None)
        self.broker.start()
        self.broker_up = True
        self.feed = Feed(self.broker.port, PREFIX, MACHINE) if feed else None
        self.config = self._write_config()
        self._daemon_log = (folder / "daemon.log").open("a")
        self._cabinet_log = (folder / "cabinet.log").open("a")
        self.cabinet_proc = self._start_cabinet()
        self.cab = Client(str(self.cabinet_dir / "cabinet.sock"))
        self.proc: subprocess.Popen[str] | None = None
        self.next: subprocess.Popen[str] | None = None
        self.win: Client | None = None
        self.kills = self.broker_restarts = self.starts = 0

    def _write_config(self) -> Path:
        text = SIM_CONFIG.read_text(encoding="utf-8")
        text = text.replace('path = "var/vendd.db"', f'path = "{self.db}"')
        text = text.replace("port = 1883", f"port = {self.broker.port}\nkeepalive_s = 10")
        text = text.replace('[buttons]\nkind = "virtual"\n', BUTTONS)
        # Buyers pay in coins up to $1: dear products would only make the run longer.
        for dear, cheap in (("1200", "300"), ("900", "250"), ("800", "200"), ("500", "300")):
            text = text.replace(f"price = {dear}\n", f"price = {cheap}\n")
        # A loaded machine is slow to answer; the spiral's own times stay as configured.
        text = text.replace("home_timeout_s = 1.0", "home_timeout_s = 2.0")
        path = self.folder / "chaos.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def _start_cabinet(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "cabinet", "--config", str(self.config),
             "--dir", str(self.cabinet_dir), "--turn-time", str(TURN_TIME_S),
             "--dwell", str(DWELL_S)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
            stderr=self._cabinet_log)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("cabinet ready"):
            raise ChaosFailure(f"the cabinet did not start (see {self.folder / 'cabinet.log'})")
        return proc

    # --- the daemon ------------------------------------------------------------------------

    def _standby(self) -> subprocess.Popen[str]:
        """A daemon process that has loaded its code and waits for a line on stdin: the
        next restart costs the daemon's own start, not Python's imports."""
        return subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "daemon", "--config", str(self.config),
             "--cabinet", str(self.cabinet_dir), "--standby"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            stderr=self._daemon_log)

    def spawn(self) -> None:
        """Start the daemon (the one in standby); it is ready when `wait_ready()` returns."""
        assert self.proc is None
        self.starts += 1
        proc, self.next = self.next or self._standby(), None
        assert proc.stdin is not None and proc.stdout is not None
        if proc.stdout.readline().strip() != "standby":
            raise ChaosFailure(f"the daemon did not load (see {self.folder / 'daemon.log'})")
        proc.stdin.write("go\n")
        proc.stdin.close()
        self.proc = proc
        self.next = self._standby()

    def wait_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            code = self.proc.wait(WAIT_S)
            raise ChaosFailure(f"the daemon did not start (exit {code}, see "
                               f"{self.folder / 'daemon.log'})")
        self.win = Client(str(self.cabinet_dir / "daemon.sock"))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(WAIT_S)
        self._gone()
        self.kills += 1

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._gone()
        if code != 0:
            raise ChaosFailure(f"the daemon exited {code} on SIGTERM")

    def _gone(self) -> None:
        assert self.proc is not None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        if self.win is not None:
            self.win.close()
            self.win = None

    def state(self) -> dict[str, Any]:
        assert self.win is not None
        state: dict[str, Any] = self.win.call("state")
        return state

    def wait_state(self, condition: Callable[[dict[str, Any]], bool], what: str) -> dict:
        def met() -> dict[str, Any] | None:
            state = self.state()
            return state if condition(state) else None

        return wait_until(met, what)

    def wait_idle(self) -> dict[str, Any]:
        return self.wait_state(lambda s: s["vend"] is None and not s["payout"]
                               and s["mode"] != "starting", "the machine to be idle")

    # --- the broker ------------------------------------------------------------------------

    def broker_down(self) -> None:
        if self.broker_up:
            self.broker.stop()
            self.broker_up = False
            self.broker_restarts += 1

    def broker_back(self) -> None:
        if not self.broker_up:
            self.broker.start()
            self.broker_up = True

    def wait_feed(self, timeout: float = 60.0) -> int:
        """Every journal row reached the subscriber, with the ledger's hash. Returns the
        number of rows."""
        assert self.feed is not None
        rows = journal(self.db)
        last = rows[-1].seq if rows else 0
        feed = self.feed
        try:
            wait_until(lambda: feed.has_all(last), "the feed", timeout)
        except ChaosFailure:
            have = set(feed.seqs())
            gap = [s for s in range(1, last + 1) if s not in have]
            raise ChaosFailure(f"rows {gap[:10]} ({len(gap)}) never reached the MQTT "
                               f"subscriber") from None
        with feed.lock:
            seen = {e["seq"]: e["hash"] for e in feed.events}
        wrong = [r.seq for r in rows if seen.get(r.seq, r.hash) != r.hash]
        if wrong:
            raise ChaosFailure(f"rows {wrong[:10]} reached the subscriber with another hash")
        return len(rows)

    def close(self) -> None:
        if self.next is not None:
            self.next.kill()
            self.next.wait(WAIT_S)
            for stream in (self.next.stdin, self.next.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(WAIT_S)
            self._gone()
        self.cab.close()
        self.cabinet_proc.send_signal(signal.SIGTERM)
        try:
            self.cabinet_proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.cabinet_proc.kill()
            self.cabinet_proc.wait(WAIT_S)
        if self.cabinet_proc.stdout is not None:
            self.cabinet_proc.stdout.close()
        if self.feed is not None:
            self.feed.close()
        self.broker.stop()
        self._daemon_log.close()
        self._cabinet_log.close()
