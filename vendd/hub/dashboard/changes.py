"""Cambios: a coordinator's change to a machine, signed by the hub with that coordinator's
Ed25519 key (`vendd.telemetry.signing`, the same envelope `vendd request` sends) and
published on `<prefix>/<machine>/request/<action>` (QoS 1, never retained, with a message
expiry so the broker drops it if the machine stays away too long). The machine answers on
`<prefix>/<machine>/response/<action>`; the answer and the journal row that closed the
request (its `seq`) are kept in `web_changes` beside what was sent, and the live stream is
told.

The key of coordinator `<username>` is `<web.keys>/<username>.pem` (made by
`vendd hub user add --role coordinator`); the machine knows its public half from its own
`[[mqtt.requests.coordinators]]` entry, with the username as `id`."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import sqlalchemy as sa
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from vendd.errors import TelemetryError, VenddError
from vendd.hub.config import HubConfig
from vendd.hub.store import Store
from vendd.telemetry.client import make_client
from vendd.telemetry.signing import (
    SigningError,
    generate_key,
    load_private_key,
    next_counter,
    private_key_pem,
    sign_request,
)

log = logging.getLogger(__name__)

ACTIONS = ("set_price", "set_stock", "disable_slot", "enable_slot", "out_of_service",
           "back_in_service")
SLOT_ACTIONS = ("set_price", "set_stock", "disable_slot", "enable_slot")

meta = sa.MetaData()
changes_t = sa.Table(
    "web_changes", meta,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("machine", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("coordinator", sa.String(64), nullable=False),
    sa.Column("sent_at", sa.Float, nullable=False),
    sa.Column("answer", sa.Text),
    sa.Column("answered_at", sa.Float),
    sa.Column("seq", sa.BigInteger),
)


class ChangeError(VenddError):
    """A change that cannot be sent (bad value, no key, no broker)."""


@dataclass(frozen=True)
class Change:
    request_id: str
    machine: str
    action: str
    body: dict[str, Any]
    coordinator: str
    sent_at: float
    answer: dict[str, Any] | None
    answered_at: float | None
    seq: int | None


def key_path(config: HubConfig, username: str) -> Path:
    return config.web.keys / f"{username}.pem"


def make_key(config: HubConfig, username: str) -> str:
    """A new Ed25519 key for a coordinator (mode 0600); returns its public half (base64)."""
    from vendd.telemetry.signing import public_key_text

    path = key_path(config, username)
    key = generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.touch(mode=0o600)
        partial.write_bytes(private_key_pem(key))
        partial.replace(path)
    except OSError as exc:
        raise ChangeError(f"cannot write the key {path}: {exc.strerror}") from exc
    return public_key_text(key)


def body_of(action: str, slot: str, value: str, decimals: int) -> dict[str, Any]:
    """The action's own fields from the form's text; ChangeError naming what is wrong."""
    if action not in ACTIONS:
        raise ChangeError(f"unknown action {action!r}")
    body: dict[str, Any] = {}
    if action in SLOT_ACTIONS:
        slot = slot.strip().upper()
        if not slot:
            raise ChangeError("slot: required")
        body["slot"] = slot
    value = value.strip()
    if action == "set_price":
        try:
            amount = Decimal(value.replace(",", "."))
        except InvalidOperation:
            raise ChangeError(f"price {value!r}: write it like 2.50") from None
        cents = amount * 10**decimals
        if cents != cents.to_integral_value() or cents <= 0:
            raise ChangeError(f"price {value!r}: a positive amount in whole cents")
        body["price"] = int(cents)
    elif action == "set_stock":
        if not value.isdigit():
            raise ChangeError(f"stock {value!r}: a whole number")
        body["stock"] = int(value)
        body["reason"] = "restock"
    elif action == "out_of_service" and value:
        body["reason"] = value[:80]
    return body


class Sender:
    """One MQTT connection for the web side: publishes signed requests, collects answers."""

    def __init__(self, config: HubConfig, store: Store,
                 on_answer: Callable[[], None] | None = None) -> None:
        self.config = config
        self.store = store
        self.on_answer = on_answer
        self.prefix = config.mqtt.prefix.rstrip("/")
        self._connected = threading.Event()
        self.client: paho.Client | None = None

    def start(self) -> None:
        mq = self.config.mqtt
        self.client = make_client(mq.client_config(), f"{mq.client_id}-web-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        try:
            self.client.connect_async(mq.host, mq.port, mq.keepalive_s)
        except (OSError, ValueError) as exc:
            raise TelemetryError(f"mqtt {mq.host}:{mq.port}: {exc}") from exc
        self.client.loop_start()

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode,
                    properties: Any) -> None:
        if rc.is_failure:
            log.warning("dashboard: the broker refused the connection: %s", rc)
            return
        client.subscribe(f"{self.prefix}/+/response/+", qos=1)
        self._connected.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, rc: ReasonCode,
                       properties: Any) -> None:
        self._connected.clear()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            answer = json.loads(msg.payload)
            rid = answer["request_id"]
        except (ValueError, KeyError, TypeError):
            return
        if not isinstance(rid, str) or not isinstance(answer, dict):
            return
        seq = answer.get("seq")
        try:
            with self.store.engine.begin() as conn:
                done = conn.execute(changes_t.update().where(
                    changes_t.c.request_id == rid, changes_t.c.answer.is_(None)).values(
                    answer=json.dumps(answer, ensure_ascii=False), answered_at=time.time(),
                    seq=seq if isinstance(seq, int) else None)).rowcount
        except sa.exc.SQLAlchemyError as exc:
            log.warning("dashboard: cannot store the answer to %s: %s", rid, exc)
            return
        if done and self.on_answer is not None:
            self.on_answer()

    def send(self, coordinator: str, machine: str, action: str, body: dict[str, Any],
             ) -> str:
        """Sign and publish; returns the request id. ChangeError when it cannot be sent."""
        try:
            key = load_private_key(key_path(self.config, coordinator))
            request = sign_request(key, coordinator, next_counter(), action, body,
                                   machine=machine)
        except SigningError as exc:
            raise ChangeError(str(exc)) from exc
        if self.client is None or not self._connected.wait(5.0):
            raise ChangeError(f"no connection to the broker {self.config.mqtt.host}:"
                              f"{self.config.mqtt.port}")
        rid = request["request_id"]
        with self.store.engine.begin() as conn:
            conn.execute(changes_t.insert().values(
                request_id=rid, machine=machine, action=action,
                body=json.dumps(body, ensure_ascii=False), coordinator=coordinator,
                sent_at=time.time()))
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = self.config.web.request_ttl_s
        info = self.client.publish(f"{self.prefix}/{machine}/request/{action}",
                                   json.dumps(request, ensure_ascii=False), qos=1,
                                   properties=props)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ChangeError(f"the broker did not take the request ({info.rc})")
        return str(rid)


def recent(store: Store, limit: int = 30) -> list[Change]:
    c = changes_t.c
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(c.request_id, c.machine, c.action, c.body,
                                      c.coordinator, c.sent_at, c.answer, c.answered_at, c.seq)
                            .order_by(c.sent_at.desc()).limit(limit)).all()
    return [Change(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5],
                   json.loads(r[6]) if r[6] else None, r[7], r[8]) for r in rows]
