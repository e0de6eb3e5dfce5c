"""A clean stop publishes everything journaled before it: the rows the controller journals
while the daemon shuts down (a device's last fault, the payments' final reads) reach the
coordinators before the machine says `offline`, not only after its next start. A relay thread
that the stop and the rows' wake-ups reach together, before it ran (a busy machine), must look
at the journal once more before it leaves."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from feed_helpers import MACHINE, PREFIX, Broker, Feed, acked, journal, mqtt_config, sell
from support import wait_for

from vendd.commands import Fact
from vendd.config import MqttConfig
from vendd.events import DeviceFault
from vendd.ledger import Ledger
from vendd.telemetry.client import Connection, Topics
from vendd.telemetry.relay import Relay


@pytest.fixture
def one_thread_at_a_time() -> Iterator[None]:
    """The test's thread keeps the interpreter until it blocks: the relay thread cannot run
    between the rows' wake-up and the stop, as on a machine whose cores are busy."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    yield
    sys.setswitchinterval(before)


def note(ledger: Ledger, text: str) -> None:
    ledger.append([Fact("note", {"text": text})])


@pytest.mark.parametrize("rounds", [1, 5])
def test_rows_journaled_just_before_a_stop_are_published_before_it_ends(
        tmp_path: Path, broker: Broker, feed: Feed, one_thread_at_a_time: None,
        rounds: int) -> None:
    path = tmp_path / "vendd.db"
    ledger = Ledger(path)
    note(ledger, "before the relay starts")
    topics = Topics(PREFIX, MACHINE)
    conn = Connection(MqttConfig(enabled=True, host="127.0.0.1", port=broker.port,
                                 prefix=PREFIX), "vendd-relay-stop", topics)
    relay = Relay(path, conn.client, topics, conn.connected)
    conn.on_ack = relay.acked
    conn.on_connected.append(lambda c: relay.wake())
    relay.start()
    conn.start()
    try:
        assert relay.wait_acked(1, 30), "the first row was never acked"
        for i in range(rounds):
            note(ledger, f"journaled while the daemon stops, {i}")
            relay.wake()  # as the controller does after each step
        relay.stop(drain_s=30)  # returns once the rows are acked (or 30 s)
    finally:
        conn.stop()
        ledger.close()
    head = 1 + rounds
    assert relay.acked_seq == head
    assert acked(path) == head  # stored: the next start does not publish them again
    wait_for(lambda: feed.has_all(head), 10, "every row on the feed")


def test_a_fault_met_while_the_daemon_stops_is_on_the_feed_before_offline(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon) -> None:
    """The coordinators see the last thing that went wrong before the machine went away."""
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    sell(daemon, "A1")
    daemon.controller.post(DeviceFault("coin_acceptor", "no_response", "no echo"))
    daemon.stop()  # the fault is still queued: the controller journals it while stopping
    rows = journal(config.ledger.path)
    assert rows[-1]["kind"] == "device_fault"
    assert acked(config.ledger.path) == len(rows)
    wait_for(lambda: feed.has_all(len(rows)), 10, "every row on the feed")
    wait_for(lambda: feed.statuses and feed.statuses[-1] == "offline", 10, "offline")
