"""The relay when the broker says no: a PUBACK with a failure reason code (an ACL) is not an
ack, and a relay thread that fails starts again. What a coordinator sees: every journal row
on the feed once the broker accepts it, and the trouble journaled as an mqtt fault."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from feed_helpers import MACHINE, PREFIX, Broker, Certs, Feed, acked, journal, mqtt_config, sell
from support import wait_for

from vendd.commands import Fact
from vendd.config import MqttConfig
from vendd.ledger import Ledger
from vendd.telemetry import relay as relay_module
from vendd.telemetry.client import Connection, Topics
from vendd.telemetry.relay import Relay

BASE = f"{PREFIX}/{MACHINE}"
# Everything but the events: the feed's rows are refused, the rest of the daemon works.
NO_EVENTS = "\n".join([
    "topic read test/#",
    f"topic readwrite {BASE}/status",
    f"topic readwrite {BASE}/state",
    f"topic readwrite {BASE}/request/#",
    f"topic readwrite {BASE}/response/#",
    "topic readwrite homeassistant/#",
]) + "\n"
NO_NOTES = NO_EVENTS + f"topic write {BASE}/event/maker_added\n"
FIXED = "topic readwrite test/#\ntopic readwrite homeassistant/#\n"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_module, "RETRY_MIN_S", 0.1, raising=False)
    monkeypatch.setattr(relay_module, "RETRY_MAX_S", 0.4, raising=False)
    monkeypatch.setattr(relay_module, "RESTART_MIN_S", 0.1, raising=False)


def acl_broker(tmp_path: Path, certs: Certs, acl: str) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker", certs, acl=acl)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def no_events_broker(tmp_path: Path, certs: Certs) -> Iterator[Broker]:
    yield from acl_broker(tmp_path, certs, NO_EVENTS)


@pytest.fixture
def no_notes_broker(tmp_path: Path, certs: Certs) -> Iterator[Broker]:
    yield from acl_broker(tmp_path, certs, NO_NOTES)


class Reports:
    """The relay's on_fault / on_recovered, recorded."""

    def __init__(self, relay: Relay) -> None:
        self.faults: list[tuple[str, str]] = []
        self.recovered = 0
        self._lock = threading.Lock()
        relay.on_fault = self.fault
        relay.on_recovered = self.recover

    def fault(self, code: str, detail: str) -> None:
        with self._lock:
            self.faults.append((code, detail))

    def recover(self) -> None:
        with self._lock:
            self.recovered += 1

    def codes(self) -> set[str]:
        with self._lock:
            return {code for code, _ in self.faults}


def ledger_with(path: Path, kinds: list[str]) -> None:
    ledger = Ledger(path)
    try:
        ledger.append([Fact("maker_added", {"maker": f"m{i}", "name": f"Maker {i}"})
                       if kind == "maker_added" else Fact("note", {"text": f"n{i}"})
                       for i, kind in enumerate(kinds)])
    finally:
        ledger.close()


def relay_on(broker_port: int, db: Path, client_wrapper: Any = None,
             ) -> tuple[Connection, Relay, Reports]:
    topics = Topics(PREFIX, MACHINE)
    conn = Connection(MqttConfig(enabled=True, host="127.0.0.1", port=broker_port,
                                 prefix=PREFIX), "vendd-relay-test", topics)
    client = conn.client if client_wrapper is None else client_wrapper(conn.client)
    relay = Relay(db, client, topics, conn.connected)
    reports = Reports(relay)
    conn.on_ack = relay.acked
    conn.on_connected.append(lambda c: relay.wake())
    relay.start()
    conn.start()
    return conn, relay, reports


