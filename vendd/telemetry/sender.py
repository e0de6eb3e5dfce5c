"""Send one request to a machine and wait for its answer: what `vendd request` does, and what
any coordinator's tool can reuse. Subscribes to `response/<action>` first, then publishes the
request at QoS 1 with an MQTT 5 message expiry (never retained), and returns the first answer
that carries the same `request_id`."""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from vendd.errors import TelemetryError
from vendd.telemetry.client import Topics


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    prefix: str
    machine: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None  # TLS with this CA; None: plain TCP

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix.rstrip("/"), self.machine)


def publish_properties(ttl_s: int) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = ttl_s
    return props


def send_request(target: Target, action: str, request: dict[str, Any], *, ttl_s: int,
                 timeout_s: float) -> dict[str, Any]:
    """The machine's answer to `request`. Raises TelemetryError when the broker cannot be
    reached or refuses us, or when no answer comes within `timeout_s`."""
    rid = request.get("request_id")
    topics = target.topics
    answer: dict[str, Any] = {}
    got = threading.Event()
    ready = threading.Event()
    failure: list[str] = []

    def on_connect(client: paho.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                   properties: Any) -> None:
        if reason_code.is_failure:
            failure.append(f"the broker refused the connection: {reason_code}")
            ready.set()
            return
        client.subscribe(topics.response(action), qos=1)

    def on_subscribe(client: paho.Client, userdata: Any, mid: int, codes: Any,
                     properties: Any) -> None:
        if any(code.is_failure for code in codes):
            failure.append(f"the broker refused the subscription to {topics.response(action)}")
        ready.set()

    def on_message(client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return  # not an answer of the machine's
        if isinstance(body, dict) and body.get("request_id") == rid and not got.is_set():
            answer.update(body)
            got.set()

    client = paho.Client(CallbackAPIVersion.VERSION2,
                         client_id=f"vendd-request-{uuid.uuid4().hex[:8]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    if target.username is not None:
        client.username_pw_set(target.username, target.password)
    if target.ca_file is not None:
        try:
            client.tls_set(ca_certs=str(target.ca_file), cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise TelemetryError(f"cannot load the CA file {target.ca_file}: {exc}") from exc
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    where = f"{target.host}:{target.port}"
    try:
        client.connect(target.host, target.port, keepalive=30)
    except (OSError, ValueError) as exc:
        raise TelemetryError(f"cannot connect to the MQTT broker at {where}: {exc}") from exc
    client.loop_start()
    try:
        if not ready.wait(timeout_s):
            raise TelemetryError(f"the MQTT broker at {where} did not answer in {timeout_s:g} s")
        if failure:
            raise TelemetryError(f"{where}: {failure[0]}")
        payload = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        client.publish(topics.request(action), payload, qos=1, retain=False,
                       properties=publish_properties(ttl_s))
        if not got.wait(timeout_s):
            raise TelemetryError(
                f"no answer from machine {target.machine} on {topics.response(action)} within "
                f"{timeout_s:g} s (is it online, and is {action} enabled in its config?)")
        return answer
    finally:
        client.disconnect()
        client.loop_stop()
