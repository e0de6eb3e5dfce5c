"""The paho-mqtt client of the daemon: MQTT v5, client id, keepalive, persistent session,
TLS, username and password (systemd credential, file or environment), and a background connection
that keeps retrying with back-off.

paho callbacks run on paho's network thread, some under paho's own lock: everything
registered here must enqueue or set a flag and return."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from vendd.config import Config, MqttConfig, password_of, tls_context
from vendd.errors import ConfigError, TelemetryError
from vendd.telemetry.tls import tls_failure

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 120
MAX_INFLIGHT = 200  # paho's own QoS 1 window; the relay keeps its own bound on top

# CONNACK reason codes that retrying with the same settings will not fix.
_REFUSALS = {
    0x84: "unsupported_protocol",
    0x85: "client_id_rejected",
    0x86: "bad_credentials",
    0x87: "not_authorized",
    0x8A: "banned",
    0x8C: "bad_auth_method",
}
_V3_REFUSALS = {2: "client_id_rejected", 4: "bad_credentials", 5: "not_authorized"}


@dataclass(frozen=True)
class Topics:
    prefix: str
    machine: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.machine}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    def event(self, kind: str) -> str:
        return f"{self.base}/event/{kind}"

    @property
    def requests(self) -> str:
        return f"{self.base}/request/+"

    def request(self, action: str) -> str:
        return f"{self.base}/request/{action}"

    def response(self, action: str) -> str:
        return f"{self.base}/response/{action}"


def topics_of(config: Config) -> Topics:
    return Topics(config.mqtt.prefix.rstrip("/"), config.machine.id)


def client_id_of(config: Config) -> str:
    return config.mqtt.client_id or f"vendd-{config.machine.id}"


def read_password(mqtt: MqttConfig) -> str | None:
    """The password: systemd credential, file (mode-checked) or environment; see config.files."""
    try:
        return password_of(mqtt)
    except ConfigError as exc:
        raise TelemetryError("; ".join(exc.problems)) from exc


def make_client(mqtt: MqttConfig, client_id: str) -> paho.Client:
    """A configured, unconnected client (TLS and credentials set). Raises TelemetryError."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(MAX_INFLIGHT)
    client.max_queued_messages_set(0)  # unbounded: the relay bounds what it hands over
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    password = read_password(mqtt)
    if mqtt.username is not None:
        client.username_pw_set(mqtt.username, password)
    elif password is not None:
        raise TelemetryError("mqtt: a password is set but mqtt.username is not")
    if mqtt.tls is not None:
        # The same context `check-config` builds: chain and host name verified.
        try:
            client.tls_set_context(tls_context(mqtt.tls))
        except ConfigError as exc:
            raise TelemetryError("; ".join(exc.problems)) from exc
    return client


def connect_properties(session_expiry_s: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    # A v5 persistent session needs SessionExpiryInterval > 0 (clean_start=False is not enough).
    props.SessionExpiryInterval = session_expiry_s
    return props


def refusal(reason_code: ReasonCode | int) -> str | None:
    """The fault code of a CONNACK refusal that needs a person (credentials, ACL), or None."""
    value = reason_code.value if isinstance(reason_code, ReasonCode) else int(reason_code)
    if isinstance(reason_code, ReasonCode):
        return _REFUSALS.get(value)
    return _V3_REFUSALS.get(value)


class Connection:
    """The daemon's one MQTT connection. Components register callbacks before `start()`:

    - `on_connected(client)`: after every successful CONNACK (resubscribe, republish retained);
    - `on_message[topic_filter](message)`: paho's thread; enqueue and return;
    - `on_ack(mid, ok)`: a QoS 1 PUBACK; `ok` is False when its reason code is a failure (the
      broker refused the message, e.g. an ACL): enqueue and return (paho holds its lock here);
    - `on_refused(code, detail)` / `on_accepted()`: credentials refused / connection works."""

    def __init__(self, mqtt: MqttConfig, client_id: str, topics: Topics) -> None:
        self.mqtt = mqtt
        self.topics = topics
        self.client = make_client(mqtt, client_id)
        # Last will: the broker says `offline` for us when we vanish (kill -9, power cut).
        self.client.will_set(topics.status, "offline", qos=1, retain=True)
        self.connected = threading.Event()
        self.on_connected: list[Callable[[paho.Client], None]] = []
        self.on_message: dict[str, Callable[[paho.MQTTMessage], None]] = {}
        self.on_ack: Callable[[int, bool], None] = lambda mid, ok: None
        self.on_refused: Callable[[str, str], None] = lambda code, detail: None
        self.on_accepted: Callable[[], None] = lambda: None
        self._refused: str | None = None
        self._failures = 0
        self._publish_refusals = 0  # refused PUBACKs in a row (logged once per streak)
        self._stopping = False
        c = self.client
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_publish = self._published
        c.on_connect_fail = self._connect_failed

    def start(self) -> None:
        for topic_filter, callback in self.on_message.items():
            self.client.message_callback_add(topic_filter, _message_handler(callback))
        props = connect_properties(self.mqtt.session_expiry_s)
        try:
            self.client.connect_async(self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s,
                                      clean_start=False, properties=props)
        except ValueError as exc:
            raise TelemetryError(f"mqtt: cannot connect to {self.mqtt.host}: {exc}") from exc
        self.client.loop_start()
        log.info("connecting to mqtt%s://%s:%d", "s" if self.mqtt.tls else "",
                 self.mqtt.host, self.mqtt.port)

    def stop(self) -> None:
        """Say `offline` ourselves (a clean stop sends no will), then disconnect."""
        self._stopping = True
        if self.connected.is_set():
            self.client.publish(self.topics.status, "offline", qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    # --- paho's thread ------------------------------------------------------------------------

    def _connected(self, client: paho.Client, userdata: Any, flags: Any,
                   reason_code: ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            self._refused_by_broker(reason_code)
            return
        if self._refused is not None or self._failures:
            log.info("mqtt connection works again")
        else:
            log.info("connected to the mqtt broker (session present: %s)",
                     getattr(flags, "session_present", None))
        self._refused = None
        self._failures = 0
        for topic_filter in self.on_message:
            # Retain as published: a retained request keeps its flag even when it arrives live,
            # so the requests handler can refuse it every time, not only after a restart.
            client.subscribe(topic_filter, options=SubscribeOptions(qos=1, retainAsPublished=True))
        client.publish(self.topics.status, "online", qos=1, retain=True)
        self.connected.set()
        self.on_accepted()
        for callback in self.on_connected:
            callback(client)

    def _refused_by_broker(self, reason_code: ReasonCode) -> None:
        code = refusal(reason_code) or "refused"
        detail = f"broker {self.mqtt.host}:{self.mqtt.port} refused the connection: {reason_code}"
        if self._refused != code:
            # Once per outage, not once per retry; paho keeps backing off up to RECONNECT_MAX_S.
            log.error("%s (check mqtt.username and the password; retrying with back-off)",
                      detail)
            self._refused = code
            self.on_refused(code, detail)

    def _disconnected(self, client: paho.Client, userdata: Any, flags: Any,
                      reason_code: ReasonCode, properties: Properties | None) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:
            log.warning("mqtt connection lost (%s); reconnecting", reason_code)

    def _connect_failed(self, client: paho.Client, userdata: Any) -> None:
        self._failures += 1
        # paho calls this inside its `except OSError`: the exception says why.
        tls = tls_failure(sys.exc_info()[1])
        if tls is not None:
            code, detail = tls
            if self._refused != code:  # once per cause, not once per retry
                log.error("mqtt broker %s:%d: %s; retrying with back-off", self.mqtt.host,
                          self.mqtt.port, detail)
                self._refused = code
                self.on_refused(code, detail)
            return
        if self._failures in (1, 10) or self._failures % 100 == 0:
            log.warning("cannot reach the mqtt broker %s:%d (attempt %d); retrying",
                        self.mqtt.host, self.mqtt.port, self._failures)

    def _published(self, client: paho.Client, userdata: Any, mid: int,
                   reason_code: ReasonCode, properties: Properties | None) -> None:
        ok = not reason_code.is_failure
        if not ok:
            self._publish_refusals += 1
            if self._publish_refusals == 1:
                log.error("the broker refused message %d: %s", mid, reason_code)
            else:
                log.debug("the broker refused message %d: %s", mid, reason_code)
        elif self._publish_refusals:
            log.info("the broker accepts messages again (%d refused)", self._publish_refusals)
            self._publish_refusals = 0
        self.on_ack(mid, ok)


def _message_handler(callback: Callable[[paho.MQTTMessage], None]) -> Callable[..., None]:
    def handler(client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        callback(message)

    return handler
