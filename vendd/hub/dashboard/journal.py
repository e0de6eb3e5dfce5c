"""Diario: a machine's replicated journal rows, newest first, filtered by kind, local days and
(for sale rows) maker; with the machine's verification status, open gaps and alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from vendd.hub.store import Store, rows_t
from vendd.ledger.statements import Period

PAGE = 200


@dataclass(frozen=True)
class JournalRow:
    seq: int
    ts: str
    local: str
    kind: str
    fields: dict[str, Any]
    hash: str
    verified: bool

    @property
    def who(self) -> str:
        f = self.fields
        return str(f.get("coordinator") or f.get("by") or f.get("payment") or "")


def kinds(store: Store, machine: str) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(
            sa.select(rows_t.c.kind).where(rows_t.c.machine == machine).distinct()
            .order_by(rows_t.c.kind))]


def journal_rows(store: Store, machine: str, tz: ZoneInfo, head: int, *,
                 kind: str | None = None, period: Period | None = None,
                 maker: str | None = None, before: int | None = None,
                 limit: int = PAGE) -> list[JournalRow]:
    c = rows_t.c
    q = sa.select(c.seq, c.ts, c.kind, c.fields, c.hash).where(c.machine == machine)
    if kind:
        q = q.where(c.kind == kind)
    if maker:
        # fields is the canonical JSON the hash covers: the maker is written exactly so.
        q = q.where(c.fields.contains(f'"maker":{json.dumps(maker)}', autoescape=True))
    if period is not None:
        first, after = period.utc_bounds(tz)
        if first is not None:
            q = q.where(c.ts >= first.astimezone(UTC).isoformat(timespec="microseconds"))
        if after is not None:
            q = q.where(c.ts < after.astimezone(UTC).isoformat(timespec="microseconds"))
    if before is not None:
        q = q.where(c.seq < before)
    q = q.order_by(c.seq.desc()).limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [JournalRow(seq, ts, _local(ts, tz), k, json.loads(f), h, seq <= head)
            for seq, ts, k, f, h in rows]


def _local(ts: str, tz: ZoneInfo) -> str:
    try:
        return datetime.fromisoformat(ts).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts
