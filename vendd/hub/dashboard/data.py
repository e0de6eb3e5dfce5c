"""What the pages read: each machine's status and retained state from the store, and the
ledger's own reports over each machine's replica ledger (`vendd.hub.replica`)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.hub.config import HubConfig
from vendd.hub.replica import sync_replica
from vendd.hub.status import integrity
from vendd.hub.store import Machine, Store

# One replica ledger is brought up to date by one reader at a time (sync_replica takes a
# write lock on the file anyway; this keeps readers of one machine from queueing on SQLite).
_replica_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock_of(machine: str) -> threading.Lock:
    with _locks_lock:
        return _replica_locks.setdefault(machine, threading.Lock())


@contextlib.contextmanager
def replica(config: HubConfig, store: Store, machine: str) -> Iterator[sqlite_utils.Database]:
    tz = ZoneInfo(config.accounts_of(machine).timezone)
    with _lock_of(machine):
        db = sync_replica(store, config.store.replicas, machine, tz)
    try:
        yield db
    finally:
        db.close()


@dataclass
class MachineView:
    id: str
    name: str
    status: str  # online | offline | unknown
    last_seen: float
    age_s: float
    state: dict[str, Any]
    head_seq: int
    head_hash: str
    machine_head: int | None
    gaps: int
    alarms: int
    integrity: str
    faults: list[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return str(self.state.get("mode", "-"))

    @property
    def credit(self) -> int | None:
        return self.state.get("credit")

    @property
    def cash_box(self) -> int | None:
        return self.state.get("cash_box")

    @property
    def out_of_service(self) -> str | None:
        return self.state.get("out_of_service")

    @property
    def sales_today(self) -> dict[str, int]:
        return self.state.get("sales_today") or {"count": 0, "total": 0}


def parse_state(state: dict[str, Any] | str | None) -> dict[str, Any]:
    """The retained state snapshot (the store gives it parsed; older stores as text)."""
    if isinstance(state, str):
        try:
            state = json.loads(state)
        except ValueError:
            return {}
    return state if isinstance(state, dict) else {}


def machine_view(config: HubConfig, m: Machine, now: float | None = None) -> MachineView:
    state = parse_state(m.state)
    slots = state.get("slots") or {}
    faults = [str(f) for f in state.get("faults") or []]
    faults += [f"{sid}: {s['fault']}" for sid, s in sorted(slots.items())
               if isinstance(s, dict) and s.get("fault")]
    entry = config.machines.get(m.id)
    return MachineView(
        id=m.id, name=entry.name if entry and entry.name else m.id,
        status=m.status if m.status in ("online", "offline") else "unknown",
        last_seen=m.last_seen, age_s=(now or time.time()) - m.last_seen, state=state,
        head_seq=m.head_seq, head_hash=m.head_hash, machine_head=m.machine_head,
        gaps=m.gap_count, alarms=m.alarm_count, integrity=integrity(m), faults=faults)


def machine_views(config: HubConfig, store: Store) -> list[MachineView]:
    now = time.time()
    return [machine_view(config, m, now) for m in store.machines()]


def maker_names(db: sqlite_utils.Database) -> dict[str, str]:
    return dict(db.conn.execute("SELECT id, name FROM makers"))
