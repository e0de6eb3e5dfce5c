"""The reading half of the hub's replica store (see `store.py` for the tables): machines, their
rows, gaps and alarms, each read in its own short connection."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from vendd.hub.records import Alarm, Gap, Machine, StoreError
from vendd.hub.schema import alarms_t, gaps_t, machines_t, rows_t


class StoreReads:
    """What every page, report and alert rule reads; `Store` adds the writing."""

    engine: Engine

    def _read(self, query: Any) -> list[Any]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query).all())
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the hub's database: {first_line(exc)}") from exc

    def machines(self) -> list[Machine]:
        return [_machine(r) for r in self._read(sa.select(machines_t).order_by(machines_t.c.id))]

    def machine(self, machine: str) -> Machine | None:
        found = self._read(sa.select(machines_t).where(machines_t.c.id == machine))
        return _machine(found[0]) if found else None

    def gaps(self, machine: str | None = None, open_only: bool = True) -> list[Gap]:
        query = sa.select(gaps_t).order_by(gaps_t.c.id)
        if machine is not None:
            query = query.where(gaps_t.c.machine == machine)
        if open_only:
            query = query.where(gaps_t.c.closed_at.is_(None))
        return [Gap(*r) for r in self._read(query)]

    def alarms(self, machine: str | None = None) -> list[Alarm]:
        query = sa.select(alarms_t).order_by(alarms_t.c.id)
        if machine is not None:
            query = query.where(alarms_t.c.machine == machine)
        return [Alarm(*r) for r in self._read(query)]

    def rows(self, machine: str, after: int = 0, limit: int = 5000, *,
             upto: int | None = None) -> list[tuple[int, str, str, str, str]]:
        """(seq, ts, kind, fields, hash) with seq > after (and <= upto), in order."""
        query = (sa.select(rows_t.c.seq, rows_t.c.ts, rows_t.c.kind, rows_t.c.fields,
                           rows_t.c.hash)
                 .where(rows_t.c.machine == machine, rows_t.c.seq > after)
                 .order_by(rows_t.c.seq).limit(limit))
        if upto is not None:
            query = query.where(rows_t.c.seq <= upto)
        return [tuple(r) for r in self._read(query)]

    def verified_rows(self, machine: str, after: int = 0, limit: int = 5000,
                      ) -> list[tuple[int, str, str, str, str]]:
        m = self.machine(machine)
        return [] if m is None else self.rows(machine, after, limit, upto=m.head_seq)

    def row_count(self, machine: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(rows_t)
        if machine is not None:
            query = query.where(rows_t.c.machine == machine)
        return int(self._read(query)[0][0])


def _machine(r: Any) -> Machine:
    state = None
    if r.state:
        try:
            state = json.loads(r.state)
        except ValueError:
            state = None
    return Machine(r.id, r.first_seen, r.last_seen, r.status, r.status_at, state, r.state_at,
                   r.head_seq, r.head_hash, r.head_ts, r.machine_head, r.gap_count,
                   r.alarm_count)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
