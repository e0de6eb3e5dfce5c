"""Test tools for the alerts: simulated machines that publish, through the broker, what a
daemon publishes (hash-chained journal rows in the feed's format, the retained status and
state), the hub's real ingest into a real store, and the alert engine on a clock the test
moves (so no test sleeps through minutes)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from support import wait_for

from vendd.hub.alerts.engine import Engine
from vendd.hub.alerts.store import Alert, AlertStore
from vendd.hub.config import HubConfig
from vendd.hub.ingest import Ingest
from vendd.hub.store import Store
from vendd.ledger.journal import GENESIS, canonical, chain_hash

PREFIX = "coop"


class Clock:
    """Real time plus an offset the test moves forward (the hub stamps status and rows with
    real time; the rules compare them with this clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def slot(stock: int, maker: str = "rosa", product: str = "Bolso", fault: str | None = None,
         ) -> dict[str, Any]:
    return {"product": product, "maker": maker, "price": 350, "stock": stock, "capacity": 8,
            "enabled": True, "fault": fault}


@dataclass
class FeedMachine:
    """One machine's side of the feed, published by a paho client of its own."""

    id: str
    port: int
    seq: int = 0
    prev: str = GENESIS
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    cash_box: int = 0
    clock: Callable[[], float] = time.time  # the time its rows carry

    def __post_init__(self) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id=f"sim-{self.id}-{uuid.uuid4().hex[:6]}")
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        self.held: dict[int, bytes] = {}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(f"{PREFIX}/{self.id}/{topic}", payload, qos=1,
                            retain=retain).wait_for_publish(10)

    def status(self, value: str) -> None:
        self._publish("status", value, retain=True)

    def state(self) -> None:
        body = {"machine": self.id, "mode": "idle", "credit": 0, "currency": "USD",
                "decimals": 2, "cash_box": self.cash_box, "out_of_service": False,
                "faults": sorted(self.faults), "vending": None, "slots": self.slots,
                "sales_today": {"count": 0, "total": 0}}
        self._publish("state", json.dumps(body), retain=True)

    def row(self, kind: str, send: bool = True, **fields: Any) -> int:
        """Append a journal row (chained like the machine's) and publish it unless `send`
        is False (a row lost on the way: a gap); returns its seq."""
        self.seq += 1
        ts = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="microseconds")
        text = canonical(fields)
        self.prev = chain_hash(self.prev, self.seq, ts, kind, text)
        payload = (f'{{"seq":{self.seq},"ts":"{ts}","kind":"{kind}","fields":{text},'
                   f'"hash":"{self.prev}"}}').encode()
        self.held[self.seq] = payload
        if send:
            self._publish(f"event/{kind}", payload)
        return self.seq

    def resend(self, seq: int) -> None:
        kind = json.loads(self.held[seq])["kind"]
        self._publish(f"event/{kind}", self.held[seq])

    def forged(self, seq: int) -> None:
        """Another version of a row the hub holds (a rewritten ledger)."""
        body = json.loads(self.held[seq])
        body["fields"]["amount"] = 1
        body["hash"] = "f" * 64
        self._publish(f"event/{body['kind']}", json.dumps(body).encode())


def hub_config(folder: Path, port: int, url: str | None = None,
               stock: dict[str, Any] | None = None, **alerts: Any) -> HubConfig:
    base: dict[str, Any] = {
        "renotify_minutes": 30,
        "webhook": {"url": "http://127.0.0.1:9/unused"},
        "people": {
            "coord": {"role": "coordinator", "channels": ["webhook"]},
            "rosa": {"role": "maker", "maker": "rosa", "channels": ["webhook"]},
            "luz": {"role": "maker", "maker": "luz", "channels": ["webhook"]},
        },
        "opening": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                  "sun")},
    }
    base.update(alerts)
    return HubConfig(
        mqtt={"host": "127.0.0.1", "port": port, "prefix": PREFIX,
              "client_id": f"hub-{uuid.uuid4().hex[:6]}", "keepalive_s": 5},
        store={"url": url or f"sqlite:///{folder / 'hub.db'}",
               "replicas": str(folder / "replicas")},
        gaps={"grace_s": 3600},  # nobody answers replay here; keep the log quiet
        stock=stock or {}, alerts=base)


class World:
    """A store fed by the real ingest from the broker, and an engine on a test clock."""

    def __init__(self, config: HubConfig, url: str | None = None) -> None:
        self.config = config
        self.url = url or config.store.url
        self.clock = Clock()
        self.store = Store(self.url)
        self.ingest = Ingest(config, self.store)
        self.ingest.start()
        wait_for(self.ingest.connected.is_set, 10, "the hub's ingest to connect")
        self.engine = Engine(config, self.store, clock=self.clock)
        self.alerts = AlertStore(self.store.engine)

    def restart(self) -> None:
        """A hub restart: ingest, store and engine anew over the same database."""
        offset = self.clock.offset
        self.close()
        self.__init__(self.config, self.url)  # type: ignore[misc]
        self.clock.offset = offset

    def close(self) -> None:
        self.ingest.stop()
        self.store.close()

    def tick(self) -> None:
        self.engine.tick()

    def open(self, machine: str, rule: str | None = None) -> list[Alert]:
        return [a for a in self.alerts.open_alerts()
                if a.machine == machine and (rule is None or a.rule == rule)]

    def until_open(self, machine: str, rule: str, timeout: float = 10) -> Alert:
        def opened() -> Alert | None:
            self.tick()
            found = self.open(machine, rule)
            return found[0] if found else None
        return wait_for(opened, timeout, f"a {rule} alert on {machine}")  # type: ignore[no-any-return]

    def until_closed(self, alert: Alert, timeout: float = 10) -> Alert:
        def closed() -> Alert | None:
            self.tick()
            a = self.alerts.alert(alert.id)
            return a if a is not None and a.closed_at is not None else None
        return wait_for(closed, timeout, f"{alert.key} to close")  # type: ignore[no-any-return]

    def notices(self, alert: Alert, person: str | None = None) -> list[str]:
        return [d.notice for d in self.alerts.deliveries(alert.id)
                if person is None or d.person == person]
