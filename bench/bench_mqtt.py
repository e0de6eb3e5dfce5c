"""MQTT relay benchmark: drain a backlog of 10,000 journal events to a local Mosquitto.

    python -m bench.bench_mqtt [--events 10000] [--rounds 5]   (from the repo root)

Prints
    BENCH mqtt_backlog_drain_ratio <figure> goal 0.7 <met|missed>
ratio = bare_time / relay_time, both measured in this run against the same private broker:
- bare: one paho client publishing the same 10,000 payloads at QoS 1 in a loop, timed until
  the last PUBACK;
- relay: the real Relay (own ledger connection, reads the journal in batches, bounded window,
  acks through a queue, stores its position) from seq 0 until every row is acked.
Rounds alternate bare/relay; the median of each is used."""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import bench_line
from vendd.commands import Fact
from vendd.config import MqttConfig
from vendd.ledger import Ledger, read_rows
from vendd.ledger.db import connect
from vendd.telemetry.client import Connection, Topics, make_client
from vendd.telemetry.relay import Relay, payload_of

GOAL = 0.7
MACHINE = "bench-01"


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n"
                    "max_inflight_messages 0\nmax_queued_messages 0\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("mosquitto did not start") from None
            time.sleep(0.02)


def make_backlog(path: Path, events: int) -> None:
    ledger = Ledger(path, "America/Guayaquil")
    batch = 500
    for start in range(0, events, batch):
        ledger.append([Fact("credit", {"device": "coin_acceptor", "amount": 100, "label": "$1",
                                       "route": "cashbox"})
                       for _ in range(min(batch, events - start))])
    ledger.close()


def bare_loop(port: int, topics: Topics, messages: list[tuple[str, bytes]]) -> float:
    client = make_client(MqttConfig(host="127.0.0.1", port=port), "bench-bare")
    done = threading.Event()
    count = [0]
    n = len(messages)

    def on_publish(*_: Any) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    try:
        t0 = time.perf_counter()
        for topic, payload in messages:
            client.publish(topic, payload, qos=1)
        if not done.wait(120):
            raise RuntimeError("bare loop: not every message was acked")
        return time.perf_counter() - t0
    finally:
        client.disconnect()
        client.loop_stop()


def relay_drain(port: int, topics: Topics, db_path: Path, events: int, name: str) -> float:
    conn = Connection(MqttConfig(host="127.0.0.1", port=port), f"bench-{name}", topics)
    conn.start()
    if not conn.connected.wait(10):
        raise RuntimeError("relay: no connection")
    relay = Relay(db_path, conn.client, topics, conn.connected, name=name)
    conn.on_ack = relay.acked
    try:
        t0 = time.perf_counter()
        relay.start()
        if not relay.wait_acked(events, 120):
            raise RuntimeError("relay: not every row was acked")
        return time.perf_counter() - t0
    finally:
        relay.stop(0.5)
        conn.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_path = folder / "bench.db"
        make_backlog(db_path, args.events)
        topics = Topics("vendd", MACHINE)
        db = connect(db_path, readonly=True)
        messages = [(topics.event(r.kind), payload_of(r, MACHINE))
                    for r in read_rows(db, 0, args.events)]
        db.close()
        proc, port = start_broker(folder)
        try:
            bare, relayed = [], []
            for i in range(args.rounds):
                bare.append(bare_loop(port, topics, messages))
                relayed.append(relay_drain(port, topics, db_path, args.events, f"bench{i}"))
        finally:
            proc.terminate()
            proc.wait(10)
    ratio = statistics.median(bare) / statistics.median(relayed)
    print(f"# bare {statistics.median(bare):.3f}s relay {statistics.median(relayed):.3f}s "
          f"for {args.events} events", file=sys.stderr)
    print(bench_line("mqtt_backlog_drain_ratio", ratio, f">={GOAL}", ratio >= GOAL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
