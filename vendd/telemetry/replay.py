"""`request/replay {from, to}`: the hub asks for journal rows it is missing; the machine
publishes them again on `event/<kind>`, exactly as the relay did (same payload, QoS 1).

Read-only and rate-limited: one replay at a time, at most MAX_ROWS rows per request, published
at most RATE_ROWS_S rows a second, and the next request is taken MIN_INTERVAL_S after the last
one finished. A request that comes too soon is answered `ok: false` with the wait; the hub
asks again with back-off. The answer carries the machine's head, so the hub also learns where
this journal ends (a head below what the hub verified is an integrity alarm there)."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from vendd.errors import LedgerError
from vendd.ledger.db import connect
from vendd.telemetry.actions import ReplayRequest
from vendd.telemetry.client import Topics
from vendd.telemetry.relay import raw_payload, read_raw

log = logging.getLogger(__name__)

MAX_ROWS = 5000
RATE_ROWS_S = 2000.0
MIN_INTERVAL_S = 1.0
CHUNK = 250


class Replayer:
    """Answers on the requests worker; publishes on its own thread."""

    def __init__(self, ledger_path: str | Path, client: paho.Client, topics: Topics, *,
                 clock: Callable[[], float] = time.monotonic,
                 rate_rows_s: float = RATE_ROWS_S, max_rows: int = MAX_ROWS,
                 min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._path = Path(ledger_path)
        self._client = client
        self._topics = topics
        self._clock = clock
        self._rate = rate_rows_s
        self._max_rows = max_rows
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._busy = False
        self._next_at = 0.0
        self._jobs: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._db: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(5)

    def answer(self, request: ReplayRequest) -> dict[str, Any]:
        rid = request.request_id
        with self._lock:
            wait = self._next_at - self._clock()
            if self._busy or wait > 0:
                return {"request_id": rid, "ok": False,
                        "error": f"replay is rate-limited: ask again in "
                                 f"{max(wait, self._min_interval_s):.0f} s"}
            try:
                head = self._head()
            except (LedgerError, sqlite3.Error) as exc:
                log.error("replay cannot read the journal: %s", exc)
                return {"request_id": rid, "ok": False, "error": "the ledger cannot be read now"}
            last = min(request.end, head, request.start + self._max_rows - 1)
            count = max(0, last - request.start + 1)
            if count:
                self._busy = True
                self._jobs.put((request.start, last))
        log.info("replay %s: rows %d..%d of %d", rid, request.start, last, head)
        return {"request_id": rid, "ok": True, "from": request.start, "to": last,
                "rows": count, "head": head}

    def _head(self) -> int:
        if self._db is None:
            self._db = connect(self._path, readonly=True)
        return int(self._db.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal")
                   .fetchone()[0])

    def _run(self) -> None:
        db = None
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    if db is None:
                        db = connect(self._path, readonly=True)
                    self._publish(db, *job)
                except (LedgerError, sqlite3.Error) as exc:
                    log.error("replay of rows %d..%d failed: %s", job[0], job[1], exc)
                finally:
                    with self._lock:
                        self._busy = False
                        self._next_at = self._clock() + self._min_interval_s
        finally:
            if db is not None:
                db.close()

    def _publish(self, db: Any, first: int, last: int) -> None:
        machine, event = self._topics.machine, self._topics.event
        began, sent, after = self._clock(), 0, first - 1
        while after < last:
            rows = read_raw(db, after, min(CHUNK, last - after))
            if not rows:
                break
            for seq, ts, kind, fields_json, hash_ in rows:
                self._client.publish(event(kind), raw_payload(seq, ts, kind, machine,
                                                             fields_json, hash_), qos=1)
                sent += 1
                after = seq
            # Pace: never faster than the rate, so a replay never crowds out live sales.
            ahead = sent / self._rate - (self._clock() - began)
            if ahead > 0:
                time.sleep(ahead)
        log.info("replayed %d rows (%d..%d)", sent, first, after)
