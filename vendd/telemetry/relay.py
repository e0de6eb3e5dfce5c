"""The relay: journal rows -> `<p>/<id>/event/<kind>` at QoS 1, in `seq` order, at least once.

A thread with its own ledger connection. It hands at most `window` unacknowledged rows to
paho, learns of PUBACKs through a queue fed by `on_publish` (paho holds its own lock there),
and stores in the `relay` table the highest seq below which the broker acknowledged every row.
After a restart it publishes again from there; paho itself re-sends what was in flight when a
connection drops. Consumers dedupe by `(machine, seq)`.

A PUBACK with a failure reason code (the broker refused the row, e.g. an ACL) is not an ack:
the stored position stays below that row, `on_fault("publish_refused", ...)` is called and the
refused rows are published again with back-off (later rows keep flowing meanwhile, so a
retried row can arrive after newer ones). Any exception in the thread is logged, reported with
`on_fault("relay_error", ...)`, and the loop starts again from the stored position after a
back-off. `on_recovered()` is called once rows are acknowledged again.

The controller only calls `wake()`, which never blocks."""

from __future__ import annotations

import collections
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import paho.mqtt.client as paho
import sqlite_utils

from vendd.ledger import JournalRow
from vendd.ledger.db import connect
from vendd.ledger.journal import canonical
from vendd.telemetry.client import Topics
from vendd.worker import Worker

log = logging.getLogger(__name__)

RELAY_NAME = "mqtt"
IDLE_S = 0.5  # how often an idle relay looks at the connection and the stop flag
# Draining a backlog (a full batch out), the relay waits this long for PUBACKs to gather: fewer
# wake-ups leave paho's network thread the interpreter (measured: 0.002 s drained 10,000 rows
# at 0.71 of a bare paho loop's speed, 0.02 s at 0.81). A single sale is never held by it.
ACK_LINGER_S = 0.02
RETRY_MIN_S = 1.0  # first re-send of refused rows; doubles up to RETRY_MAX_S
RETRY_MAX_S = 60.0
RESTART_MIN_S = 1.0  # first restart after the thread failed; doubles up to RESTART_MAX_S
RESTART_MAX_S = 60.0
_WAKE: Final = object()


def raw_payload(seq: int, ts: str, kind: str, machine: str, fields_json: str,
                hash_: str) -> bytes:
    """The feed's JSON for one journal row, built around the row's stored fields text (the
    canonical JSON the hash covers) instead of decoding and encoding it again. `fields` stays
    an object so a consumer can recompute the chain: sha256(prev|seq|ts|kind|fields)."""
    # ts (ISO time), kind (an identifier) and hash (hex) are written by the ledger itself and
    # never hold a quote or a backslash: they are quoted as they are. The machine id comes
    # from the config, so it is encoded properly.
    return (f'{{"seq":{seq:d},"ts":"{ts}","kind":"{kind}",'
            f'"machine":{json.dumps(machine)},"fields":{fields_json},'
            f'"hash":"{hash_}"}}').encode()


def payload_of(row: JournalRow, machine: str) -> bytes:
    return raw_payload(row.seq, row.ts, row.kind, machine, canonical(row.fields), row.hash)


def read_raw(db: sqlite_utils.Database, after: int, limit: int,
             ) -> list[tuple[int, str, str, str, str]]:
    """(seq, ts, kind, fields JSON, hash) with seq > after, in order, undecoded.

    The batch comes back as ONE value that SQLite joins in C: Python's sqlite3 lets go of
    the GIL at every row it steps, and with paho's network thread busy each of those hand-offs
    can cost a whole switch interval. Separators 0x1E/0x1F never occur in the columns (JSON
    escapes control characters; time, kind and hash are plain ASCII)."""
    (joined,) = db.conn.execute(
        "SELECT group_concat(seq || char(31) || ts || char(31) || kind || char(31) || fields"
        " || char(31) || hash, char(30)) FROM (SELECT seq, ts, kind, fields, hash FROM journal"
        " WHERE seq > ? ORDER BY seq LIMIT ?)",
        (after, limit),
    ).fetchone()
    if not joined:
        return []
    rows = []
    for record in joined.split("\x1e"):
        seq, ts, kind, fields, hash_ = record.split("\x1f")
        rows.append((int(seq), ts, kind, fields, hash_))
    rows.sort()  # an aggregate's order is not promised
    return rows


