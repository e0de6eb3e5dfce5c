"""The `alerts` component of `vendd hub run`: the rules' thread and the delivery thread."""

from __future__ import annotations

import time
from collections.abc import Callable

from vendd.hub.alerts.delivery import AlertsTopic, DeliveryThread, Outbox
from vendd.hub.alerts.engine import Engine, EngineThread
from vendd.hub.config import HubConfig
from vendd.hub.store import Store


class AlertsComponent:
    name = "alerts"

    def __init__(self, config: HubConfig, store: Store, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.enabled = config.alerts.enabled
        self.engine = Engine(config, store, clock=clock, on_change=self._wake)
        self.outbox = Outbox(config, self.engine.alerts, clock=clock)
        topic = AlertsTopic(config) if config.alerts.mqtt else None
        self.delivery = DeliveryThread(self.outbox, topic)
        self.rules = EngineThread(self.engine, config.alerts.tick_s)

    def _wake(self) -> None:
        self.delivery.wake.set()

    def start(self) -> None:
        if self.enabled:
            self.delivery.start()
            self.rules.start()

    def stop(self) -> None:
        if self.enabled:
            self.rules.stop()
            self.delivery.stop()
