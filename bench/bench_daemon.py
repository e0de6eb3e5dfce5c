"""Bench: the daemon's footprint on the simulated machine.

- `daemon_rss_mb`: resident memory of a daemon process (started the way `vendd run` starts it,
  MQTT on against a private Mosquitto, virtual coin acceptor and dispenser) after 1,000 sales.
  Goal: under 60 MB.
- `daemon_ready_s_vs_python`: `vendd run` from process start to `READY=1` on the notify socket,
  as a ratio of a bare `python -c pass` in the same run (median of several starts). A figure to
  watch; the goal line is a loose ceiling, not a promise.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import bench_line
from simulator.broker import private_broker

ROOT = Path(__file__).resolve().parent.parent
SALES = 1000
RSS_GOAL_MB = 60.0
READY_GOAL_RATIO = 40.0
STARTS = 5

# Replaces the sections of config/sim.toml that need the simulator's cabinet.
VIRTUAL = """
[coin_acceptor]
kind = "virtual"
coins = [{ value = 25, label = "25c" }, { value = 100, label = "$1" }]

[dispenser]
kind = "virtual"
turn_time_s = 0.0

[buttons]
kind = "virtual"

[display]
kind = "virtual"

[mqtt]
enabled = true
host = "127.0.0.1"
port = @PORT@

[ledger]
path = "@DB@"
"""
REPLACED = {"coin_acceptor", "dispenser", "buttons", "display", "mqtt", "mqtt.requests", "ledger"}

CHILD = """
import os, sys, threading
import vendd.cli  # the entry point's imports, as `vendd run` has them
from vendd.config import load_config
from vendd.daemon.systemd import run_service
from vendd.events import SetStock

def sell_all(daemon):
    c = daemon.controller
    acceptor, buttons = daemon.devices.acceptors[0], daemon.devices.inputs[0]
    slots = [s for s in c.state.slots.values() if s.price % 25 == 0]
    for i in range({sales}):
        slot = slots[i % len(slots)]
        if c.state.slots[slot.id].stock == 0:
            assert c.submit(SetStock("rosa", slot.id, slot.capacity)).result(10).ok
        sold = c.state.last_vend_id
        while c.state.credit < slot.price:
            credit = c.state.credit
            while not acceptor.accepting:
                threading.Event().wait(0.001)
            assert acceptor.insert(100 if slot.price - credit >= 100 else 25)
            while c.state.credit == credit:
                threading.Event().wait(0.001)
        buttons.press(slot.id)
        while c.state.last_vend_id == sold or c.state.vend is not None:
            threading.Event().wait(0.001)
    rss = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS"))
    print("RSS_KB", rss, flush=True)
    os.kill(os.getpid(), 15)

def on_ready(daemon):
    threading.Thread(target=sell_all, args=(daemon,), daemon=True).start()

sys.exit(run_service(load_config(sys.argv[1]), "warning", on_ready=on_ready))
"""


def write_config(folder: Path, port: int) -> Path:
    text = (ROOT / "config" / "sim.toml").read_text()
    kept, keep = [], True
    for line in text.splitlines():
        header = re.match(r"^\[+([\w.]+)\]+", line)
        if header:
            keep = header.group(1) not in REPLACED
        # sim.toml's PINs are the example's public ones, which `vendd run` refuses; the bench
        # needs no service menu.
        if keep and not line.startswith("pin = "):
            kept.append(line)
    db = folder / f"vendd-{uuid.uuid4().hex}.db"
    path = folder / "bench.toml"
    path.write_text("\n".join(kept) + VIRTUAL.replace("@PORT@", str(port)).replace("@DB@", str(db)))
    return path


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def rss_after_sales(config: Path) -> float:
    proc = subprocess.run([sys.executable, "-c", CHILD.replace("{sales}", str(SALES)),
                           str(config)], cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=600, check=False)
    found = re.search(r"RSS_KB (\d+)", proc.stdout)
    if not found:
        raise SystemExit(f"the daemon did not finish its sales: {proc.stderr.strip()[-400:]}")
    return int(found.group(1)) / 1024


def seconds_to_ready(config: Path) -> float:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"vendd-bench-{uuid.uuid4().hex}"
    sock.bind("\0" + name)
    sock.settimeout(60)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vendd.cli", "run", "--config", str(config)],
                            cwd=ROOT, env={**env(), "NOTIFY_SOCKET": "@" + name},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while b"READY=1" not in sock.recv(4096):
            pass
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(30)
        sock.close()


def seconds_bare_python() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with private_broker(folder) as port:
            config = write_config(folder, port)
            rss = rss_after_sales(config)
            ready = statistics.median(seconds_to_ready(config) for _ in range(STARTS))
            bare = statistics.median(seconds_bare_python() for _ in range(STARTS))
    print(bench_line("daemon_rss_mb", rss, f"<{RSS_GOAL_MB:g}", rss < RSS_GOAL_MB), flush=True)
    ratio = ready / bare
    print(bench_line("daemon_ready_s_vs_python", ratio, f"<={READY_GOAL_RATIO:g}",
                     ratio <= READY_GOAL_RATIO), flush=True)
    print(f"  ready in {ready:.3f} s; bare python in {bare:.3f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
