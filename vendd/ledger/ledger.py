"""The ledger: the journal plus its projection tables, written in one transaction per step."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from vendd.commands import Fact
from vendd.errors import LedgerError
from vendd.ledger import kinds, projection
from vendd.ledger.db import connect
from vendd.ledger.journal import GENESIS, JournalRow, canonical, chain_hash, row_from_db, utc_now
from vendd.ledger.schema import migrate

WRITE_WAIT_S = 10.0  # how long a journal write waits for another writer (see Ledger)


@dataclass(frozen=True)
class SlotRecord:
    id: str
    product: str
    maker: str
    price: int
    config_price: int
    capacity: int
    stock: int
    enabled: bool
    fault: str | None
    count_me: bool = False  # the stock is uncertain until someone counts the spiral


@dataclass(frozen=True)
class OpenVend:
    vend: int
    slot: str
    price: int
    payment: str
    dropped: bool = False  # its product fell (a sale): only the motor had not finished


@dataclass(frozen=True)
class MachineRecord:
    credit: int
    cash_box: int
    out_of_service: str | None
    open_vend: OpenVend | None
    device_faults: dict[str, str]


class Ledger:
    """Owned by one thread (the controller). Readers open their own connection."""

    def __init__(self, path: str | Path, tz: ZoneInfo | str = "UTC",
                 clock: Callable[[], str] = utc_now) -> None:
        self.path = Path(path)
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._clock = clock
        # A sale waits out a disk that stalls another writer (the relay storing its position,
        # `vendd export-dex --reset`) rather than stop the machine; well inside systemd's
        # WatchdogSec (15 s), which a controller stuck longer ends anyway.
        self.db: sqlite_utils.Database = connect(self.path, busy_s=WRITE_WAIT_S)
        migrate(self.db)
        self._seq, self._hash = self._read_head()

    def close(self) -> None:
        self.db.close()

    def _read_head(self) -> tuple[int, str]:
        row = self.db.conn.execute(
            "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy timeout), so
        the head read inside cannot go stale before the insert."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @property
    def head(self) -> tuple[int, str]:
        return self._seq, self._hash

    def append(self, facts: Sequence[Fact]) -> list[JournalRow]:
        """Journal every fact and apply it to the state tables, all or nothing."""
        if not facts:
            return []
        for fact in facts:  # before the transaction: a malformed fact writes nothing
            kinds.validate(fact.kind, fact.fields)
        conn = self.db.conn
        rows: list[JournalRow] = []
        try:
            with self._write_transaction():
                # Read the head under the write lock: another writer (`vendd export-dex
                # --reset` while the daemon runs) may have appended since our last write.
                seq, prev = self._read_head()
                for fact in facts:
                    seq += 1
                    ts = self._clock()
                    body = canonical(fact.fields)
                    digest = chain_hash(prev, seq, ts, fact.kind, body)
                    conn.execute(
                        "INSERT INTO journal (seq, ts, kind, fields, hash) VALUES (?, ?, ?, ?, ?)",
                        (seq, ts, fact.kind, body, digest),
                    )
                    projection.apply(conn, seq, ts, fact.kind, fact.fields, self.tz)
                    rows.append(JournalRow(seq, ts, fact.kind, dict(fact.fields), digest))
                    prev = digest
        except (sqlite3.Error, KeyError) as exc:
            raise LedgerError(f"cannot journal {[f.kind for f in facts]}: {exc}") from exc
        self._seq, self._hash = seq, prev
        return rows

    # --- reading --------------------------------------------------------------------------

    def slots(self) -> list[SlotRecord]:
        cur = self.db.conn.execute(
            "SELECT s.id, p.name, p.maker, s.price, s.config_price, s.capacity, s.stock, "
            "s.enabled, s.fault, s.count_me FROM slots s JOIN products p ON p.id = s.product "
            "ORDER BY s.id"
        )
        return [SlotRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8],
                           bool(r[9])) for r in cur]

    def makers(self) -> dict[str, str]:
        return dict(self.db.conn.execute("SELECT id, name FROM makers"))

    def machine(self) -> MachineRecord:
        r = self.db.conn.execute(
            "SELECT credit, cash_box, out_of_service, open_vend, open_vend_slot, "
            "open_vend_price, open_vend_payment, open_vend_dropped FROM machine WHERE id = 1"
        ).fetchone()
        open_vend = OpenVend(r[3], r[4], r[5], r[6], bool(r[7])) if r[3] is not None else None
        faults = dict(self.db.conn.execute("SELECT device, code FROM device_faults"))
        return MachineRecord(r[0], r[1], r[2], open_vend, faults)

    def device_counter(self, device: str) -> tuple[int, int] | None:
        """The last (serial number, event counter) journaled for a device that buffers its
        events, newest first from the head: the rows a restart takes the buffer up from."""
        row = self.db.conn.execute(
            "SELECT json_extract(fields, '$.serial'), json_extract(fields, '$.counter') "
            "FROM journal WHERE kind IN ('credit', 'coin_counter') "
            "AND json_extract(fields, '$.device') = ? "
            "AND json_extract(fields, '$.counter') IS NOT NULL ORDER BY seq DESC LIMIT 1",
            (device,),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def last_vend_id(self) -> int:
        return self.db.conn.execute("SELECT vends FROM machine WHERE id = 1").fetchone()[0]


def read_rows(db: sqlite_utils.Database, after: int, limit: int = 500) -> list[JournalRow]:
    """Journal rows with seq > after, in order (for the relay and the exports)."""
    cur = db.conn.execute(
        "SELECT seq, ts, kind, fields, hash FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    )
    return [row_from_db(*r) for r in cur]


def iter_rows(db: sqlite_utils.Database, batch: int = 5000) -> Iterator[JournalRow]:
    after = 0
    while rows := read_rows(db, after, batch):
        yield from rows
        after = rows[-1].seq


def open_readonly(path: str | Path) -> sqlite_utils.Database:
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: no such ledger file")
    return connect(path, readonly=True)
