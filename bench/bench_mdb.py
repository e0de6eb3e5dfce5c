"""MDB benchmark: how fast the daemon ACKs a device's answer on the simulated bus.

    python -m bench.bench_mdb [--polls 2000]   (from the repo root)

Prints
    BENCH mdb_ack_latency_p99_ms <figure> goal 5 <met|missed>
Over `--polls` polls answered with data (a coin deposited, the changer's poll), the time from
the last byte of the device's answer leaving the simulated peripheral to the daemon's ACK
arriving back on the wire, measured by the peer. The real daemon runs, with the changer, bill
validator and reader on one pty; MDB wants every answer handled within 5 ms."""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from bench.common import bench_line, p99
from simulator.mdb_peer import SimMdbBus
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon

ROOT = Path(__file__).resolve().parent.parent


def config(tmp: Path, port: str) -> Config:
    data = load_config(ROOT / "config" / "sim-mdb.toml").model_dump()
    data["ledger"] = {"path": tmp / "vendd.db"}
    data["mqtt"]["enabled"] = False
    data["dispenser"] = {"kind": "virtual", "turn_time_s": 0.0}
    data["sales"]["max_credit"] = 10_000_000
    data["mdb"] |= {"port": port, "poll_interval_ms": 5}
    return Config(**data)


def bench_ack_latency(polls: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, SimMdbBus() as peer:
        assert peer.changer is not None
        daemon = Daemon(config(Path(tmp), peer.port))
        daemon.start()
        try:
            daemon.wait_ready()
            deadline = time.monotonic() + 10
            while not peer.changer.enabled and time.monotonic() < deadline:
                time.sleep(0.01)
            with peer.lock:
                peer.ack_latencies.clear()
            coins = [5, 10, 25, 100]
            i = 0
            deadline = time.monotonic() + 120
            while len(peer.ack_latencies) < polls and time.monotonic() < deadline:
                with peer.lock:
                    if not peer.changer.activity:  # one coin per poll: every poll has data
                        if not peer.changer.insert(coins[i % len(coins)]):
                            raise SystemExit("the changer refused a coin")
                        i += 1
                time.sleep(0.001)
        finally:
            daemon.stop()
        samples = list(peer.ack_latencies)
    if len(samples) < polls:
        raise SystemExit(f"only {len(samples)} of {polls} answers were ACKed")
    return p99([s * 1000 for s in samples[:polls]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--polls", type=int, default=2000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    latency = bench_ack_latency(args.polls)
    print(bench_line("mdb_ack_latency_p99_ms", latency, "5", latency <= 5))


if __name__ == "__main__":
    main()
