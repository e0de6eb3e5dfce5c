"""ccTalk benchmarks: coin-to-credit latency and idle CPU, against the simulated acceptor.

    python -m bench.bench_cctalk [--coins 500] [--idle-s 10]   (from the repo root)

Prints
    BENCH cctalk_coin_to_credit_p99_ms <figure> goal <poll_interval+30> <met|missed>
    BENCH cctalk_idle_cpu_percent <figure> goal 2 <met|missed>
Latency: from the simulated acceptor accepting a coin to its credit row committed in the
journal (the controller's listener runs right after the commit). Idle CPU: the daemon's process
(the acceptor runs in a child process) polling at 5 Hz with nothing happening.
"""

from __future__ import annotations

import argparse
import logging
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import bench_line, p99
from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon

ROOT = Path(__file__).resolve().parent.parent

POLL_MS = 200  # 5 Hz, the default
COINS = {1: (5, "5c"), 2: (10, "10c"), 3: (25, "25c"), 4: (50, "50c"), 5: (100, "$1")}

PEER_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from simulator.cctalk_peer import SimCctalkAcceptor
peer = SimCctalkAcceptor({coins!r}).start()
print(peer.port, flush=True)
sys.stdin.read()
peer.stop()
"""


def config(tmp: Path, port: str) -> Config:
    data = load_config(ROOT / "config" / "sim.toml").model_dump()
    data["ledger"] = {"path": tmp / "vendd.db"}
    data["mqtt"]["enabled"] = False
    data["sales"]["max_credit"] = 10_000_000  # 500 coins never reach it
    data["dispenser"] = {"kind": "virtual", "turn_time_s": 0.0}  # coins only: no motors needed
    data["coin_acceptor"] = {
        "kind": "cctalk", "port": port, "poll_interval_ms": POLL_MS,
        "coins": [{"value": v, "label": lbl, "position": p} for p, (v, lbl) in COINS.items()],
    }
    return Config(**data)


def bench_latency(n_coins: int) -> float:
    accepted: list[float] = []
    committed: list[float] = []
    done = threading.Event()

    def on_rows(_state: Any, rows: list[Any]) -> None:
        now = time.monotonic()
        for row in rows:
            if row.kind == "credit":
                committed.append(now)
        if len(committed) >= n_coins:
            done.set()

    with tempfile.TemporaryDirectory() as tmp, SimCctalkAcceptor(COINS, coin_gap_s=0.1) as peer:
        peer.on_accept = lambda _position: accepted.append(time.monotonic())
        daemon = Daemon(config(Path(tmp), peer.port))
        daemon.start()
        try:
            daemon.wait_ready()
            assert daemon.controller is not None
            daemon.controller.listeners.append(on_rows)
            deadline = time.monotonic() + 10
            while not peer.accepting and time.monotonic() < deadline:
                time.sleep(0.01)
            rng = random.Random(3)
            for _ in range(n_coins):
                # The acceptor takes a coin at most every 100 ms (a real one, about every
                # 250 ms): at most 2 per 200 ms poll, and it buffers 5.
                time.sleep(rng.uniform(0.050, 0.080))
                if not peer.insert(rng.choice(list(COINS))):
                    raise SystemExit("the acceptor refused a coin")
            if not done.wait(10):
                raise SystemExit(f"only {len(committed)} of {n_coins} credits were journaled")
        finally:
            daemon.stop()
    if len(committed) != len(accepted):
        raise SystemExit(f"{len(accepted)} coins accepted, {len(committed)} credits journaled")
    return p99([(c - a) * 1000 for a, c in zip(accepted, committed, strict=True)])


def bench_idle_cpu(seconds: float) -> float:
    script = PEER_SCRIPT.format(root=str(ROOT), coins=COINS)
    peer = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert peer.stdout is not None and peer.stdin is not None
    try:
        port = peer.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            daemon = Daemon(config(Path(tmp), port))
            daemon.start()
            try:
                daemon.wait_ready()
                time.sleep(1.0)  # settle after start-up
                cpu0, wall0 = time.process_time(), time.monotonic()
                time.sleep(seconds)
                cpu1, wall1 = time.process_time(), time.monotonic()
            finally:
                daemon.stop()
    finally:
        peer.stdin.close()
        peer.wait(timeout=10)
    return 100 * (cpu1 - cpu0) / (wall1 - wall0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--coins", type=int, default=500)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    latency = bench_latency(args.coins)
    goal = POLL_MS + 30
    print(bench_line("cctalk_coin_to_credit_p99_ms", latency, str(goal), latency <= goal))
    cpu = bench_idle_cpu(args.idle_s)
    print(bench_line("cctalk_idle_cpu_percent", cpu, "2", cpu <= 2))


if __name__ == "__main__":
    main()
