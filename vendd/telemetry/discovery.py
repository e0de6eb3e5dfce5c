"""Home Assistant MQTT discovery: the machine as one device whose entities read the status
and state topics, with availability on the status topic. Published (retained) on connect
and again whenever Home Assistant announces `online` on `<discovery_prefix>/status`."""

from __future__ import annotations

import json
import logging
from typing import Any

import paho.mqtt.client as paho

from vendd import __version__
from vendd.config import Config
from vendd.telemetry.client import Topics

log = logging.getLogger(__name__)


def discovery_messages(config: Config, topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) for every entity."""
    machine = config.machine
    node = f"vendd_{machine.id}".replace("-", "_")
    scale = 10**machine.decimals
    device: dict[str, Any] = {
        "identifiers": [node],
        "name": machine.name,
        "manufacturer": "vendd",
        "model": "vending machine",
        "sw_version": __version__,
    }
    if machine.location:
        device["suggested_area"] = machine.location
    avail = {"availability_topic": topics.status, "payload_available": "online",
             "payload_not_available": "offline"}

    def money(key: str, name: str, template: str) -> tuple[str, str, dict[str, Any]]:
        return "sensor", key, {
            "name": name, "state_topic": topics.state, "value_template": template,
            "device_class": "monetary", "unit_of_measurement": machine.currency, **avail,
        }

    entities: list[tuple[str, str, dict[str, Any]]] = [
        ("binary_sensor", "status", {
            "name": "Online", "state_topic": topics.status, "payload_on": "online",
            "payload_off": "offline", "device_class": "connectivity",
        }),
        ("sensor", "mode", {"name": "Mode", "state_topic": topics.state,
                            "value_template": "{{ value_json.mode }}", **avail}),
        money("credit", "Credit", f"{{{{ value_json.credit / {scale} }}}}"),
        money("cash_box", "Cash box", f"{{{{ value_json.cash_box / {scale} }}}}"),
        money("sales_today", "Sales today",
              f"{{{{ value_json.sales_today.total / {scale} }}}}"),
        ("sensor", "sales_today_count", {
            "name": "Items sold today", "state_topic": topics.state,
            "value_template": "{{ value_json.sales_today.count }}", "state_class": "measurement",
            **avail}),
    ]
    for slot in config.slots:
        key = slot.id.lower()
        entities.append(("sensor", f"stock_{key}", {
            "name": f"{slot.id} stock ({slot.product})", "state_topic": topics.state,
            "value_template": f"{{{{ value_json.slots['{slot.id}'].stock }}}}",
            "unit_of_measurement": "items", "state_class": "measurement", **avail}))
        entities.append(("binary_sensor", f"fault_{key}", {
            "name": f"{slot.id} fault", "state_topic": topics.state, "device_class": "problem",
            "value_template":
                f"{{{{ 'ON' if value_json.slots['{slot.id}'].fault else 'OFF' }}}}", **avail}))
    out = []
    for component, key, body in entities:
        payload = {**body, "unique_id": f"{node}_{key}", "object_id": f"{node}_{key}",
                   "device": device}
        out.append((f"{config.mqtt.discovery_prefix}/{component}/{node}/{key}/config", payload))
    return out


class Discovery:
    def __init__(self, config: Config, client: paho.Client, topics: Topics) -> None:
        self._messages = [(t, json.dumps(p, ensure_ascii=False)) for t, p in
                          discovery_messages(config, topics)]
        self._client = client
        self.birth_topic = f"{config.mqtt.discovery_prefix}/status"

    def publish(self, client: paho.Client | None = None) -> None:
        """On connect (paho's thread): publishing only queues; it does not block."""
        for topic, payload in self._messages:
            self._client.publish(topic, payload, qos=1, retain=True)
        log.info("published Home Assistant discovery (%d entities)", len(self._messages))

    def on_birth(self, message: paho.MQTTMessage) -> None:
        if bytes(message.payload).strip().lower() == b"online":
            self.publish()
