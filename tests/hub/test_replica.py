"""The replica survives a killed hub and a restarted broker: three simulated machines sell
while `vendd hub ingest` is killed -9 five times and Mosquitto restarts once; in the end every
row of every machine is in the store once, verified, and the hub's reports are the machines'."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from feed_helpers import Broker
from hub_helpers import (
    HubProc,
    SimMachine,
    assert_replica_is_the_ledger,
    hub_status,
    hub_toml,
    vendd,
    wait_replicated,
)
from support import wait_for

from vendd.hub.store import Store

KILLS = 5


@pytest.fixture
def machines(tmp_path: Path, broker: Broker) -> list[SimMachine]:
    ms = [SimMachine(tmp_path / f"m{i}", f"museo-{i}", broker.port) for i in range(1, 4)]
    yield ms
    for m in ms:
        m.stop()


def test_hub_killed_five_times_and_broker_restarted_keeps_every_row(
        tmp_path: Path, broker: Broker, machines: list[SimMachine], store_url: str) -> None:
    config = hub_toml(tmp_path / "hub", broker.port, store_url)
    hub = HubProc(config)
    hub.start()
    store = Store(store_url)
    try:
        for i, m in enumerate(machines):
            m.start(seed=100 + i)
        wait_for(lambda: [m["status"] for m in hub_status(config)["machines"]]
                 == ["online"] * 3, 60, "the machines online at the hub")
        for kill in range(KILLS):
            held = store.row_count()
            # Kill it while rows are flowing, not between bursts.
            wait_for(lambda h=held: store.row_count() > h + 20, 60, "rows to flow in")
            hub.kill9()
            if kill == 2:
                broker.stop()  # the broker restarts while the hub is down
                broker.start()
            hub.start()
        wait_for(lambda: store.row_count() > held + 20, 60, "rows after the last restart")
        for m in machines:
            m.stop()
        wait_replicated(store, machines)
        for m in machines:
            assert_replica_is_the_ledger(store, m)
        # The daemons said `offline` as they stopped; the hub follows status and state.
        wait_for(lambda: [m["status"] for m in hub_status(config)["machines"]]
                 == ["offline"] * 3, 30, "the machines offline")
        status = hub_status(config)
        assert all(store.machine(m.id).state["machine"] == m.id for m in machines)
        assert [m["integrity"] for m in status["machines"]] == ["ok"] * 3, status["alarms"]
        assert status["gaps"] == [] and status["alarms"] == []
        assert {m["id"]: m["verified_head"] for m in status["machines"]} == {
            m.id: m.head() for m in machines}
    finally:
        hub.stop()
        store.close()


def test_hub_reports_equal_each_machines_report(
        tmp_path: Path, broker: Broker, machines: list[SimMachine], store_url: str) -> None:
    config = hub_toml(tmp_path / "hub", broker.port, store_url)
    hub = HubProc(config)
    hub.start()
    store = Store(store_url)
    try:
        for i, m in enumerate(machines[:2]):
            m.start(seed=7 + i)
        wait_for(lambda: all(store.row_count(m.id) > 80 for m in machines[:2]), 90,
                 "sales on both machines")
        for m in machines[:2]:
            m.stop()
        wait_replicated(store, machines[:2])
        reports = [["--by", "maker", "--period", "month"], ["--by", "product"],
                   ["--by", "slot"], ["--by", "day"], ["cash"], ["stock"]]
        for m in machines[:2]:
            for args in reports:
                mine = vendd("report", *args, "--config", str(m.config), "--format", "json")
                hubs = vendd("hub", "report", *args, "--machine", m.id, "--config",
                             str(config), "--format", "json")
                assert mine.returncode == 0 and hubs.returncode == 0, hubs.stderr
                assert json.loads(hubs.stdout) == json.loads(mine.stdout), (m.id, args)
            assert json.loads(vendd("report", "--config", str(m.config), "--format",
                                    "json").stdout)["items"] > 0
        # All machines at once: one statement whose lines are the machines' lines summed.
        both = json.loads(vendd("hub", "report", "--config", str(config), "--format",
                                "json").stdout)
        per = [json.loads(vendd("report", "--config", str(m.config), "--format",
                                "json").stdout) for m in machines[:2]]
        assert both["gross"] == sum(p["gross"] for p in per)
        assert sum(both["split"].values()) == both["gross"]
        assert both["machines"] == [m.id for m in machines[:2]]
        png = tmp_path / "makers.png"
        drawn = vendd("hub", "report", "--config", str(config), "--chart", str(png))
        assert drawn.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"
    finally:
        hub.stop()
        store.close()


def _children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (the hub's writer)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while being read
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_writer_loses_nothing_and_a_killed_hub_leaves_no_writer(
        tmp_path: Path, broker: Broker, machines: list[SimMachine], store_url: str) -> None:
    """The hub stores in a child process: killed mid-stream, the rows it held come again and
    the hub starts another; a hub killed -9 takes its writer with it."""
    config = hub_toml(tmp_path / "hub", broker.port, store_url)
    hub = HubProc(config)
    hub.start()
    assert hub.proc is not None
    store = Store(store_url)
    try:
        for i, m in enumerate(machines[:2]):
            m.start(seed=300 + i)
        (writer,) = wait_for(lambda: _children(hub.proc.pid), 30, "the hub's writer")
        held = store.row_count()
        wait_for(lambda: store.row_count() > held + 20, 60, "rows to flow in")
        os.kill(writer, signal.SIGKILL)
        (second,) = wait_for(lambda: [p for p in _children(hub.proc.pid) if p != writer], 60,
                             "the hub to start another writer")
        held = store.row_count()
        wait_for(lambda: store.row_count() > held + 20, 60, "rows after the new writer")
        hub.kill9()
        wait_for(lambda: not _alive(second), 30, "the writer to end with its hub")
        hub.start()
        for m in machines[:2]:
            m.stop()
        wait_replicated(store, machines[:2])
        for m in machines[:2]:
            assert_replica_is_the_ledger(store, m)
        said = hub.log.read_text(encoding="utf-8")
        assert "hub cannot write: the hub's writer process ended (exit -9)" in said
        assert "Traceback" not in said
    finally:
        hub.stop()
        store.close()
