"""`request/replay {from, to}`: the machine publishes those journal rows again on the feed,
exactly as the relay did; read-only, off unless switched on, limited in size and rate."""

from __future__ import annotations

from pathlib import Path

from feed_helpers import Broker, Feed, journal, mqtt_config, sell, wait_until

from vendd.telemetry.replay import MAX_ROWS


def test_replay_republishes_the_rows_asked_for(tmp_path: Path, broker: Broker, feed: Feed,
                                               start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port, requests={"replay": True})
    daemon = start_daemon(config)
    sell(daemon, "A1")
    rows = journal(config.ledger.path)
    head = rows[-1]["seq"]
    wait_until(lambda: feed.has_all(head), 5, "the live feed")
    before = len(feed.seqs())
    feed.request("replay", {"request_id": "r1", "from": 3, "to": head + 50})
    answer = wait_until(lambda: feed.responses.get("r1"), 5, "the answer")[0]
    assert answer == {"action": "replay", "request_id": "r1", "ok": True, "from": 3,
                      "to": head, "rows": head - 2, "head": head}
    wait_until(lambda: len(feed.seqs()) >= before + head - 2, 5, "the replayed rows")
    again = feed.events[before:]
    assert [e["seq"] for e in again] == list(range(3, head + 1))
    # The same payload as the first time, so the hub's chain check works on either.
    first = {e["seq"]: e for e in feed.events[:before]}
    assert all(e == first[e["seq"]] for e in again)
    # Too soon after the last one: refused with the wait, nothing published.
    feed.request("replay", {"request_id": "r2", "from": 1, "to": 2})
    refused = wait_until(lambda: feed.responses.get("r2"), 5, "the second answer")[0]
    assert refused["ok"] is False and "rate-limited" in refused["error"]
    assert journal(config.ledger.path) == rows  # read-only


def test_replay_is_off_unless_switched_on(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port, requests={"ping": True})
    start_daemon(config)
    wait_until(lambda: "online" in feed.statuses, 5, "the machine online")
    feed.request("replay", {"request_id": "r1", "from": 1, "to": 5})
    answer = wait_until(lambda: feed.responses.get("r1"), 5, "the answer")[0]
    assert answer["ok"] is False and "not enabled" in answer["error"]


def test_a_malformed_replay_is_refused(tmp_path: Path, broker: Broker, feed: Feed,
                                       start_daemon) -> None:
    config = mqtt_config(tmp_path, broker.port, requests={"replay": True})
    start_daemon(config)
    wait_until(lambda: "online" in feed.statuses, 5, "the machine online")
    for rid, body, error in [("r2", {"from": 5, "to": 1}, "before"),
                             ("r3", {"from": 0, "to": 1}, "from"),
                             ("r4", {"from": "1", "to": 2}, "from")]:
        feed.request("replay", {"request_id": rid, **body})
        got = wait_until(lambda r=rid: feed.responses.get(r), 5, "the answer")[0]
        assert got["ok"] is False and error in got["error"]
    assert MAX_ROWS >= 1000
