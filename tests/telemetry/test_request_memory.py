"""The journal as the memory of signed requests: counters, answered ids and the time floor,
read incrementally from a real ledger file; an unreadable request row stops every change
request instead of being skipped."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from feed_helpers import Signer, feed_config, signed_by

from vendd.commands import Fact
from vendd.errors import LedgerError
from vendd.ledger.ledger import Ledger
from vendd.telemetry.client import Topics
from vendd.telemetry.memory import RequestMemory
from vendd.telemetry.requests import Requests


def closing(rid: str, counter: int, coordinator: str = "ana", ok: bool = True) -> Fact:
    fields = {"action": "set_price", "coordinator": coordinator, "counter": counter,
              "request_id": rid, "ok": ok, **({} if ok else {"error": "unknown slot 'Z9'"})}
    return Fact("request", fields)


def test_the_memory_reads_counters_ids_and_time_as_the_journal_grows(tmp_path: Path) -> None:
    clock = iter(["2026-12-02T01:00:00.000000+00:00", "2026-12-02T01:00:01.000000+00:00",
                  "2026-12-02T01:00:02.000000+00:00", "2026-12-02T02:30:00.000000+00:00"])
    ledger = Ledger(tmp_path / "vendd.db", clock=lambda: next(clock))
    ledger.append([closing("a", 10), closing("b", 7, "bea", ok=False)])
    memory = RequestMemory(tmp_path / "vendd.db")
    try:
        memory.refresh()
        assert memory.counters == {"ana": 10, "bea": 7}
        assert memory.closed["b"].answer("b") == {
            "request_id": "b", "ok": False, "duplicate": True, "seq": 2, "coordinator": "bea",
            "error": "unknown slot 'Z9'"}
        ledger.append([closing("c", 12)])
        ledger.append([Fact("note", {"text": "later"})])
        memory.refresh()
        assert memory.last_counter("ana") == 12 and memory.closed["c"].seq == 3
        assert memory.latest_ts == datetime.fromisoformat("2026-12-02T02:30:00+00:00")
        assert memory.last_counter("nadie") == 0
    finally:
        memory.close()
        ledger.close()


def test_an_unreadable_request_row_stops_every_change_request(tmp_path: Path) -> None:
    config = feed_config(tmp_path)
    ledger = Ledger(config.ledger.path)
    ledger.append([closing("a", 10)])
    ledger.close()
    # A row written around the ledger (its schema is checked on append): fields of no use.
    conn = sqlite3.connect(config.ledger.path)
    with conn:
        conn.execute("INSERT INTO journal (seq, ts, kind, fields, hash) VALUES "
                     "(2, '2026-12-02T01:00:00+00:00', 'request', ?, 'x')",
                     (json.dumps({"coordinator": "ana"}),))
    conn.close()
    memory = RequestMemory(config.ledger.path)
    with pytest.raises(LedgerError, match="journal row 2: unreadable request row"):
        memory.refresh()
    memory.close()

    ana = Signer("ana")
    config = feed_config(tmp_path, mqtt={"enabled": False, "requests": signed_by(
        {"set_price": True}, ana)}, ledger={"path": str(config.ledger.path)})
    submitted: list[object] = []
    requests = Requests(config, None, Topics("test", config.machine.id),  # type: ignore[arg-type]
                        submitted.append)  # type: ignore[arg-type]
    body = ana.sign("set_price", {"slot": "A1", "price": 400}, "r-9",
                    machine=config.machine.id)
    answer = requests.answer("set_price", json.dumps(body).encode(), expiry_s=60)
    assert answer == {"request_id": "r-9", "ok": False, "error": "the ledger cannot be read now"}
    assert submitted == []
