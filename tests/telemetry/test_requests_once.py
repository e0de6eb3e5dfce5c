"""A request acts at most once, through a real Mosquitto: retained, duplicated, replayed,
expired, unsigned, wrongly signed, unknown-coordinator and stale-counter requests each change
nothing and get their answer; a signed one is journaled with its signer and request id; the
journal remembers request ids and counters across a restart."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feed_helpers import (
    MACHINE,
    Broker,
    Feed,
    Signer,
    journal,
    mqtt_config,
    signed_by,
    wait_until,
)

from vendd.daemon.app import Daemon
from vendd.events import SetStock
from vendd.telemetry.signing import sign_request

CHANGES = {"set_price": True, "set_stock": True, "disable_slot": True, "out_of_service": True,
           "ping": True}
REQUESTS_LOG = "vendd.telemetry.requests"


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("journal", "slots", "machine", "sales", "device_faults")}
    finally:
        conn.close()


def ask(feed: Feed, action: str, body: dict[str, Any] | bytes, rid: str | None, *,
        expiry: int | None = 60, retain: bool = False, timeout: float = 10) -> dict[str, Any]:
    """Publish and wait for the answer that carries `rid` (str(None) for an id the machine
    does not echo)."""
    key = str(rid)
    with feed.lock:
        seen = len(feed.responses.get(key, []))
    feed.request(action, body, expiry=expiry, retain=retain)
    wait_until(lambda: len(feed.responses.get(key, [])) > seen, timeout, f"the answer to {key}")
    with feed.lock:
        return feed.responses[key][seen]


def listening(feed: Feed, config: Any) -> None:
    """Wait until the daemon hears requests: it subscribes before it publishes the journal on
    the same connection, so once the feed has every row, a request reaches it."""
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 10,
               "the daemon to subscribe")


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ana() -> Signer:
    return Signer("ana")


def test_a_signed_request_is_journaled_with_its_signer_and_id(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon, ana: Signer) -> None:
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(CHANGES, ana))
    daemon = start_daemon(config)
    listening(feed, config)
    answer = ask(feed, "set_price", ana.sign("set_price", {"slot": "A1", "price": 425}, "p-1"),
                 "p-1")
    assert answer["ok"] is True and answer["coordinator"] == "ana"
    assert daemon.controller.state.slots["A1"].price == 425
    rows = journal(config.ledger.path)
    change = next(r for r in rows if r["kind"] == "price_set" and r["fields"]["slot"] == "A1"
                  and r["fields"]["price"] == 425)
    assert change["fields"]["by"] == "coordinator"
    assert change["fields"]["coordinator"] == "ana"
    assert change["fields"]["request_id"] == "p-1"
    closing = rows[-1]
    assert closing["seq"] == change["seq"] + 1 == answer["seq"]
    assert closing["kind"] == "request"
    assert closing["fields"] == {"action": "set_price", "coordinator": "ana",
                                 "counter": ana.counter, "request_id": "p-1", "ok": True}


def test_every_unacceptable_request_changes_nothing_and_is_answered(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon, ana: Signer,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=REQUESTS_LOG)
    mallory = Signer("ana")  # claims to be ana with a key the machine does not know
    bea = Signer("bea")  # a coordinator this machine does not list
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(CHANGES, ana))
    start_daemon(config)
    listening(feed, config)
    accepted = ana.sign("set_price", {"slot": "A1", "price": 425}, "ok-1")
    assert ask(feed, "set_price", accepted, "ok-1")["ok"] is True
    before = tables(config.ledger.path)

    tampered = ana.sign("set_price", {"slot": "A1", "price": 425}, "tamper")
    tampered["price"] = 5
    unsigned = ana.sign("set_price", {"slot": "A1", "price": 1}, "unsigned")
    del unsigned["signature"]
    duplicate_key = json.dumps(ana.sign("set_price", {"slot": "A1", "price": 300}, "dupkey"))
    duplicate_key = duplicate_key[:-1] + ', "price": 1}'
    newline_id = json.dumps(ana.sign("set_price", {"slot": "A1", "price": 300}, "x"))
    newline_id = newline_id.replace('"request_id": "x"', '"request_id": "evil\\nFORGED line"')
    huge = {"request_id": "huge", "slot": "A1", "price": 300, "pad": "x" * 100_000}
    cases: list[tuple[str, str, dict[str, Any] | bytes, str | None, dict[str, Any], str]] = [
        # (label, action, payload, id echoed, publish options, part of the error)
        ("retained", "out_of_service",
         ana.sign("out_of_service", {"reason": "retained"}, "ret-1"), "ret-1",
         {"retain": True}, "retained requests are refused"),
        ("replayed", "set_price", accepted, "ok-1", {}, ""),
        ("same id, new counter", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 999}, "ok-1"), "ok-1", {}, ""),
        ("same id, other action", "set_stock",
         ana.sign("set_stock", {"slot": "A1", "stock": 0}, "ok-1"), "ok-1", {}, "is taken"),
        ("stale counter", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 310}, "stale-1",
                  counter=accepted["counter"]), "stale-1", {}, "stale counter"),
        ("older counter", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 310}, "stale-2", counter=1),
         "stale-2", {}, "stale counter"),
        ("expired", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 320}, "old-1", issued_at=hours_ago(2)),
         "old-1", {}, "expired"),
        ("no message expiry", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 330}, "noexp-1"), "noexp-1",
         {"expiry": None}, "no message expiry"),
        ("message expiry too long", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 340}, "longexp-1"), "longexp-1",
         {"expiry": 86400}, "longer than"),
        ("unsigned", "set_price", unsigned, "unsigned", {}, "unsigned"),
        ("wrongly signed", "set_price",
         mallory.sign("set_price", {"slot": "A1", "price": 1}, "forged-1"), "forged-1", {},
         "bad signature"),
        ("tampered", "set_price", tampered, "tamper", {}, "bad signature"),
        ("unknown coordinator", "set_price",
         bea.sign("set_price", {"slot": "A1", "price": 1}, "bea-1"), "bea-1", {},
         "unknown coordinator"),
        ("for another machine", "set_price",
         ana.sign("set_price", {"slot": "A1", "price": 1}, "other-1", machine="lima-02"),
         "other-1", {}, "another machine"),
        ("for another action", "disable_slot",
         ana.sign("enable_slot", {"slot": "A1"}, "moved-1"), "moved-1", {}, "another action"),
        ("duplicate JSON key", "set_price", duplicate_key.encode(), None, {},
         "duplicate key"),
        ("newline in the id", "set_price", newline_id.encode(), None, {}, "request_id"),
        ("huge", "set_price", json.dumps(huge).encode(), None, {}, "too large"),
    ]
    for label, action, payload, rid, options, error in cases:
        answer = ask(feed, action, payload, rid, **options)
        if label in ("replayed", "same id, new counter"):
            # Answered from the journal: what it said the first time, and where.
            assert answer["ok"] is True and answer["duplicate"] is True, (label, answer)
            assert answer["seq"] == before["journal"][-1][0], (label, answer)
        else:
            assert answer["ok"] is False, (label, answer)
            assert error in answer["error"], (label, answer)
        assert "\n" not in answer.get("error", ""), label
        assert tables(config.ledger.path) == before, f"{label} changed the ledger"

    # Never logged raw: no forged line, nothing of the 100 kB payload beyond a summary.
    lines = [r.getMessage() for r in caplog.records if r.name == REQUESTS_LOG]
    assert lines and all("\n" not in line and len(line) < 400 for line in lines), lines
    assert not any("FORGED" in line and "\\n" not in line for line in lines)


def test_duplicates_are_answered_from_the_journal_after_a_restart(
        tmp_path: Path, broker: Broker, feed: Feed, ana: Signer) -> None:
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(CHANGES, ana))
    first = Daemon(config)
    first.start()
    try:
        first.wait_ready()
        listening(feed, config)
        stock = ana.sign("set_stock", {"slot": "B1", "stock": 2}, "restock-7")
        assert ask(feed, "set_stock", stock, "restock-7")["ok"] is True
        off = ana.sign("disable_slot", {"slot": "Z9"}, "off-7")  # refused by the machine
        refused = ask(feed, "disable_slot", off, "off-7")
        assert refused["ok"] is False and "unknown slot" in refused["error"]
        # Left retained on the broker: refused now, and again at every restart.
        closed = ana.sign("out_of_service", {"reason": "retained"}, "ret-7")
        assert "retained" in ask(feed, "out_of_service", closed, "ret-7", retain=True)["error"]
    finally:
        first.stop()
    seqs = {r["fields"]["request_id"]: r["seq"] for r in journal(config.ledger.path)
            if r["kind"] == "request"}
    second = Daemon(config)
    second.start()
    try:
        second.wait_ready()
        wait_until(lambda: len(feed.responses.get("ret-7", [])) == 2, 10,
                   "the retained request to be refused again after the restart")
        assert "retained" in feed.responses["ret-7"][1]["error"]
        assert second.controller is not None and second.controller.state.out_of_service is None
        listening(feed, config)
        # The seamstress corrects the stock by hand; the old request must not undo her count.
        assert second.controller.submit(SetStock("rosa", "B1", 5)).result(5).ok
        before = tables(config.ledger.path)
        again = ask(feed, "set_stock", stock, "restock-7")
        assert again["ok"] is True and again["duplicate"] is True
        assert again["seq"] == seqs["restock-7"]
        again = ask(feed, "disable_slot", off, "off-7")
        assert again["ok"] is False and again["duplicate"] is True
        assert "unknown slot" in again["error"] and again["seq"] == seqs["off-7"]
        # A new id with an old counter: the counter, read back from the journal, refuses it.
        replay = ana.sign("set_stock", {"slot": "B1", "stock": 2}, "restock-8",
                          counter=stock["counter"])
        assert "stale counter" in ask(feed, "set_stock", replay, "restock-8")["error"]
        assert tables(config.ledger.path) == before
        assert second.controller.state.slots["B1"].stock == 5
    finally:
        second.stop()


def test_a_request_queued_while_the_machine_was_offline_expires(
        tmp_path: Path, broker: Broker, feed: Feed, ana: Signer) -> None:
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(CHANGES, ana))
    daemon = Daemon(config)
    daemon.start()
    daemon.wait_ready()
    listening(feed, config)
    assert ask(feed, "ping", {"request_id": "hello"}, "hello")["ok"] is True
    daemon.stop()  # its persistent session stays on the broker, collecting requests
    stale = ana.sign("out_of_service", {"reason": "queued"}, "queued-1")
    sent = time.monotonic()
    feed.request("out_of_service", stale, expiry=1)
    fresh = ana.sign("set_price", {"slot": "A2", "price": 275}, "queued-2")
    wait_until(lambda: time.monotonic() > sent + 2.5, 10, "the first request's expiry to pass")
    feed.request("set_price", fresh, expiry=60)
    daemon = Daemon(config)
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(lambda: "queued-2" in feed.responses, 10, "the answer to the fresh request")
        assert feed.responses["queued-2"][0]["ok"] is True
        assert daemon.controller.state.out_of_service is None
        assert daemon.controller.state.slots["A2"].price == 275
        # The broker dropped the expired one: it never reached the machine.
        marker = ask(feed, "ping", {"request_id": "after"}, "after")
        assert marker["ok"] is True and "queued-1" not in feed.responses
        assert not any(r["fields"].get("request_id") == "queued-1"
                       for r in journal(config.ledger.path))
    finally:
        daemon.stop()


def test_read_only_requests_need_no_signature_but_a_bad_one_is_refused(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon, ana: Signer) -> None:
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(CHANGES, ana))
    start_daemon(config)
    listening(feed, config)
    before = tables(config.ledger.path)
    assert ask(feed, "ping", {"request_id": "p1"}, "p1", expiry=None)["ok"] is True
    assert ask(feed, "ping", {"request_id": "p1"}, "p1")["ok"] is True  # answered again
    assert ask(feed, "ping", ana.sign("ping", {}, "p2"), "p2")["ok"] is True
    forged = sign_request(Signer("ana").key, "ana", 5, "ping", {}, machine=MACHINE,
                          request_id="p3")
    assert "bad signature" in ask(feed, "ping", forged, "p3")["error"]
    retained = ask(feed, "ping", {"request_id": "p4"}, "p4", retain=True)
    assert "retained" in retained["error"]
    assert tables(config.ledger.path) == before


def test_random_ids_never_collide_with_the_journal(tmp_path: Path, broker: Broker,
                                                   feed: Feed, start_daemon,
                                                   ana: Signer) -> None:
    """Many signed requests in a row: each acts once, counters strictly grow in the journal."""
    config = mqtt_config(tmp_path, broker.port, requests=signed_by(CHANGES, ana))
    daemon = start_daemon(config)
    listening(feed, config)
    prices = [205, 210, 215, 220, 225]
    for price in prices:
        rid = uuid.uuid4().hex
        assert ask(feed, "set_price", ana.sign("set_price", {"slot": "B2", "price": price}, rid),
                   rid)["ok"] is True
    rows = [r for r in journal(config.ledger.path) if r["kind"] == "price_set"
            and r["fields"]["slot"] == "B2" and r["fields"].get("coordinator") == "ana"]
    assert [r["fields"]["price"] for r in rows] == prices
    assert daemon.controller.state.slots["B2"].price == prices[-1]
