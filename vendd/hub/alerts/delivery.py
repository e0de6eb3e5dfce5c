"""Deliveries on their own thread, so a slow or broken channel never holds up ingest or the
rules: the thread sends what is due in the outbox, marks it delivered, or records the error
and tries again later (back-off from `retry_min_s`, doubling up to `retry_max_s`). The outbox
lives in the database, so what a stopped hub had not delivered goes out when it starts again.

The same thread keeps `<prefix>/alerts` up to date: the open alerts as one retained JSON
message, published again whenever they change and after every reconnect."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from vendd.errors import TelemetryError
from vendd.hub.alerts import texts
from vendd.hub.alerts.channels import (
    Channel,
    ChannelError,
    EmailChannel,
    Notice,
    TelegramChannel,
    WebhookChannel,
)
from vendd.hub.alerts.routing import Links, links_of, message, shown_params
from vendd.hub.alerts.store import Alert, AlertStore, Delivery
from vendd.hub.config import HubConfig
from vendd.hub.store import StoreError
from vendd.telemetry.client import make_client

log = logging.getLogger(__name__)

IDLE_S = 1.0  # the longest the thread sleeps between looks at the outbox


def build_channels(config: HubConfig) -> dict[str, Channel]:
    al = config.alerts
    out: dict[str, Channel] = {}
    if al.smtp is not None:
        out["email"] = EmailChannel(al.smtp)
    if al.webhook is not None:
        out["webhook"] = WebhookChannel(al.webhook)
    if al.telegram is not None:
        out["telegram"] = TelegramChannel(al.telegram)
    return out


def address_of(config: HubConfig, person: str, channel: str) -> str:
    p = config.alerts.people.get(person)
    if p is None:
        raise ChannelError(f"{person}: no longer under [alerts.people]")
    address = {"email": p.email, "telegram": p.telegram_chat_id,
               "webhook": p.webhook_to or person}.get(channel)
    if not address:
        raise ChannelError(f"{person}: no address for {channel} under [alerts.people.{person}]")
    return address


class Outbox:
    """Sends the due deliveries (`run_once`); `DeliveryThread` calls it in a loop."""

    def __init__(self, config: HubConfig, alerts: AlertStore, *,
                 clock: Callable[[], float] = time.time,
                 channels: dict[str, Channel] | None = None, links: Links | None = None,
                 ) -> None:
        self.config = config
        self.alerts = alerts
        self.clock = clock
        self.channels = build_channels(config) if channels is None else channels
        self.links = links_of(config) if links is None else links

    def run_once(self) -> int:
        """Try every due delivery once; the number delivered."""
        sent = 0
        for d in self.alerts.due(self.clock()):
            alert = self.alerts.alert(d.alert_id)
            if alert is None:
                continue
            try:
                self._send(d, alert)
            except ChannelError as exc:
                al = self.config.alerts
                wait = min(al.retry_max_s, al.retry_min_s * 2 ** d.attempts)
                log.warning("alert %d to %s by %s: %s (again in %.0f s)", alert.id, d.person,
                            d.channel, exc, wait)
                self.alerts.failed(d.id, str(exc), self.clock() + wait)
            else:
                self.alerts.delivered(d.id, self.clock())
                sent += 1
        return sent

    def _send(self, d: Delivery, alert: Alert) -> None:
        channel = self.channels.get(d.channel)
        if channel is None:
            raise ChannelError(f"channel {d.channel} is not configured")
        address = address_of(self.config, d.person, d.channel)
        person = self.config.alerts.people[d.person]
        short, body = message(self.config, self.links, alert, d.notice, d.person,
                              person.language)
        channel.send(Notice(alert.id, alert.key, alert.rule, alert.machine, alert.slot,
                            d.notice, d.person, short, body, self.clock()), address)


class AlertsTopic:
    """`<prefix>/alerts`: the open alerts, retained (a clean session of its own)."""

    def __init__(self, config: HubConfig) -> None:
        mq = config.mqtt
        self.config = config
        self.topic = f"{mq.prefix.rstrip('/')}/alerts"
        try:
            self.client = make_client(mq.client_config(), mq.client_id + "-alerts")
        except TelemetryError as exc:
            raise TelemetryError(f"alerts mqtt: {exc}") from exc
        self.client.on_connect = self._on_connect
        self.connected = threading.Event()
        self._last: bytes | None = None

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any,
                    props: Any = None) -> None:
        if not rc.is_failure:
            self._last = None  # the broker may have lost the retained message
            self.connected.set()

    def start(self) -> None:
        mq = self.config.mqtt
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.connect_async(mq.host, mq.port, mq.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def payload(self, open_alerts: list[Alert]) -> bytes:
        items = []
        for a in open_alerts:
            items.append({
                "id": a.id, "key": a.key, "machine": a.machine, "rule": a.rule,
                "slot": a.slot, "maker": a.maker, "opened_at": a.opened_at,
                "acked_by": a.acked_by,
                "text": texts.line(a.rule, "es", shown_params(self.config, a)),
            })
        return json.dumps(items, ensure_ascii=False, sort_keys=True).encode()

    def refresh(self, open_alerts: list[Alert]) -> None:
        if not self.connected.is_set():
            return
        body = self.payload(open_alerts)
        if body == self._last:
            return
        info = self.client.publish(self.topic, body, qos=1, retain=True)
        if info.rc == paho.MQTT_ERR_SUCCESS:
            self._last = body


class DeliveryThread:
    def __init__(self, outbox: Outbox, topic: AlertsTopic | None) -> None:
        self.outbox = outbox
        self.topic = topic
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.topic is not None:
            self.topic.start()
        self._thread = threading.Thread(target=self._run, name="alerts-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.topic is not None:
            self.topic.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.outbox.run_once()
                if self.topic is not None:
                    self.topic.refresh(self.outbox.alerts.open_alerts())
            except StoreError as exc:
                log.warning("alerts delivery: %s", exc)
            except Exception:  # the thread's boundary: the next round tries again
                log.exception("alerts delivery: a round failed")
            self.wake.wait(IDLE_S)
            self.wake.clear()
