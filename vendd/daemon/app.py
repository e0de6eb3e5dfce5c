"""The daemon's lifecycle: build (config -> ledger, devices, controller), connect (start the
devices), ready (the controller opened for sale), shutdown (devices back to their safe state).

    daemon = Daemon(config)            # or Daemon(config, pin_factory=MockFactory())
    daemon.start(); daemon.wait_ready()
    daemon.controller.post(event)      # or .submit(admin_event).result()
    daemon.stop()

The simulator builds the same Daemon; only the config and the pin factory differ."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from vendd.config import Config
from vendd.daemon.controller import Controller
from vendd.errors import DeviceError, VenddError
from vendd.events import Stopping
from vendd.hw.base import BuffersMoney, Device
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

    @staticmethod
    def _stop_devices(devices: list[Device]) -> None:
        for device in devices:
            try:
                device.stop()
            except DeviceError as exc:
                log.error("%s did not stop cleanly: %s", device.name, exc)

    def start(self) -> None:
        self.ledger = Ledger(self.ledger_path, self.config.machine.timezone)
        self.controller = Controller(self.config, self.ledger, self.devices)
        for device in self.devices.all():
            if isinstance(device, BuffersMoney):  # its buffer is taken up where the ledger ends
                device.resume(self.ledger.device_counter(device.name))
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

    def stop(self, vend_grace_s: float = 0.0, abort: threading.Event | None = None) -> None:
        """Shut down without dropping a coin or leaving a motor on:
        1. the machine stops taking money (acceptors inhibited through the normal path);
        2. a turning motor gets `vend_grace_s` to finish (less if `abort` is set);
        3. the payment devices stop, after a last read of what they already took;
        4. the dispenser stops: every motor off (a turn still running ends INTERRUPTED);
        5. the controller handles everything still queued, journals it, and exits;
        6. telemetry publishes what is left and `offline`; the other devices go safe."""
        c = self.controller
        if c is not None and not c.stopped.is_set():
            c.post(Stopping())
            deadline = time.monotonic() + vend_grace_s
            while not c.wait_until(lambda s: s.stopping and s.vend is None, 0.05):
                if time.monotonic() >= deadline or (abort is not None and abort.is_set()):
                    break
        payments: list[Device] = [*self.devices.acceptors]
        payments += [d for d in (self.devices.card_reader, self.devices.changer) if d]
        self._stop_devices(payments)
        self._stop_devices([self.devices.dispenser])
        if c is not None:
            c.stop(timeout=10)
        for extra in reversed(self.extras):
            extra.stop()
        done = {id(d) for d in [*payments, self.devices.dispenser]}
        self._stop_devices([d for d in self.devices.all() if id(d) not in done])
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
