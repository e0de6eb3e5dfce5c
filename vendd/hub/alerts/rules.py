"""The rules: what is wrong right now, read from the replica.

Condition rules look at each machine's status, retained state and open gaps, and at the
time of its last sale: `evaluate` returns the conditions that hold now (by key), and the keys
whose alert must neither open nor close now (`held`: no-sale outside opening hours).

Event rules (a short payout, lost coin events, an integrity alarm) open an alert per event as
the verified rows and the alarms are read (`EventScanner`, from stored cursors); such an alert
ends when a person acknowledges it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from vendd.hub.alerts.schedule import is_open, open_seconds
from vendd.hub.alerts.store import AlertStore
from vendd.hub.alerts_config import AlertsConfig
from vendd.hub.config import HubConfig
from vendd.hub.store import Machine, Store

EVENT_RULES = frozenset({"owed", "lost_coins", "integrity"})
SCAN_BATCH = 5000


@dataclass(frozen=True)
class Condition:
    key: str
    machine: str
    rule: str
    slot: str | None = None
    maker: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _cond(m: str, rule: str, item: str | None = None, **kw: Any) -> Condition:
    key = f"{m}/{rule}" + (f"/{item}" if item else "")
    return Condition(key, m, rule, **kw)


@dataclass
class Evaluation:
    conditions: dict[str, Condition] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)

    def add(self, c: Condition) -> None:
        self.conditions[c.key] = c


def evaluate(config: HubConfig, store: Store, cursors: dict[str, int], now: float,
             ) -> Evaluation:
    al = config.alerts
    out = Evaluation()
    machines = store.machines()
    for m in machines:
        _machine_rules(al, config, m, cursors, now, out)
    for gap in store.gaps(open_only=True):
        minutes = al.rules_of(gap.machine).gap_minutes
        if now - gap.opened_at >= minutes * 60:
            out.add(_cond(gap.machine, "gap", str(gap.id),
                          params={"first": gap.first, "last": gap.last,
                                  "minutes": int((now - gap.opened_at) // 60)}))
    return out


def _machine_rules(al: AlertsConfig, config: HubConfig, m: Machine, cursors: dict[str, int],
                   now: float, out: Evaluation) -> None:
    r = al.rules_of(m.id)
    since = m.status_at if m.status == "offline" and m.status_at else m.last_seen
    if m.status != "online" and now - since >= r.offline_minutes * 60:
        out.add(_cond(m.id, "offline", params={"minutes": int((now - since) // 60)}))
    state = m.state or {}
    slots: dict[str, dict[str, Any]] = state.get("slots") or {}
    for slot_id, slot in slots.items():
        maker, product = slot.get("maker"), slot.get("product", "")
        common = {"slot": slot_id, "maker": maker}
        params = {"product": product, "stock": slot.get("stock", 0)}
        stock = int(slot.get("stock") or 0)
        if slot.get("enabled", True):
            if stock <= 0 and r.slot_empty:
                out.add(_cond(m.id, "slot_empty", slot_id, params=params, **common))
            elif r.slot_low and _low(config, m.id, slot_id, stock, slot.get("capacity")):
                out.add(_cond(m.id, "slot_low", slot_id, params=params, **common))
        if slot.get("fault") and r.faults:
            out.add(_cond(m.id, "jam", slot_id, params={**params, "fault": slot["fault"]},
                          **common))
    if r.faults:
        for device in state.get("faults") or []:
            out.add(_cond(m.id, "device_fault", str(device), params={"device": device}))
    box = state.get("cash_box")
    if r.cash_box_capacity and isinstance(box, int) \
            and box * 100 >= r.cash_box_capacity * r.cash_box_near_percent:
        out.add(_cond(m.id, "cash_box", params={
            "percent": box * 100 // r.cash_box_capacity, "amount": box}))
    if r.no_sale_hours is not None:
        key = f"{m.id}/no_sale"
        tz = ZoneInfo(config.accounts_of(m.id).timezone)
        opening = al.opening_of(m.id)
        if not is_open(opening, tz, now):
            out.held.add(key)  # the museum is closed: no sale is expected
            return
        last = float(cursors.get(f"sale:{m.id}", 0)) or m.first_seen
        hours = open_seconds(opening, tz, last, now) / 3600
        if hours >= r.no_sale_hours:
            out.add(_cond(m.id, "no_sale", params={"hours": int(hours)}))


def _low(config: HubConfig, machine: str, slot: str, stock: int, capacity: Any) -> bool:
    th = config.stock.for_slot(machine, slot)
    cap = capacity if isinstance(capacity, int) else 0
    return stock > 0 and (stock <= cap * th.low_fraction
                          or (th.low_at is not None and stock <= th.low_at))


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


class EventScanner:
    """Reads each machine's verified rows and the alarms past the stored cursors, opening an
    alert per event in the same transaction that moves the cursor."""

    def __init__(self, config: HubConfig, store: Store, alerts: AlertStore,
                 on_open: Callable[[Connection, int, Condition, float], None]) -> None:
        self.config = config
        self.store = store
        self.alerts = alerts
        self.on_open = on_open

    def scan(self, now: float) -> None:
        al = self.config.alerts
        cursors = self.alerts.cursors()
        for m in self.store.machines():
            name = f"rows:{m.id}"
            after = cursors.get(name, 0)
            while after < m.head_seq:
                rows = self.store.rows(m.id, after, SCAN_BATCH, upto=m.head_seq)
                if not rows:
                    break
                r = al.rules_of(m.id)
                oldest = now - al.events_within_hours * 3600
                with self.alerts.begin() as conn:
                    last_sale = None
                    for seq, ts, kind, text, _hash in rows:
                        found = self._event(m.id, seq, kind, text, r.owed, r.lost_coins)
                        if found is not None and _epoch(ts) >= oldest:
                            self._open(conn, found, now)
                        if kind == "sale":
                            last_sale = ts
                    after = rows[-1][0]
                    self.alerts.set_cursor(conn, name, after)
                    if last_sale is not None:
                        self.alerts.set_cursor(conn, f"sale:{m.id}", int(_epoch(last_sale)))
        self._alarms(cursors.get("alarms", 0), now)

    def _event(self, machine: str, seq: int, kind: str, text: str, owed: bool,
               lost: bool) -> Condition | None:
        if kind == "payout" and owed:
            f = json.loads(text)
            if f.get("owed", 0) > 0:
                return _cond(machine, "owed", str(seq),
                             params={"amount": f["owed"], "seq": seq})
        if kind == "device_fault" and lost:
            f = json.loads(text)
            if f.get("code") == "lost_events":
                return _cond(machine, "lost_coins", str(seq),
                             params={"device": f.get("device", ""), "seq": seq})
        return None

    def _alarms(self, after: int, now: float) -> None:
        fresh = [a for a in self.store.alarms() if a.id > after]
        if not fresh:
            return
        with self.alerts.begin() as conn:
            for a in fresh:
                if self.config.alerts.rules_of(a.machine).integrity:
                    self._open(conn, _cond(a.machine, "integrity", str(a.id),
                                           params={"alarm": a.alarm, "seq": a.seq}), now)
            self.alerts.set_cursor(conn, "alarms", max(a.id for a in fresh))

    def _open(self, conn: Connection, c: Condition, now: float) -> None:
        alert_id = self.alerts.insert(conn, c.key, c.machine, c.rule, c.slot, c.maker,
                                      c.params, now)
        if alert_id is not None:
            self.on_open(conn, alert_id, c, now)
