"""The relay: everything journaled reaches an independent subscriber in order with matching
hashes, also across a broker restart during 200 sales."""

from __future__ import annotations

import logging
from pathlib import Path

from feed_helpers import Broker, Feed, acked, check_chain, journal, mqtt_config, sell, wait_until

from vendd.events import ClearSlotFault, CollectCash, SetOutOfService, SetPrice, VendOutcome

SLOTS = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]


def test_a_day_of_sales_arrives_in_order_with_matching_hashes(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    c = daemon.controller
    for i in range(24):
        sell(daemon, SLOTS[i % len(SLOTS)])
        if i == 8:
            assert c.submit(SetPrice("rosa", "A1", 375)).result(5).ok
        if i == 12:  # a jam: the buyer's credit is restored and the slot flagged
            daemon.devices.dispenser.outcome_for = lambda slot: VendOutcome.JAMMED
            sell(daemon, "B3")
            daemon.devices.dispenser.outcome_for = lambda slot: VendOutcome.DELIVERED
            assert c.submit(ClearSlotFault("rosa", "B3")).result(5).ok
            daemon.devices.inputs[0].press("A3")  # spend the restored credit
    assert c.submit(SetOutOfService("carmen", True, "cleaning")).result(5).ok
    assert c.submit(CollectCash("carmen", c.state.cash_box)).result(5).ok
    assert c.submit(SetOutOfService("carmen", False)).result(5).ok

    rows = journal(config.ledger.path)
    kinds = {r["kind"] for r in rows}
    assert {"sale", "vend_failed", "price_set", "cash_collected", "service_mode"} <= kinds
    wait_until(lambda: feed.has_all(len(rows)), 10, "every journal row on the feed")
    with feed.lock:
        events = list(feed.events)
    # In order, exactly once, byte-for-byte the journal (no disruption: no duplicates).
    assert [e["seq"] for e in events] == [r["seq"] for r in rows]
    assert [{k: e[k] for k in ("seq", "ts", "kind", "fields", "hash")} for e in events] == rows
    assert {e["machine"] for e in events} == {"quito-01"}
    check_chain(events)
    wait_until(lambda: acked(config.ledger.path) == len(rows), 5, "the acked seq to be stored")
    assert feed.statuses[-1] == "online"
    wait_until(lambda: feed.states and feed.states[-1]["cash_box"] == 0
          and feed.states[-1]["out_of_service"] is None, 5, "the final state snapshot")
    daemon.stop()
    wait_until(lambda: feed.statuses[-1] == "offline", 5, "status offline after a clean stop")


def test_broker_stopped_during_200_sales(tmp_path: Path, broker: Broker, feed: Feed,
                                         start_daemon, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vendd.telemetry")
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    for i in range(200):
        if i == 40:
            wait_until(lambda: len(feed.events) > 100, 10, "the feed to flow")
            broker.stop()
        if i == 160:
            broker.start()
        sell(daemon, SLOTS[i % len(SLOTS)])
    rows = journal(config.ledger.path)
    assert sum(r["kind"] == "sale" for r in rows) == 200
    wait_until(lambda: feed.has_all(len(rows)), 30, "every row after the broker restart")
    events = {e["seq"]: e for e in feed.events}
    assert [events[r["seq"]]["hash"] for r in rows] == [r["hash"] for r in rows]
    check_chain([events[s] for s in sorted(events)])
    wait_until(lambda: acked(config.ledger.path) == len(rows), 5, "the acked seq to be stored")
    assert "mqtt connection lost" in caplog.text
