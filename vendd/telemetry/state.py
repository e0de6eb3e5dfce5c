"""`<p>/<id>/state`: a retained JSON snapshot of the machine, republished on change and
coalesced (a burst of coins becomes one snapshot per `min_interval_s`).

The controller calls `update(state)` after every step: it stores a reference and sets a flag.
A small thread builds and publishes the JSON."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
import sqlite_utils

from vendd.errors import LedgerError
from vendd.ledger.db import connect
from vendd.machine import State
from vendd.telemetry.client import Topics
from vendd.worker import FaultLatch, Post, Worker

log = logging.getLogger(__name__)


def snapshot(state: State, machine: str, sales_today: dict[str, int] | None = None,
             ) -> dict[str, Any]:
    s = state.settings
    return {
        "machine": machine,
        "mode": state.mode.value,
        "credit": state.credit,
        "currency": s.currency,
        "decimals": s.decimals,
        "cash_box": state.cash_box,
        "out_of_service": state.out_of_service,
        "faults": sorted(state.faults),
        "vending": state.vend.slot if state.vend is not None else None,
        "slots": {
            slot.id: {
                "product": slot.product,
                "maker": slot.maker,
                "price": slot.price,
                "stock": slot.stock,
                "capacity": slot.capacity,
                "enabled": slot.enabled,
                "fault": slot.fault,
            }
            for slot in sorted(state.slots.values(), key=lambda x: x.id)
        },
        "sales_today": sales_today or {"count": 0, "total": 0},
    }


def sales_on(db: sqlite_utils.Database, day: str) -> dict[str, int]:
    count, total = db.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(price), 0) FROM sales WHERE day = ?", (day,)
    ).fetchone()
    return {"count": int(count), "total": int(total)}


class StatePublisher(Worker):
    def __init__(self, client: paho.Client, topics: Topics, connected: threading.Event,
                 ledger_path: str | Path, tz: str, *, min_interval_s: float = 0.5,
                 device: str = "mqtt") -> None:
        super().__init__("mqtt-state", [FaultLatch(device)])
        self._client = client
        self._topics = topics
        self._connected = connected
        self._path = Path(ledger_path)
        self._tz = ZoneInfo(tz)
        self._min_interval_s = min_interval_s
        self._latest: State | None = None
        self._changed = threading.Event()
        self._force = False
        self._last_payload: bytes | None = None
        self._db: sqlite_utils.Database | None = None
        self._opened = False

    def update(self, state: State) -> None:
        """Controller thread: remember the newest state and return."""
        self._latest = state
        self._changed.set()

    def republish(self) -> None:
        """After a (re)connect: the broker may have lost the retained snapshot."""
        self._force = True
        self._changed.set()

    def start(self, post: Post | None = None) -> None:
        """`post`: where a bug in the thread is reported (the controller's queue)."""
        self.start_worker(post)

    def stop(self) -> None:
        self.stop_worker(5)

    # --- the thread ---------------------------------------------------------------------------

    def wake(self) -> None:
        self._changed.set()

    def turn(self) -> bool:
        if not self._opened:
            self._opened = True
            try:
                self._db = connect(self._path, readonly=True)
            except LedgerError as exc:
                log.warning("state snapshots go without today's sales: %s", exc)
        self._changed.wait()
        self._changed.clear()
        if not self.stopping:
            self._publish(self._db)
            # Coalesce: changes during this pause go out together in the next snapshot.
            self.pause(self._min_interval_s)
        return True

    def go_safe(self) -> None:
        self._force = True  # whatever went out half-made is replaced by the next snapshot
        self._changed.set()

    def finish(self) -> None:
        try:
            self._publish(self._db)
        finally:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _publish(self, db: sqlite_utils.Database | None) -> None:
        state = self._latest
        if state is None or not self._connected.is_set():
            return
        today = None
        if db is not None:
            try:
                today = sales_on(db, datetime.now(self._tz).date().isoformat())
            except sqlite3.Error as exc:
                log.warning("cannot count today's sales: %s", exc)
        payload = json.dumps(snapshot(state, self._topics.machine, today), ensure_ascii=False,
                             separators=(",", ":")).encode()
        if payload == self._last_payload and not self._force:
            return
        self._force = False
        self._last_payload = payload
        self._client.publish(self._topics.state, payload, qos=1, retain=True)
