"""What the hub's store takes and gives back: plain frozen records, no database types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vendd.errors import StoreError

__all__ = ["Alarm", "BatchResult", "Gap", "Machine", "RowIn", "StoreError"]


class RowIn(NamedTuple):
    """A journal row as it came off the feed (a tuple: one is made per row received)."""

    machine: str
    seq: int
    ts: str
    kind: str
    fields: str  # canonical JSON text
    hash: str


@dataclass(frozen=True)
class Machine:
    id: str
    first_seen: float
    last_seen: float
    status: str | None
    status_at: float | None
    state: dict[str, Any] | None
    state_at: float | None
    head_seq: int
    head_hash: str
    head_ts: str | None
    machine_head: int | None
    gap_count: int
    alarm_count: int


@dataclass(frozen=True)
class Gap:
    id: int
    machine: str
    first: int
    last: int
    opened_at: float
    closed_at: float | None
    asks: int
    asked_at: float | None
    next_ask_at: float


@dataclass(frozen=True)
class Alarm:
    id: int
    machine: str
    seq: int
    alarm: str
    ts: str | None
    kind: str | None
    fields: str | None
    hash: str
    held_hash: str | None
    detail: str
    detected_at: float


@dataclass
class BatchResult:
    inserted: int = 0
    duplicates: int = 0
    alarms: list[str] = field(default_factory=list)
    advanced: dict[str, int] = field(default_factory=dict)  # machine -> new head