def test_refused_rows_stay_unacked_and_arrive_once_the_acl_is_fixed(
        tmp_path: Path, no_notes_broker: Broker) -> None:
    db = tmp_path / "ledger.db"
    ledger_with(db, ["maker_added", "note", "maker_added"])
    feed = Feed(no_notes_broker.port, PREFIX, MACHINE)
    conn, relay, reports = relay_on(no_notes_broker.port, db)
    try:
        wait_for(lambda: sorted(feed.seqs()) == [1, 3], 10, "the rows the ACL lets through")
        wait_for(lambda: "publish_refused" in reports.codes(), 5, "the refusal reported")
        assert relay.acked_seq == 1  # row 2 was refused: the position stays below it
        wait_for(lambda: acked(db) == 1, 5, "the position below the refused row stored")
        assert "journal row 2" in reports.faults[0][1]
        assert reports.recovered == 0
        no_notes_broker.set_acl(FIXED)
        wait_for(lambda: feed.has_all(3), 10, "the refused row once the ACL is fixed")
        assert relay.wait_acked(3, 5)
        wait_for(lambda: acked(db) == 3, 5, "the whole journal acknowledged and stored")
        wait_for(lambda: reports.recovered == 1, 5, "recovery reported")
    finally:
        relay.stop(1)
        conn.stop()
        feed.close()
    assert acked(db) == 3


def test_daemon_feed_refused_then_fixed_delivers_every_row(
        tmp_path: Path, no_events_broker: Broker, start_daemon) -> None:
    """The daemon view: the machine sells while the broker refuses the events, the stored
    position stays at 0, and once the ACL is fixed the coordinator gets every row. (Mosquitto
    2.0 drops the connection after a refused PUBACK and may not flush that PUBACK first, so
    whether the refusal itself reached the relay is checked in the relay-level test.)"""
    feed = Feed(no_events_broker.port, PREFIX, MACHINE)
    try:
        config = mqtt_config(tmp_path, no_events_broker.port)
        daemon = start_daemon(config)
        sell(daemon, "A1")
        path = config.ledger.path
        telemetry = daemon.extras[0]
        wait_for(lambda: telemetry.relay.sent_seq >= journal(path)[-1]["seq"], 10,
                 "the relay to offer every row")
        assert acked(path) == 0 and telemetry.relay.acked_seq == 0 and feed.events == []
        no_events_broker.set_acl(FIXED)
        sell(daemon, "A2")
        head = journal(path)[-1]["seq"]
        wait_for(lambda: feed.has_all(head), 20, "every journal row on the feed")
        wait_for(lambda: acked(path) >= head, 5, "the acked position past every row")
    finally:
        feed.close()


def test_relay_faults_are_journaled_as_mqtt_faults(tmp_path: Path, broker: Broker,
                                                   start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    relay = daemon.extras[0].relay

    def mqtt_rows(kind: str) -> list[dict[str, Any]]:
        return [r["fields"] for r in journal(config.ledger.path)
                if r["kind"] == kind and r["fields"]["device"] == "mqtt"]

    relay.on_fault("publish_refused", "the broker refused journal row 7")
    wait_for(lambda: mqtt_rows("device_fault"), 5, "the fault in the journal")
    assert mqtt_rows("device_fault")[0]["code"] == "publish_refused"
    relay.on_recovered()
    wait_for(lambda: mqtt_rows("device_recovered"), 5, "the recovery in the journal")


class PublishFailsOnce:
    """A paho client whose first publish raises (a bug, a library error)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.failed = False

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise RuntimeError("paho blew up")
        return self.client.publish(*args, **kwargs)


def test_relay_thread_failure_is_reported_and_the_feed_restarts(
        tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vendd")
    db = tmp_path / "ledger.db"
    ledger_with(db, ["maker_added", "note", "note"])
    feed = Feed(broker.port, PREFIX, MACHINE)
    conn, relay, reports = relay_on(broker.port, db, PublishFailsOnce)
    try:
        wait_for(lambda: reports.faults, 10, "the failure reported")
        assert reports.faults[0] == ("relay_error", "RuntimeError: paho blew up")
        assert any(r.exc_info for r in caplog.records if "relay failed" in r.getMessage())
        wait_for(lambda: feed.has_all(3), 10, "every row after the restart")
        assert relay.wait_acked(3, 5)
        wait_for(lambda: reports.recovered == 1, 5, "recovery reported")
        assert relay._thread is not None and relay._thread.is_alive()
    finally:
        relay.stop(1)
        conn.stop()
        feed.close()
    assert acked(db) == 3
