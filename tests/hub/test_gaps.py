"""A gap made on purpose: the hub stays down longer than the broker keeps its session, so the
rows journaled meanwhile never reach it. The hub shows the gap and asks for it with back-off
while the machine cannot answer (replay switched off), and the gap closes once the machine
answers `replay` with the rows."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from feed_helpers import Broker
from hub_helpers import (
    PREFIX,
    HubProc,
    SimMachine,
    assert_replica_is_the_ledger,
    hub_status,
    hub_toml,
    wait_replicated,
)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from support import wait_for

from vendd.hub.store import Store

SESSION_S = 1


class Answers:
    """Every replay request and answer on the broker."""

    def __init__(self, port: int) -> None:
        self.requests: list[dict[str, object]] = []
        self.answers: list[dict[str, object]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        c.on_connect = lambda cl, *a: cl.subscribe([(f"{PREFIX}/+/request/replay", 1),
                                                    (f"{PREFIX}/+/response/replay", 1)])
        c.on_subscribe = lambda *a: self.ready.set()
        c.on_message = self._message
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        wait_for(self.ready.is_set, 10, "the replay watcher")

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self.lock:
            target = self.requests if "/request/" in msg.topic else self.answers
            target.append(json.loads(msg.payload))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_gap_past_the_session_is_shown_and_filled_by_replay(
        tmp_path: Path, broker: Broker, store_url: str) -> None:
    machine = SimMachine(tmp_path / "m", "museo-gap", broker.port, replay=False)
    config = hub_toml(tmp_path / "hub", broker.port, store_url, session_expiry_s=SESSION_S)
    hub = HubProc(config)
    answers = Answers(broker.port)
    hub.start()
    store = Store(store_url)
    try:
        machine.start(seed=21)
        wait_for(lambda: store.row_count() > 40, 60, "the first rows")
        hub.kill9()
        down_at, head_at_kill = time.monotonic(), machine.head()
        # Rows journaled after the broker dropped the hub's session never reach the hub.
        wait_for(lambda: machine.head() > head_at_kill + 15
                 and time.monotonic() - down_at > 3 * SESSION_S, 60, "sales while down")
        hub.start()
        gap = wait_for(lambda: hub_status(config)["gaps"], 60, "the gap in hub status")[0]
        assert gap["machine"] == machine.id and gap["from"] <= head_at_kill + 1
        # Asked, refused (replay is off on the machine), asked again: still shown.
        wait_for(lambda: (g := hub_status(config)["gaps"]) and g[0]["asks"] >= 3, 60,
                 "the hub to ask again with back-off")
        assert any(a.get("ok") is False and "not enabled" in str(a.get("error"))
                   for a in answers.answers)
        m = store.machine(machine.id)
        assert m.head_seq < gap["from"] and m.gap_count == 1
        # The machine can answer now: its next answer fills the gap.
        machine.stop()
        machine.write_config(replay=True)
        machine.start(seed=None)
        wait_replicated(store, [machine])
        assert hub_status(config)["gaps"] == []
        closed = store.gaps(machine.id, open_only=False)
        assert closed and all(g.closed_at is not None for g in closed)
        assert any(a.get("ok") is True and int(a["from"]) <= gap["from"] <= int(a["to"])
                   for a in answers.answers)
        machine.stop()
        wait_replicated(store, [machine])
        assert_replica_is_the_ledger(store, machine)
        assert store.alarms() == []
    finally:
        machine.stop()
        hub.stop()
        answers.close()
        store.close()