def load_acked(db: sqlite_utils.Database, name: str = RELAY_NAME) -> int:
    row = db.conn.execute("SELECT acked_seq FROM relay WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def save_acked(db: sqlite_utils.Database, seq: int, name: str = RELAY_NAME) -> None:
    db.conn.execute(
        "INSERT INTO relay (name, acked_seq) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET acked_seq = excluded.acked_seq",
        (name, seq),
    )


class Relay(Worker):
    backoff_start_s = RESTART_MIN_S
    backoff_max_s = RESTART_MAX_S

    def __init__(self, ledger_path: str | Path, client: paho.Client, topics: Topics,
                 connected: threading.Event, *, window: int = 4000, batch: int = 1000,
                 save_interval_s: float = 0.25, name: str = RELAY_NAME) -> None:
        super().__init__("mqtt-relay")
        if not 1 <= window < 65535:
            raise ValueError("window must be between 1 and 65534 (MQTT packet ids)")
        self._path = Path(ledger_path)
        self._client = client
        self._topics = topics
        self._connected = connected
        self._window = window
        self._batch = batch
        self._save_interval_s = save_interval_s
        self._name = name
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._woken = threading.Event()
        self._stop_deadline: float | None = None
        self.ready = threading.Event()
        self._progress = threading.Condition()
        # Called on the relay thread; they must not block (the daemon posts to the controller).
        self.on_fault: Callable[[str, str], None] = lambda code, detail: None
        self.on_recovered: Callable[[], None] = lambda: None
        # Relay-thread state.
        self._pending: dict[int, int] = {}  # mid -> seq, handed to paho, not yet acked
        self._outstanding: collections.deque[int] = collections.deque()  # seqs, in order
        self._done: set[int] = set()  # acked seqs above a gap
        self._sent = 0
        self._acked = 0
        self._saved = 0
        self._saved_at = 0.0
        self._retry: set[int] = set()  # refused seqs waiting to be published again
        self._retry_at: float | None = None
        self._retry_backoff = RETRY_MIN_S
        self._refused: set[int] = set()  # refused seqs not acknowledged since
        self._faulted = False  # a fault was reported and rows have not flowed since

    # --- other threads ------------------------------------------------------------------------

    def acked(self, mid: int, ok: bool = True) -> None:
        """paho's on_publish (under paho's lock): enqueue and return. `ok` False: the broker
        refused the message (a failure reason code in the PUBACK)."""
        self._queue.put((mid, ok))

    @property
    def acked_seq(self) -> int:
        return self._acked

    @property
    def sent_seq(self) -> int:
        return self._sent

    def wait_acked(self, seq: int, timeout: float) -> bool:
        """Block until the broker acked every row up to `seq` (tests, benchmarks, shutdown)."""
        with self._progress:
            return self._progress.wait_for(lambda: self._acked >= seq, timeout)

    def start(self) -> None:
        self.start_worker()

    def stop(self, drain_s: float = 2.0) -> None:
        """Stop after publishing what is journaled, waiting for acks up to `drain_s`."""
        self._stop_deadline = time.monotonic() + drain_s
        self._stopping.set()
        self.stop_worker(drain_s + 5)

    def wake(self) -> None:
        """New journal rows exist (controller thread, after each step), or stop: enqueue and
        return."""
        if not self._woken.is_set() or self.stopping:
            self._woken.set()
            self._queue.put(_WAKE)

    # --- the relay thread ---------------------------------------------------------------------

    def turn(self) -> bool:
        """Serve until stopped: returns only then. Any exception is the Worker's: reported as
        `relay_error`, and serving starts again from the stored position after a back-off."""
        try:
            self._serve()
        finally:
            self.ready.set()
        return True

    def report_bug(self, detail: str) -> None:
        self._report("relay_error", detail)

    def _serve(self) -> None:
        """Publish from the stored position until stopped. Raises on any failure (the ledger
        cannot be opened or read, paho raising): `_run` starts it again."""
        db = connect(self._path)
        try:
            # The stored position is only where to resume: one lost to a power cut publishes
            # a few rows again, which the hub takes once. Not waiting for the disk while it
            # holds the write lock keeps the controller's journal writes from queueing behind.
            db.conn.execute("PRAGMA synchronous=NORMAL")
            self._resume(load_acked(db, self._name))
            log.info("relay resumes after seq %d", self._acked)
            self.ready.set()
            while True:
                # The stop request is read before the journal: rows journaled before the stop
                # was asked are then published in this pass, even when the stop and their
                # wake-ups came together while this thread waited (a busy machine).
                stopping = self._stop_deadline is not None
                more = self._connected.is_set() and self._publish_some(db)
                if self._connected.is_set():
                    self._publish_refused(db)
                if stopping and self._finished(more):
                    break
                self._take(block=not more)
                self._advance()
                self._save(db, force=False)
        finally:
            self._save(db, force=True)
            db.close()

    def _resume(self, acked: int) -> None:
        """Start (again) from the stored position: what was in flight is published again."""
        self._acked = self._saved = self._sent = acked
        self._pending.clear()
        self._outstanding.clear()
        self._done.clear()
        self._retry.clear()
        self._refused.clear()
        self._retry_at = None

    def _finished(self, more: bool) -> bool:
        assert self._stop_deadline is not None
        drained = not more and not self._outstanding
        return drained or not self._connected.is_set() or time.monotonic() >= self._stop_deadline

    def _publish_some(self, db: sqlite_utils.Database) -> bool:
        """Hand the next rows to paho; True when there may be more to send right away."""
        room = self._window - len(self._outstanding)
        # Refill in batches, not one row per ack: wait until a quarter of the window is free.
        if room < min(self._batch, self._window // 4 or 1) and self._outstanding:
            return False
        limit = min(room, self._batch)
        try:
            rows = read_raw(db, self._sent, limit)
        except sqlite3.OperationalError as exc:  # busy/locked: try again shortly
            log.warning("relay cannot read the journal yet: %s", exc)
            return False
        machine, event = self._topics.machine, self._topics.event
        for seq, ts, kind, fields_json, hash_ in rows:
            payload = raw_payload(seq, ts, kind, machine, fields_json, hash_)
            info = self._client.publish(event(kind), payload, qos=1)
            # NO_CONN: queued by paho and sent after the reconnect (seen with paho 2.2).
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                log.error("cannot hand seq %d to paho: %s", seq, paho.error_string(info.rc))
                return False
            self._pending[info.mid] = seq
            self._outstanding.append(seq)
            self._sent = seq
        return len(rows) == limit

    def _publish_refused(self, db: sqlite_utils.Database) -> None:
        """Publish the refused rows again once their back-off is over."""
        if self._retry_at is None or time.monotonic() < self._retry_at:
            return
        seqs = sorted(self._retry)
        try:
            rows = db.conn.execute(
                "SELECT seq, ts, kind, fields, hash FROM journal WHERE seq BETWEEN ? AND ? "
                "ORDER BY seq", (seqs[0], seqs[-1])).fetchall()
        except sqlite3.OperationalError as exc:  # busy/locked: try again shortly
            log.warning("relay cannot read the journal yet: %s", exc)
            return
        log.info("publishing %d refused row(s) again", len(seqs))
        machine, event = self._topics.machine, self._topics.event
        for seq, ts, kind, fields_json, hash_ in rows:
            if seq not in self._retry:
                continue
            payload = raw_payload(seq, ts, kind, machine, fields_json, hash_)
            info = self._client.publish(event(kind), payload, qos=1)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                log.error("cannot hand seq %d to paho: %s", seq, paho.error_string(info.rc))
                self._retry_at = time.monotonic() + self._retry_backoff
                return
            self._pending[info.mid] = seq
            self._retry.discard(seq)
        self._retry_at = None

    def _refuse(self, seq: int) -> None:
        """The broker refused `seq`: keep it unacked and publish it again after a back-off."""
        self._retry.add(seq)
        self._refused.add(seq)
        if self._retry_at is not None:
            return  # already scheduled with this batch of refusals
        delay = self._retry_backoff
        self._retry_at = time.monotonic() + delay
        self._retry_backoff = min(delay * 2, RETRY_MAX_S)
        self._report("publish_refused",
                      f"the broker refused journal row {seq} (check its ACL); the relay "
                      f"keeps it and publishes it again in {delay:.0f} s")

    def _report(self, code: str, detail: str) -> None:
        if self._faulted:
            log.debug("relay: %s: %s", code, detail)
        else:
            log.error("relay: %s: %s", code, detail)
        self._faulted = True
        self.on_fault(code, detail)

    def _recovered(self) -> None:
        log.info("the broker acknowledges the feed again")
        self._faulted = False
        self._retry_backoff = RETRY_MIN_S
        self.reset_backoff()
        self.on_recovered()

    def _take(self, block: bool) -> None:
        try:
            item = self._queue.get(timeout=IDLE_S) if block else self._queue.get_nowait()
        except queue.Empty:
            return
        if block and len(self._outstanding) >= self._batch:
            # A full window drains fast: let PUBACKs gather instead of waking once per ack.
            time.sleep(ACK_LINGER_S)
        while True:
            if item is _WAKE:
                self._woken.clear()
            elif isinstance(item, tuple):
                mid, ok = item
                seq = self._pending.pop(mid, None)
                if seq is None:
                    pass  # from before a restart: that row is published again
                elif ok:
                    self._done.add(seq)
                    self._refused.discard(seq)
                else:
                    self._refuse(seq)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return

    def _advance(self) -> None:
        out, done, before = self._outstanding, self._done, self._acked
        while out and out[0] in done:
            done.discard(out[0])
            self._acked = out.popleft()
        if self._acked != before:
            with self._progress:
                self._progress.notify_all()
            if self._faulted and not self._refused:
                self._recovered()

    def _save(self, db: sqlite_utils.Database, force: bool) -> None:
        if self._acked == self._saved:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < self._save_interval_s:
            return
        try:
            save_acked(db, self._acked, self._name)
        except sqlite3.Error as exc:
            log.warning("cannot store the relay position %d yet: %s", self._acked, exc)
            return
        self._saved, self._saved_at = self._acked, now
