"""Coordinator requests: every bad request gets `ok: false` with an error and changes
nothing; accepted ones are journaled through the controller like a button press, naming the
coordinator who signed them and the request id."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from feed_helpers import Broker, Feed, Signer, journal, mqtt_config, sell, signed_by, wait_until

from vendd.config import CHANGE_ACTIONS

ALL_BUT_DISABLE = {"set_price": True, "set_stock": True, "enable_slot": True,
                   "disable_slot": False, "out_of_service": True, "back_in_service": True,
                   "report": True, "ping": True}

BAD: list[tuple[str, str, Any, str]] = [
    # (request_id, action, payload, part of the error)
    ("r1", "explode", {"request_id": "r1"}, "unknown action"),
    ("r2", "disable_slot", {"request_id": "r2", "slot": "A1"}, "not enabled"),
    ("None", "set_price", b"{not json", "malformed"),
    ("None", "set_price", b"\xff\xfe", "malformed"),
    ("None", "set_price", b"[1, 2]", "malformed"),
    ("None", "set_price", {"slot": "A1", "price": 300}, "request_id"),
    ("r7", "set_price", {"request_id": "r7", "slot": "A1"}, "price"),
    ("r8", "set_price", {"request_id": "r8", "slot": "A1", "price": "300"}, "price"),
    ("r9", "set_price", {"request_id": "r9", "slot": "A1", "price": 3.5}, "fractional"),
    ("r10", "set_price", {"request_id": "r10", "slot": "A1", "price": 0}, "price"),
    ("r11", "set_price", {"request_id": "r11", "slot": "A1", "price": -350}, "price"),
    ("r12", "set_price", {"request_id": "r12", "slot": "A1", "price": True}, "price"),
    ("r13", "set_price", {"request_id": "r13", "slot": "a1", "price": 300}, "slot"),
    ("r14", "set_price", {"request_id": "r14", "slot": "Z9", "price": 300}, "unknown slot"),
    ("r15", "set_price", {"request_id": "r15", "slot": "A1", "price": 300, "x": 1},
     "unknown field"),
    ("r16", "set_stock", {"request_id": "r16", "slot": "A1", "stock": 9}, "out of range"),
    ("r17", "set_stock", {"request_id": "r17", "slot": "A1", "stock": -1}, "stock"),
    ("r18", "set_stock", {"request_id": "r18", "slot": "A1", "stock": 2, "reason": "lost"},
     "reason"),
    ("r19", "enable_slot", {"request_id": "r19", "slot": "Q1"}, "unknown slot"),
    ("r20", "out_of_service", {"request_id": "r20", "reason": ""}, "reason"),
    ("r21", "report", {"request_id": "r21", "from": "2026-02-01", "to": "2026-01-01"},
     "before"),
    ("r22", "report", {"request_id": "r22", "from": "2026-13-01", "to": "2026-12-01"}, "from"),
    ("r23", "report", {"request_id": "r23", "from": "2020-01-01", "to": "2026-01-01"},
     "at most"),
    ("r24", "ping", {"request_id": "r24", "extra": True}, "unknown field"),
]


# Refused by the machine itself (after the signature and the counter): journaled as a
# `request` row with its answer, so the counter is used, and nothing else changes.
MACHINE_REFUSED = {"r14", "r16", "r19"}


def prepare(signer: Signer, action: str, payload: Any) -> Any:
    """Sign a change request's fields as a coordinator would (a float is put in after
    signing: a signer cannot sign one)."""
    if not (isinstance(payload, dict) and action in CHANGE_ACTIONS and "request_id" in payload):
        return payload
    body = {k: v for k, v in payload.items() if k != "request_id"}
    floats = {k: v for k, v in body.items() if isinstance(v, float)}
    signed = signer.sign(action, {k: (0 if k in floats else v) for k, v in body.items()},
                         payload["request_id"])
    return {**signed, **floats}


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("journal", "slots", "machine", "sales", "device_faults")}
    finally:
        conn.close()


def test_every_bad_request_is_refused_and_changes_nothing(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon) -> None:
    signer = Signer()
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(ALL_BUT_DISABLE, signer))
    daemon = start_daemon(config)
    sell(daemon, "A1")
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 5, "the feed")
    before = tables(config.ledger.path)
    for _rid, action, payload, _ in BAD:
        feed.request(action, prepare(signer, action, payload))
    wait_until(lambda: sum(len(v) for v in feed.responses.values()) >= len(BAD), 10,
          "an answer to every bad request")
    for rid, action, _, error in BAD:
        answers = [a for a in feed.responses[rid] if a["action"] == action]
        assert answers, (rid, action)
        answer = next((a for a in answers if error in a.get("error", "")), answers[0])
        assert answer["ok"] is False, (rid, answer)
        assert error in answer["error"], (rid, answer)
        assert answer["request_id"] == (None if rid == "None" else rid)
    after = tables(config.ledger.path)
    assert {k: v for k, v in after.items() if k != "journal"} == {
        k: v for k, v in before.items() if k != "journal"}
    assert after["journal"][:len(before["journal"])] == before["journal"]
    added = [(row[2], json.loads(row[3])) for row in after["journal"][len(before["journal"]):]]
    assert {f["request_id"] for _, f in added} == MACHINE_REFUSED
    assert all(kind == "request" and f["ok"] is False and f["coordinator"] == "ana"
               for kind, f in added)


def test_accepted_requests_are_journaled_by_the_coordinator(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon) -> None:
    signer = Signer()
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(ALL_BUT_DISABLE, signer))
    daemon = start_daemon(config)
    sell(daemon, "A1")
    sell(daemon, "B3")
    sell(daemon, "B3")
    today = datetime.now(ZoneInfo(config.machine.timezone)).date().isoformat()
    good = [
        ("g1", "set_price", {"request_id": "g1", "slot": "A1", "price": 400}),
        ("g2", "set_stock", {"request_id": "g2", "slot": "A2", "stock": 3, "reason": "adjust"}),
        ("g3", "out_of_service", {"request_id": "g3", "reason": "inventario"}),
        ("g4", "back_in_service", {"request_id": "g4"}),
        ("g5", "enable_slot", {"request_id": "g5", "slot": "A3"}),
        ("g6", "ping", {"request_id": "g6"}),
        ("g7", "report", {"request_id": "g7", "from": today, "to": today}),
        ("g8", "report", {"request_id": "g8", "from": today, "to": today, "maker": "lucia"}),
    ]
    for rid, action, payload in good:
        feed.request(action, prepare(signer, action, payload))
        wait_until(lambda rid=rid: rid in feed.responses, 5, f"the answer to {rid}")
        assert feed.responses[rid][0]["ok"] is True, feed.responses[rid]
    rows = journal(config.ledger.path)
    mine = [r for r in rows if r["fields"].get("by") == "coordinator"]
    assert [r["kind"] for r in mine] == ["price_set", "stock_set", "service_mode",
                                         "service_mode"]
    assert [(r["fields"]["coordinator"], r["fields"]["request_id"]) for r in mine] == [
        ("ana", "g1"), ("ana", "g2"), ("ana", "g3"), ("ana", "g4")]
    closing = [r["fields"] for r in rows if r["kind"] == "request"]
    assert [(f["request_id"], f["action"], f["ok"]) for f in closing] == [
        ("g1", "set_price", True), ("g2", "set_stock", True), ("g3", "out_of_service", True),
        ("g4", "back_in_service", True), ("g5", "enable_slot", True)]
    assert all(f["coordinator"] == "ana" for f in closing)
    counters = [f["counter"] for f in closing]
    assert counters == sorted(counters) and len(set(counters)) == len(counters)
    # The answer names the journal row that closed the request.
    seq_of = {f["request_id"]: r["seq"] for r in rows if r["kind"] == "request"
              for f in [r["fields"]]}
    assert all(feed.responses[rid][0]["seq"] == seq_of[rid] for rid in seq_of)
    assert daemon.controller.state.slots["A1"].price == 400
    assert feed.responses["g6"][0]["seq"] == rows[-1]["seq"]
    report = feed.responses["g7"][0]
    assert (report["count"], report["total"]) == (3, 350 + 100 + 100)
    assert {m["maker"]: (m["count"], m["total"]) for m in report["makers"]} == {
        "rosa": (1, 350), "lucia": (2, 200)}
    assert report["currency"] == "USD"
    assert (feed.responses["g8"][0]["count"], feed.responses["g8"][0]["total"]) == (2, 200)


def test_requests_are_off_unless_enabled(tmp_path: Path, broker: Broker, feed: Feed,
                                         start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port, requests={"ping": True})
    start_daemon(config)
    # The daemon subscribes before it publishes on the same connection: once the feed has
    # the journal, requests are heard (a request sent earlier would reach no one).
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 5, "the feed")
    before = tables(config.ledger.path)
    feed.request("set_price", {"request_id": "x1", "slot": "A1", "price": 100})
    feed.request("ping", {"request_id": "x2"})
    wait_until(lambda: "x1" in feed.responses and "x2" in feed.responses, 5, "both answers")
    assert feed.responses["x1"][0] == {"action": "set_price", "request_id": "x1", "ok": False,
                                       "error": "set_price is not enabled on this machine"}
    assert feed.responses["x2"][0]["ok"] is True
    assert tables(config.ledger.path)["journal"] == before["journal"]
