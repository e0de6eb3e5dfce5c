"""A private Mosquitto for one test (simulator.broker), and a status-topic watcher."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulator.broker import free_port, private_broker

__all__ = ["Watcher", "free_port", "private_broker"]


class Watcher:
    """Subscribes to one topic and keeps every payload, in order."""

    def __init__(self, port: int, topic: str) -> None:
        self.payloads: list[str] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.payloads.append(msg.payload.decode())

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.payloads)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
