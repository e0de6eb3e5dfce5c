"""`vendd keygen` and `vendd request` as a coordinator runs them: a key pair, its config
lines, a signed change that reaches the machine through a real broker, and clear one-line
errors when the broker or the machine is not there."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from feed_helpers import MACHINE, PREFIX, Broker, Feed, journal, mqtt_config, wait_until

from simulator.broker import free_port


def vendd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vendd.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def keygen(folder: Path, coordinator: str = "ana") -> tuple[Path, dict[str, str]]:
    key = folder / f"{coordinator}.pem"
    done = vendd("keygen", "--coordinator", coordinator, "--out", str(key))
    assert done.returncode == 0, done.stderr
    entry = tomllib.loads(done.stdout)["mqtt"]["requests"]["coordinators"][0]
    return key, entry


def test_keygen_writes_a_private_key_and_prints_its_config_lines(tmp_path: Path) -> None:
    key, entry = keygen(tmp_path)
    assert entry["id"] == "ana" and len(entry["public_key"]) == 44
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = vendd("keygen", "--coordinator", "ana", "--out", str(key))
    assert again.returncode == 1 and "exists" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr


def test_a_signed_request_from_the_command_line_changes_the_price(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon) -> None:
    key, entry = keygen(tmp_path)
    requests = {"set_price": True, "ping": True, "coordinators": [entry]}
    config = mqtt_config(tmp_path, broker.port, requests=requests)
    daemon = start_daemon(config)
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 10,
               "the daemon to subscribe")
    common = ["--machine", MACHINE, "--host", "127.0.0.1", "--port", str(broker.port),
              "--prefix", PREFIX]
    done = vendd("request", "set_price", "slot=A1", "price=450", "--key", str(key),
                 "--coordinator", "ana", "--request-id", "cli-1", *common)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True and answer["request_id"] == "cli-1"
    assert daemon.controller.state.slots["A1"].price == 450
    row = next(r for r in journal(config.ledger.path) if r["seq"] == answer["seq"])
    assert row["kind"] == "request" and row["fields"]["coordinator"] == "ana"
    # The same id again: answered from the journal, exit 0, nothing done twice.
    again = vendd("request", "set_price", "slot=A1", "price=450", "--key", str(key),
                  "--coordinator", "ana", "--request-id", "cli-1", *common)
    assert again.returncode == 0 and json.loads(again.stdout)["duplicate"] is True
    # Refused by the machine: exit 1, its answer printed.
    unsigned = vendd("request", "ping", "extra=1", *common)
    assert unsigned.returncode == 1 and "unknown field" in json.loads(unsigned.stdout)["error"]
    assert sum(1 for r in journal(config.ledger.path) if r["kind"] == "price_set"
               and r["fields"].get("request_id") == "cli-1") == 1


def test_request_errors_are_one_clear_line(tmp_path: Path, broker: Broker) -> None:
    key, _ = keygen(tmp_path)
    nobody = vendd("request", "ping", "--machine", "nadie", "--port", str(broker.port),
                   "--host", "127.0.0.1", "--timeout", "1")
    assert nobody.returncode == 1
    assert "no answer from machine nadie" in nobody.stderr
    closed = vendd("request", "ping", "--machine", MACHINE, "--host", "127.0.0.1",
                   "--port", str(free_port()), "--timeout", "1")
    assert closed.returncode == 1 and "cannot connect to the MQTT broker" in closed.stderr
    unsigned = vendd("request", "set_price", "slot=A1", "price=1", "--machine", MACHINE)
    assert unsigned.returncode == 2 and "sign it with --key" in unsigned.stderr
    bad_field = vendd("request", "set_price", "A1", "--machine", MACHINE, "--key", str(key),
                      "--coordinator", "ana")
    assert bad_field.returncode == 2 and "not FIELD=VALUE" in bad_field.stderr
    for done in (nobody, closed, unsigned, bad_field):
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def test_watch_names_the_coordinator_and_the_request(tmp_path: Path) -> None:
    from io import StringIO

    from feed_helpers import feed_config

    from vendd.cli.watch import WatchView

    out = StringIO()
    config = feed_config(tmp_path)
    view = WatchView.of_config(config, out)
    base = f"{config.mqtt.prefix}/{config.machine.id}/event"
    rows = [
        (7, "price_set", {"slot": "A1", "price": 450, "before": 350, "by": "coordinator",
                          "coordinator": "ana", "request_id": "cli-1"}),
        (8, "request", {"action": "set_price", "coordinator": "ana", "counter": 5,
                        "request_id": "cli-1", "ok": True}),
        (9, "request", {"action": "disable_slot", "coordinator": "ana", "counter": 6,
                        "request_id": "cli-2", "ok": False, "error": "unknown slot 'Z9'"}),
    ]
    for seq, kind, fields in rows:
        body = {"seq": seq, "ts": "2026-12-02T01:00:00+00:00", "kind": kind,
                "machine": MACHINE, "fields": fields, "hash": "0" * 64}
        view.handle(f"{base}/{kind}", json.dumps(body).encode())
    lines = out.getvalue().splitlines()
    assert "(by coordinator ana)" in lines[0]
    assert "set_price signed by ana (cli-1): ok" in lines[1]
    assert "disable_slot signed by ana (cli-2): refused: unknown slot 'Z9'" in lines[2]
