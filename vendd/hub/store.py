"""The hub's replica store: SQLAlchemy Core over SQLite (WAL, the default) or PostgreSQL.
The schema is created and upgraded by the Alembic migrations in `vendd/hub/migrations/`,
run when a `Store` opens a database for writing.

Tables (times are UNIX seconds, floats; `seq` and heads are the machines' journal numbers):

- `machines`: one row per machine id seen on the feed. `status` (`online`/`offline`, from
  the retained status and last will) and `status_at`; `state` (the retained JSON snapshot,
  as text) and `state_at`; `last_seen` (any message); `head_seq`, `head_hash`, `head_ts`: the
  verified head (every row 1..head_seq is held and chains to the genesis); `machine_head`:
  the head the machine itself last reported (replay responses); `gap_count`: open gaps;
  `alarm_count`: integrity alarms raised for it.
- `rows`: the replica, one row per `(machine, seq)`: `ts`, `kind`, `fields` (the canonical
  JSON text the hash covers), `hash`, `received_at`. Rows with seq <= the machine's head_seq
  are verified; rows above it wait for the rows before them. A verified row is never changed.
- `alarms`: integrity alarms, kept forever. `alarm` is `hash_mismatch` (another version of a
  row the hub holds), `new_genesis` (a new seq 1 under a known machine id), `broken_chain`
  (a row that does not chain from the verified head), `head_backwards` (the machine reports
  a head below the hub's). The other version is stored whole (`ts`, `kind`, `fields`,
  `hash`) beside `held_hash`, the hash of the version the hub keeps.
- `gaps`: missing ranges `first..last` above a machine's head, with `opened_at`,
  `closed_at` (NULL while open), `asks` (replay requests sent), `asked_at`, `next_ask_at`.

Writers: `add_rows` stores a batch and moves the heads in one transaction (safe with several
ingest workers: each machine's row is locked while its head moves). Readers, in
`store_reads.py`: `machines`, `machine`, `rows`, `gaps`, `alarms`."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from vendd.hub.chain import holes, walk
from vendd.hub.engine import make_engine, shown_url
from vendd.hub.records import Alarm, BatchResult, Gap, Machine, RowIn, StoreError
from vendd.hub.schema import alarms_t, gaps_t, machines_t, metadata, rows_t
from vendd.hub.store_reads import StoreReads, first_line

__all__ = ["Alarm", "BatchResult", "Gap", "Machine", "RowIn", "Store", "StoreError",
           "alarms_t", "gaps_t", "machines_t", "metadata", "rows_t"]

log = logging.getLogger(__name__)

WALK_BATCH = 5000  # rows read at a time while a head moves
INSERT_CHUNK = 200  # rows per INSERT statement (1,400 parameters: within any driver's limit)



class Store(StoreReads):
    """One per process (or per thread that writes). `migrate=False` opens without touching
    the schema (it must be current)."""

    def __init__(self, url: str, *, password_file: Path | None = None,
                 migrate: bool = True) -> None:
        self.url = url
        self.password_file = password_file
        self.engine = make_engine(url, password_file)
        self.dialect = self.engine.dialect.name
        mark = "%s" if self.engine.dialect.paramstyle in ("format", "pyformat") else "?"
        self._row_marks = f"({', '.join([mark] * 7)})"
        self._head_marks = f"({mark}, {mark}, {mark}, CAST({mark} AS VARCHAR(40)))"
        self._insert_rows_sql: dict[int, str] = {}  # by the number of rows in the statement
        self._known_machines: set[str] = set()  # ids whose row exists (see _ensure_machines)
        try:
            if migrate:
                from vendd.hub.migrate import upgrade

                upgrade(self.engine)
            with self.engine.connect() as conn:
                conn.execute(sa.select(sa.func.count()).select_from(machines_t))
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise StoreError(f"{shown_url(url)}: cannot open the hub's database: "
                             f"{first_line(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: sa.Table) -> Any:
        """INSERT with ON CONFLICT, in the dialect's own words."""
        from sqlalchemy.dialects import postgresql, sqlite

        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # --- writing -------------------------------------------------------------------------

    def add_rows(self, rows: Sequence[RowIn], now: float | None = None) -> BatchResult:
        """Store a batch once by (machine, seq), raise alarms for other versions of held rows,
        and move each touched machine's verified head, all in one transaction. A handful of
        statements per batch, whatever the number of machines in it."""
        now = time.time() if now is None else now
        result = BatchResult()
        batch: dict[tuple[str, int], RowIn] = {}
        rivals: list[RowIn] = []  # another version of a row earlier in the same batch
        for row in rows:
            held = batch.get((row.machine, row.seq))
            if held is None:
                batch[(row.machine, row.seq)] = row
            elif held.hash != row.hash:
                rivals.append(row)
            else:
                result.duplicates += 1
        machines = sorted({m for m, _ in batch})
        try:
            with self.engine.begin() as conn:
                self._ensure_machines(conn, machines, now)
                # The machines' rows are locked first (in one order, so workers never
                # deadlock): while this batch is written no other worker writes theirs.
                heads = self._lock_heads(conn, machines)
                fresh = self._store_batch(conn, batch, rivals, heads, now, result)
                moved = []
                for machine in machines:
                    head = self._advance(conn, machine, heads[machine],
                                         fresh.get(machine, []), now, result)
                    if head is not None:
                        moved.append(head)
                if moved:
                    self._move_heads(conn, moved)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store {len(rows)} rows: {first_line(exc)}") from exc
        self._known_machines.update(machines)  # committed
        return result

    def _ensure_machines(self, conn: Connection, ids: Iterable[str], now: float) -> None:
        ids = sorted(ids)
        if not ids:
            return
        # A machine's row is never deleted: once seen, it needs no INSERT again (this runs on
        # every batch, and building the statement costs more than running it).
        new = [m for m in ids if m not in self._known_machines]
        if new:
            stmt = self._insert(machines_t).on_conflict_do_nothing(index_elements=["id"])
            conn.execute(stmt.values([{"id": m, "first_seen": now, "last_seen": now}
                                      for m in new]))
        conn.execute(machines_t.update().where(machines_t.c.id.in_(ids)).values(last_seen=now))

    def _move_heads(self, conn: Connection, moved: list[tuple[str, int, str, str | None]],
                    ) -> None:
        """Every moved head in one statement (see _insert_rows)."""
        rows = ", ".join([self._head_marks] * len(moved))
        conn.exec_driver_sql(
            "UPDATE machines SET head_seq = CAST(v.column2 AS BIGINT), head_hash = v.column3, "
            f"head_ts = v.column4 FROM (VALUES {rows}) AS v WHERE machines.id = v.column1",
            tuple(value for head in moved for value in head))

    def _held(self, conn: Connection, batch: dict[tuple[str, int], RowIn],
              heads: dict[str, tuple[int, str, int]]) -> dict[tuple[str, int], str]:
        """The hashes the store holds for the batch's (machine, seq). With no gap open nothing
        is held above a machine's head, so a machine whose rows are all above it is not even
        asked about (the common case: live rows in order)."""
        spans: dict[str, list[int]] = {}
        for machine, seq in batch:
            span = spans.setdefault(machine, [seq, seq])
            span[0], span[1] = min(span[0], seq), max(span[1], seq)
        held: dict[tuple[str, int], str] = {}
        for machine, (low, high) in spans.items():
            head, _, gap_count = heads[machine]
            if gap_count == 0 and low > head:
                continue
            held.update(((machine, s), h) for s, h in conn.execute(
                sa.select(rows_t.c.seq, rows_t.c.hash).where(
                    rows_t.c.machine == machine, rows_t.c.seq.between(low, high))))
        return held

    def _store_batch(self, conn: Connection, batch: dict[tuple[str, int], RowIn],
                     rivals: list[RowIn], heads: dict[str, tuple[int, str, int]], now: float,
                     result: BatchResult) -> dict[str, list[RowIn]]:
        """Insert the rows the store does not hold; returns them by machine, in seq order."""
        held = self._held(conn, batch, heads)
        new: list[RowIn] = []
        for key, row in batch.items():
            known = held.get(key)
            if known is None:
                new.append(row)
            elif known == row.hash:
                result.duplicates += 1
            else:
                self._mismatch(conn, row, known, now, result)
        for row in rivals:
            known = held.get((row.machine, row.seq)) or batch[(row.machine, row.seq)].hash
            if known == row.hash:
                result.duplicates += 1
            else:
                self._mismatch(conn, row, known, now, result)
        if new:
            self._insert_rows(conn, new, now)
            result.inserted += len(new)
        fresh: dict[str, list[RowIn]] = defaultdict(list)
        for row in sorted(new):  # by machine, then seq
            fresh[row.machine].append(row)
        return fresh

    def _insert_rows(self, conn: Connection, rows: list[RowIn], now: float) -> None:
        """The hub's hottest statement, straight to the driver, INSERT_CHUNK rows per
        statement: one step per row would hand the interpreter lock to paho's thread and wait
        to get it back every time, which costs more than the insert."""
        for i in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[i:i + INSERT_CHUNK]
            sql = self._insert_rows_sql.get(len(chunk))
            if sql is None:
                sql = self._insert_rows_sql[len(chunk)] = (
                    "INSERT INTO rows (machine, seq, ts, kind, fields, hash, received_at) "
                    f"VALUES {', '.join([self._row_marks] * len(chunk))} "
                    "ON CONFLICT (machine, seq) DO NOTHING")
            conn.exec_driver_sql(sql, tuple(v for r in chunk for v in (*r, now)))

    def _mismatch(self, conn: Connection, row: RowIn, known: str, now: float,
                  result: BatchResult) -> None:
        alarm = "new_genesis" if row.seq == 1 else "hash_mismatch"
        self._alarm(conn, row.machine, row.seq, alarm, row, known, now, result,
                    f"row {row.seq} arrived with hash {row.hash[:16]}, the hub holds "
                    f"{known[:16]}")

    def _alarm(self, conn: Connection, machine: str, seq: int, alarm: str, row: RowIn | None,
               held_hash: str | None, now: float, result: BatchResult | None,
               detail: str) -> None:
        values = {"machine": machine, "seq": seq, "alarm": alarm, "detail": detail,
                  "hash": row.hash if row else "", "held_hash": held_hash,
                  "ts": row.ts if row else None, "kind": row.kind if row else None,
                  "fields": row.fields if row else None, "detected_at": now}
        stmt = self._insert(alarms_t).on_conflict_do_nothing(
            index_elements=["machine", "seq", "alarm", "hash"]).returning(alarms_t.c.id)
        if conn.execute(stmt, values).first() is not None:  # new: not raised before
            conn.execute(machines_t.update().where(machines_t.c.id == machine)
                         .values(alarm_count=machines_t.c.alarm_count + 1))
            log.error("INTEGRITY %s: %s: %s", machine, alarm, detail)
            if result is not None:
                result.alarms.append(f"{machine}: {alarm}: {detail}")

    def _lock_heads(self, conn: Connection, ids: list[str]) -> dict[str, tuple[int, str, int]]:
        query = (sa.select(machines_t.c.id, machines_t.c.head_seq, machines_t.c.head_hash,
                           machines_t.c.gap_count)
                 .where(machines_t.c.id.in_(ids)).order_by(machines_t.c.id))
        if self.dialect == "postgresql":
            query = query.with_for_update()  # two workers never move one head at once
        return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(query)}

    def _advance(self, conn: Connection, machine: str, head: tuple[int, str, int],
                 fresh: list[RowIn], now: float, result: BatchResult,
                 ) -> tuple[str, int, str, str | None] | None:
        """Move the head over what chains; returns the head's new values, or None."""
        seq, prev, gap_count = head
        start, head_ts = seq, None
        if gap_count == 0:
            # No gap: nothing was held above the head before this batch, so the batch's own
            # new rows are all there is to walk (no need to read them back).
            rows = [r[1:] for r in fresh if r.seq > seq]
            w = walk(seq, prev, rows)
            seq, prev, head_ts = w.head_seq, w.head_hash, w.head_ts
            if w.broken is not None:
                self._unchain(conn, machine, w.broken, prev, now, result)
            held_above = [r[0] for r in rows if r[0] > seq and r is not w.broken]
            broken = w.broken is not None
        else:
            while True:
                rows = [tuple(r) for r in conn.execute(
                    sa.select(rows_t.c.seq, rows_t.c.ts, rows_t.c.kind, rows_t.c.fields,
                              rows_t.c.hash)
                    .where(rows_t.c.machine == machine, rows_t.c.seq > seq)
                    .order_by(rows_t.c.seq).limit(WALK_BATCH))]
                w = walk(seq, prev, rows)
                seq, prev, head_ts = w.head_seq, w.head_hash, w.head_ts or head_ts
                if w.broken is not None:
                    self._unchain(conn, machine, w.broken, prev, now, result)
                if w.broken is not None or len(rows) < WALK_BATCH or w.verified < len(rows):
                    held_above = [r[0] for r in rows if r[0] > seq and r != w.broken]
                    broken = w.broken is not None
                    break
        if held_above or gap_count or broken:
            current = holes(seq, held_above)
            if broken and not current:
                current = [(seq + 1, seq + 1)]  # the row that did not chain is still missing
            self._sync_gaps(conn, machine, current, seq, now)
        if seq == start:
            return None
        result.advanced[machine] = seq
        return machine, seq, prev, head_ts

    def _unchain(self, conn: Connection, machine: str, row: tuple[Any, ...], prev: str,
                 now: float, result: BatchResult) -> None:
        """A row above the verified head that does not chain from it: not verifiable, so it
        moves to the alarms (kept) and its seq becomes a gap the machine is asked for."""
        r = RowIn(machine, *row)
        self._alarm(conn, machine, r.seq, "broken_chain", r, prev, now, result,
                    f"row {r.seq} ({r.kind}) does not chain from verified row {r.seq - 1}")
        conn.execute(rows_t.delete().where(rows_t.c.machine == machine, rows_t.c.seq == r.seq))

    def _sync_gaps(self, conn: Connection, machine: str, current: list[tuple[int, int]],
                   head: int, now: float) -> None:
        """Open a gap for each new hole, follow holes that shrink, close the gaps the head
        moved past. A gap with no held rows above it stays open: nothing says it filled."""
        open_ = conn.execute(sa.select(gaps_t).where(
            gaps_t.c.machine == machine, gaps_t.c.closed_at.is_(None))).all()
        still: set[int] = set()
        count = 0
        for first, last in current:
            match = next((g for g in open_ if g.first <= last and first <= g.last
                          and g.id not in still), None)
            count += 1
            if match is None:
                conn.execute(gaps_t.insert().values(machine=machine, first=first, last=last,
                                                    opened_at=now, next_ask_at=now))
                log.warning("%s: rows %d..%d are missing", machine, first, last)
                continue
            still.add(match.id)
            if (match.first, match.last) != (first, last):
                # Progress: ask for the rest at the keeper's next tick, not after the
                # grown back-off.
                conn.execute(gaps_t.update().where(gaps_t.c.id == match.id).values(
                    first=first, last=last, asks=0, next_ask_at=now))
        for g in open_:
            if g.id in still:
                continue
            if head >= g.last or any(f <= g.last and g.first <= la for f, la in current):
                conn.execute(gaps_t.update().where(gaps_t.c.id == g.id).values(closed_at=now))
                log.info("%s: rows %d..%d arrived, gap closed", machine, g.first, g.last)
                continue
            count += 1
            if head >= g.first:
                conn.execute(gaps_t.update().where(gaps_t.c.id == g.id).values(
                    first=head + 1, asks=0, next_ask_at=now))
        conn.execute(machines_t.update().where(machines_t.c.id == machine)
                     .values(gap_count=count))

    def set_status(self, machine: str, status: str, now: float | None = None) -> None:
        self._set(machine, {"status": status, "status_at": now or time.time()})

    def set_state(self, machine: str, state: str, now: float | None = None) -> None:
        self._set(machine, {"state": state, "state_at": now or time.time()})

    def _set(self, machine: str, values: dict[str, Any]) -> None:
        now = time.time()
        try:
            with self.engine.begin() as conn:
                self._ensure_machines(conn, [machine], now)
                conn.execute(machines_t.update().where(machines_t.c.id == machine)
                             .values(**values))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot update machine {machine}: {first_line(exc)}") from exc

    def machine_reports_head(self, machine: str, head: int, verified: int | None,
                             now: float | None = None) -> bool:
        """The machine says its journal ends at `head` (a replay answer). `verified`: the head
        the hub had verified when it asked (None: not known, e.g. asked before a restart). A
        head below it is an integrity alarm (rows went missing from the machine's journal);
        returns True when it raised one."""
        now = time.time() if now is None else now
        try:
            with self.engine.begin() as conn:
                self._ensure_machines(conn, [machine], now)
                conn.execute(machines_t.update().where(machines_t.c.id == machine)
                             .values(machine_head=head))
                if verified is not None and head < verified:
                    held = verified
                    result = BatchResult()
                    self._alarm(conn, machine, head, "head_backwards",
                                RowIn(machine, head, "", "", "", f"head:{head}"), None, now,
                                result, f"the machine's journal ends at {head}, the hub "
                                f"verified rows up to {held}")
                    return bool(result.alarms)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot record the head of {machine}: {first_line(exc)}") from exc
        return False

    def due_gaps(self, now: float, grace_s: float) -> list[Gap]:
        """Open gaps that stayed open past the grace time (since they opened or last
        changed) and whose next ask is due, by machine and position."""
        return [Gap(*r) for r in self._read(sa.select(gaps_t).where(
            gaps_t.c.closed_at.is_(None), gaps_t.c.opened_at <= now - grace_s,
            gaps_t.c.next_ask_at <= now).order_by(
                gaps_t.c.machine, gaps_t.c.first))]

    def claim_ask(self, gap: Gap, now: float, next_at: float) -> bool:
        """Record an ask; False when another worker asked for this gap first."""
        try:
            with self.engine.begin() as conn:
                done = conn.execute(gaps_t.update().where(
                    gaps_t.c.id == gap.id, gaps_t.c.closed_at.is_(None),
                    gaps_t.c.next_ask_at == gap.next_ask_at,
                ).values(asks=gaps_t.c.asks + 1, asked_at=now, next_ask_at=next_at))
                return bool(done.rowcount)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot update gap {gap.id}: {first_line(exc)}") from exc
