"""The daemon's lifecycle: build (config -> ledger, devices, controller), connect (start the
devices), ready (the controller opened for sale), shutdown (devices back to their safe state).

    daemon = Daemon(config)            # or Daemon(config, pin_factory=MockFactory())
    daemon.start(); daemon.wait_ready()
    daemon.controller.post(event)      # or .submit(admin_event).result()
    daemon.stop()

The simulator builds the same Daemon; only the config and the pin factory differ."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vendd.config import Config
from vendd.controller import Controller
from vendd.errors import DeviceError, VenddError
from vendd.hw.factory import Devices, build_devices
from vendd.ledger import Ledger

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config: Config, *, pin_factory: Any = None,
                 devices: Devices | None = None) -> None:
        self.config = config
        self.devices = devices if devices is not None else build_devices(config, pin_factory)
        self.ledger: Ledger | None = None
        self.controller: Controller | None = None
        self.extras: list[Any] = []  # services with start()/stop() (telemetry)
        if config.mqtt.enabled:
            from vendd.telemetry import Telemetry

            self.extras.append(Telemetry(self))

    @property
    def ledger_path(self) -> Path:
        return self.config.ledger.path

    def start(self) -> None:
        self.ledger = Ledger(self.ledger_path, self.config.machine.timezone)
        self.controller = Controller(self.config, self.ledger, self.devices)
        started = []
        try:
            for device in self.devices.all():
                device.start(self.controller.post)
                started.append(device)
        except DeviceError:
            for device in reversed(started):
                device.stop()
            self.ledger.close()
            raise
        self.controller.start()
        for extra in self.extras:
            extra.start()

    def wait_ready(self, timeout: float = 10.0) -> None:
        assert self.controller is not None
        if not self.controller.ready.wait(timeout):
            raise VenddError("the controller did not become ready in time")
        if self.controller.fatal is not None:
            raise VenddError(f"the controller stopped: {self.controller.fatal}")

    def stop(self, vend_grace_s: float = 0.0) -> None:
        """Stop the loop (letting a turning motor finish within `vend_grace_s`), then put every
        device in its safe state: dispenser first, so no motor outlives the daemon."""
        if self.controller is not None:
            self.controller.stop(vend_grace_s)
        for extra in reversed(self.extras):
            extra.stop()
        for device in [self.devices.dispenser, *[d for d in self.devices.all()
                                                 if d is not self.devices.dispenser]]:
            try:
                device.stop()
            except DeviceError as exc:
                log.error("%s did not stop cleanly: %s", device.name, exc)
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
