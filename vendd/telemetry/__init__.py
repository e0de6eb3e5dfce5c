"""The MQTT feed: relay from the journal, status and state, requests, Home Assistant
discovery. `Telemetry` is one of the daemon's extras: started after the controller, stopped
before the devices. MQTT is a view of the ledger: when it cannot run, the machine still
sells and the journal keeps everything for later."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from vendd.errors import TelemetryError
from vendd.events import DeviceFault, DeviceRecovered
from vendd.ledger import JournalRow
from vendd.machine import State
from vendd.telemetry.client import Connection, Topics, client_id_of, topics_of
from vendd.telemetry.discovery import Discovery
from vendd.telemetry.relay import Relay
from vendd.telemetry.replay import Replayer
from vendd.telemetry.requests import Requests
from vendd.telemetry.state import StatePublisher

if TYPE_CHECKING:
    from vendd.daemon.app import Daemon

log = logging.getLogger(__name__)

DEVICE = "mqtt"  # the name its faults are journaled under

__all__ = ["DEVICE", "Telemetry", "Topics"]


class Telemetry:
    def __init__(self, daemon: Daemon, *, drain_s: float = 2.0) -> None:
        self._daemon = daemon
        self.config = daemon.config
        self.topics = topics_of(self.config)
        self.drain_s = drain_s
        self.connection: Connection | None = None
        self.relay: Relay | None = None
        self.state: StatePublisher | None = None
        self.requests: Requests | None = None
        self.discovery: Discovery | None = None

    def start(self) -> None:
        controller = self._daemon.controller
        assert controller is not None, "telemetry starts after the controller"
        cfg = self.config
        try:
            conn = Connection(cfg.mqtt, client_id_of(cfg), self.topics)
        except TelemetryError as exc:
            # A setup mistake must not stop the sales: journal it and run without a feed.
            log.error("the MQTT feed is off: %s", exc)
            controller.post(DeviceFault(DEVICE, "setup_failed", str(exc)))
            return
        self.connection = conn
        controller.status_probes["broker"] = conn.connected.is_set  # the menu's Estado screen
        self.relay = Relay(cfg.ledger.path, conn.client, self.topics, conn.connected)
        self.state = StatePublisher(conn.client, self.topics, conn.connected, cfg.ledger.path,
                                    cfg.machine.timezone)
        conn.on_ack = self.relay.acked
        conn.on_refused = lambda code, detail: controller.post(DeviceFault(DEVICE, code, detail))
        conn.on_accepted = lambda: controller.post(DeviceRecovered(DEVICE))
        self.relay.on_fault, self.relay.on_recovered = conn.on_refused, conn.on_accepted
        conn.on_connected.append(lambda client: self._connected())
        requests = Requests(cfg, conn.client, self.topics, controller.submit)
        if cfg.mqtt.requests.replay:
            requests.replayer = Replayer(cfg.ledger.path, conn.client, self.topics)
        requests.on_fault = lambda code, detail: controller.post(
            DeviceFault(DEVICE, code, detail, blocking=False))
        if requests.any_enabled:
            self.requests = requests
            conn.on_message[self.topics.requests] = requests.on_message
        if cfg.mqtt.discovery:
            self.discovery = Discovery(cfg, conn.client, self.topics)
            conn.on_message[self.discovery.birth_topic] = self.discovery.on_birth
        if controller.state is not None:
            self.state.update(controller.state)
        controller.listeners.append(self._on_step)
        self.relay.start()
        self.state.start()
        if self.requests is not None:
            if self.requests.replayer is not None:
                self.requests.replayer.start()
            self.requests.start()
        try:
            conn.start()
        except TelemetryError as exc:
            log.error("the MQTT feed is off: %s", exc)
            controller.post(DeviceFault(DEVICE, "setup_failed", str(exc)))

    def _connected(self) -> None:
        """paho's thread, after every successful CONNACK."""
        assert self.relay is not None and self.state is not None
        self.relay.wake()
        self.state.republish()
        if self.discovery is not None:
            self.discovery.publish()

    def _on_step(self, state: State, rows: list[JournalRow]) -> None:
        """Controller thread: flag and return."""
        assert self.relay is not None and self.state is not None
        if rows:
            self.relay.wake()
        self.state.update(state)

    def stop(self) -> None:
        controller = self._daemon.controller
        if controller is not None and self._on_step in controller.listeners:
            controller.listeners.remove(self._on_step)
        if self.requests is not None:
            self.requests.stop()
            if self.requests.replayer is not None:
                self.requests.replayer.stop()
        if self.state is not None:
            self.state.stop()
        if self.relay is not None:
            self.relay.stop(self.drain_s)
        if self.connection is not None:
            self.connection.stop()
        self.connection = self.relay = self.state = self.requests = self.discovery = None

