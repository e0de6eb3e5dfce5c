"""What the journal remembers of signed requests: the `request` rows. Each closes one request
that reached the machine (accepted or refused by it) with its coordinator, counter, id and
answer, in the same transaction as the change it made. From them: the last counter of each
coordinator (a new request must be above it), the answer to a request id already seen, and a
lower bound of the current time (the newest row's time, as the machine's clock wrote it). All
of it holds across restarts: it is read back from the ledger, never kept only in memory.

One thread (the requests worker) owns an instance and its read-only connection. The first
`refresh()` reads every `request` row; later ones read only the rows appended since."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from vendd.errors import LedgerError
from vendd.ledger.db import connect


@dataclass(frozen=True)
class Closed:
    """A request the journal already answered."""

    seq: int
    action: str
    coordinator: str
    ok: bool
    error: str

    def answer(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"request_id": request_id, "ok": self.ok, "duplicate": True,
                               "seq": self.seq, "coordinator": self.coordinator}
        if not self.ok:
            out["error"] = self.error
        return out


class RequestMemory:
    def __init__(self, ledger_path: str | Path) -> None:
        self._path = Path(ledger_path)
        self._db: sqlite_utils.Database | None = None
        self._seen = 0  # journal rows up to here are read
        self.counters: dict[str, int] = {}
        self.closed: dict[str, Closed] = {}
        self.latest_ts: datetime | None = None

    def _conn(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect(self._path, readonly=True)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def refresh(self) -> None:
        """Read the rows appended since the last call. Raises LedgerError (an unreadable
        request row: nothing after it is taken as read) or sqlite3.Error."""
        conn = self._conn().conn
        head = conn.execute("SELECT seq, ts FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
        if head is None or head[0] <= self._seen:
            return
        rows = conn.execute(
            "SELECT seq, fields FROM journal WHERE seq > ? AND seq <= ? AND kind = 'request'"
            " ORDER BY seq", (self._seen, head[0])).fetchall()
        for seq, text in rows:
            try:
                self._remember(seq, json.loads(text))
            except (ValueError, KeyError, TypeError) as exc:
                # Fail closed: without a readable memory no change request is acted on.
                raise LedgerError(f"journal row {seq}: unreadable request row ({exc})") from exc
        self._seen = head[0]
        # The head row's own time, not the largest ever seen: a clock that once ran far ahead
        # must not keep refusing requests after it was put right.
        self.latest_ts = datetime.fromisoformat(head[1])

    def _remember(self, seq: int, fields: dict[str, Any]) -> None:
        coordinator, counter = str(fields["coordinator"]), int(fields["counter"])
        self.counters[coordinator] = max(counter, self.counters.get(coordinator, 0))
        self.closed[str(fields["request_id"])] = Closed(
            seq, str(fields["action"]), coordinator, bool(fields["ok"]),
            str(fields.get("error", "")))

    def last_counter(self, coordinator: str) -> int:
        return self.counters.get(coordinator, 0)
