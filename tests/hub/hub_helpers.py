"""Test tools for the hub: a throwaway PostgreSQL cluster, simulated machines with traffic in
child processes (`vendd-sim run --traffic`), the hub as a child process (`vendd hub ...`) to
kill -9, and checks of the replica against each machine's own ledger."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import ROOT, SIM_CONFIG, wait_for

from vendd.cli import main
from vendd.ledger.db import connect

PREFIX = "coop"


# --- simulated machines --------------------------------------------------------------------


class SimMachine:
    """`vendd-sim run --traffic SEED` with its own ledger, under machine id `id`."""

    def __init__(self, folder: Path, machine_id: str, port: int, *, replay: bool = True,
                 ) -> None:
        self.id = machine_id
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ledger = folder / "vendd.db"
        self.config = folder / "sim.toml"
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.write_config(replay)

    def write_config(self, replay: bool) -> None:
        text = SIM_CONFIG.read_text(encoding="utf-8")
        text = text.replace('id = "quito-01"', f'id = "{self.id}"')
        text = text.replace('path = "var/vendd.db"', f'path = "{self.ledger}"')
        text = text.replace("port = 1883", f'port = {self.port}\nprefix = "{PREFIX}"\n'
                                           f"keepalive_s = 10")
        text = text.replace("replay = true", f"replay = {'true' if replay else 'false'}")
        self.config.write_text(text, encoding="utf-8")

    def start(self, seed: int | None) -> None:
        args = [sys.executable, "-m", "simulator.cli", "run", "--config", str(self.config),
                "--turn-time", "0.05"]
        if seed is not None:
            args += ["--traffic", str(seed)]
        log = (self.folder / "sim.log").open("a")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
                                     text=True)
        log.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("ready"), f"{self.id} did not start: {line!r}"

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
        self.proc = None

    def rows(self) -> list[tuple[int, str, str, str, str]]:
        db = connect(self.ledger, readonly=True)
        try:
            return [tuple(r) for r in db.conn.execute(
                "SELECT seq, ts, kind, fields, hash FROM journal ORDER BY seq")]
        finally:
            db.close()

    def head(self) -> int:
        if not self.ledger.exists():
            return 0
        db = connect(self.ledger, readonly=True)
        try:
            return int(db.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal")
                       .fetchone()[0])
        finally:
            db.close()


# --- the hub -------------------------------------------------------------------------------


def hub_toml(folder: Path, port: int, url: str, **mqtt: Any) -> Path:
    """A hub config for the test broker; `mqtt` adds options to [mqtt]."""
    folder.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in mqtt.items())
    text = (f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nprefix = "{PREFIX}"\n'
            f'client_id = "hub-{uuid.uuid4().hex[:6]}"\nkeepalive_s = 5\n{extra}'
            f'\n[store]\nurl = "{url}"\nreplicas = "{folder / "replicas"}"\n'
            f"\n[gaps]\ngrace_s = 0.5\nretry_min_s = 0.5\nretry_max_s = 2.0\n"
            f'\n[web]\nhost = "127.0.0.1"\nport = 0\n'
            f'\n[accounts]\ntimezone = "America/Guayaquil"\n')
    path = folder / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


class HubProc:
    """`vendd hub ingest|run --config FILE` in a child process."""

    def __init__(self, config: Path, command: str = "ingest", worker: str | None = None,
                 ) -> None:
        self.config = config
        self.command = command
        self.worker = worker
        self.proc: subprocess.Popen[str] | None = None
        self.log = config.parent / f"hub-{worker or command}.log"
        self.address: str | None = None

    def start(self) -> None:
        args = [sys.executable, "-m", "vendd.cli", "hub", self.command, "--config",
                str(self.config)]
        if self.worker:
            args += ["--worker", self.worker]
        log = self.log.open("a")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, f"the hub did not start (see {self.log}):\n{self.log.read_text()}"
            if " at http" in line:
                self.address = line.rsplit(" at ", 1)[1].strip()
            if line.startswith("hub: following"):
                return

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
        self.proc = None


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def vendd(*args: str) -> Ran:
    """`vendd ARGS` in this process (a command's import costs more than its work here)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Ran(code, out.getvalue(), err.getvalue())


def hub_status(config: Path) -> dict[str, Any]:
    proc = vendd("hub", "status", "--config", str(config), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_replicated(store: Any, machines: list[SimMachine], timeout: float = 90) -> None:
    """Until the hub verified every row each machine journaled."""
    def done() -> bool:
        return all((m_ := store.machine(m.id)) is not None and m_.head_seq == m.head()
                   for m in machines)

    wait_for(done, timeout, "the hub to verify every machine's rows")


def assert_replica_is_the_ledger(store: Any, machine: SimMachine) -> None:
    """Every row of the machine's ledger, once, with its own seq, time, fields and hash."""
    mine = machine.rows()
    held = store.rows(machine.id, 0, 10_000_000)
    assert held == mine, f"{machine.id}: the replica differs from the ledger"
    m = store.machine(machine.id)
    assert m.head_seq == len(mine) == store.row_count(machine.id)
    assert m.head_hash == mine[-1][4]


def terminate(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, and SIGKILL if it has not gone after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
