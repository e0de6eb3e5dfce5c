"""A bug in any of the feed's threads is journaled as an `mqtt` fault, the thread starts again
with back-off, and the machine keeps selling; a bug in the feed's step listener never reaches
the sale that called it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from feed_helpers import Broker, Feed, journal, mqtt_config, sell, wait_until

from vendd.telemetry import Telemetry


def mqtt_rows(path: Path, kind: str) -> list[dict[str, Any]]:
    return [r["fields"] for r in journal(path)
            if r["kind"] == kind and r["fields"].get("device") == "mqtt"]


def bug(*args: Any, **kwargs: Any) -> Any:
    raise KeyError("slots")


def telemetry_of(daemon: Any) -> Telemetry:
    telemetry = daemon.extras[0]
    assert isinstance(telemetry, Telemetry)
    return telemetry


def test_a_bug_in_the_state_thread_is_journaled_and_sales_go_on(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    state = telemetry_of(daemon).state
    assert state is not None
    monkeypatch.setattr(state, "_publish", bug)
    sell(daemon, "A1")  # the step wakes the state thread, which fails
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_fault"), 5, "the fault journaled")
    fault = mqtt_rows(config.ledger.path, "device_fault")[0]
    assert (fault["code"], fault["blocking"]) == ("driver_error", True)
    assert "KeyError" in fault["detail"]
    sell(daemon, "B3")  # still selling
    assert len([r for r in journal(config.ledger.path) if r["kind"] == "sale"]) == 2
    monkeypatch.undo()
    sell(daemon, "A1")
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_recovered"), 5, "the recovery")
    wait_until(lambda: feed.states and feed.states[-1]["credit"] == 0, 5, "a fresh snapshot")


def test_a_bug_in_the_request_thread_is_journaled_and_it_answers_again(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = mqtt_config(tmp_path, broker.port, requests={"ping": True})
    daemon = start_daemon(config)
    requests = telemetry_of(daemon).requests
    assert requests is not None
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 5, "the feed")
    # Outside one request's answer (which has its own boundary): the thread's loop itself.
    monkeypatch.setattr(requests, "_safe_answer", bug)
    feed.request("ping", {"request_id": "p1"})
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_fault"), 5, "the fault journaled")
    assert mqtt_rows(config.ledger.path, "device_fault")[0]["code"] == "driver_error"
    sell(daemon, "A1")
    monkeypatch.undo()
    feed.request("ping", {"request_id": "p2"})
    wait_until(lambda: "p2" in feed.responses, 5, "an answer after the restart")
    assert feed.responses["p2"][0]["ok"] is True and "p1" not in feed.responses
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_recovered"), 5, "the recovery")


def test_a_bug_in_the_relay_thread_is_journaled_and_the_feed_catches_up(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    relay = telemetry_of(daemon).relay
    assert relay is not None
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 5, "the feed")
    monkeypatch.setattr(relay, "_publish_some", bug)
    sell(daemon, "A1")
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_fault"), 5, "the fault journaled")
    fault = mqtt_rows(config.ledger.path, "device_fault")[0]
    assert fault["code"] == "relay_error" and "KeyError" in fault["detail"]
    monkeypatch.undo()  # the relay serves again from the stored position after its back-off
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_recovered"), 10, "the recovery")
    wait_until(lambda: feed.has_all(journal(config.ledger.path)[-1]["seq"]), 10,
               "every row on the feed, the sale included")
    assert any(e["kind"] == "sale" for e in feed.events)


def test_a_failing_step_listener_never_stops_a_sale(
        tmp_path: Path, broker: Broker, start_daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    config = mqtt_config(tmp_path, broker.port)
    daemon = start_daemon(config)
    state = telemetry_of(daemon).state
    assert state is not None
    monkeypatch.setattr(state, "update", bug)  # runs on the controller's thread, every step
    sell(daemon, "A1")
    sell(daemon, "B3")
    assert len([r for r in journal(config.ledger.path) if r["kind"] == "sale"]) == 2
    assert daemon.controller.listener_errors.errors >= 2
    assert daemon.controller.fatal is None


def test_a_bug_in_the_replay_thread_is_journaled_and_it_replays_again(
        tmp_path: Path, broker: Broker, feed: Feed, start_daemon,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = mqtt_config(tmp_path, broker.port, requests={"replay": True})
    daemon = start_daemon(config)
    requests = telemetry_of(daemon).requests
    assert requests is not None and requests.replayer is not None
    replayer = requests.replayer
    head = journal(config.ledger.path)[-1]["seq"]
    wait_until(lambda: feed.has_all(head), 5, "the live feed")
    monkeypatch.setattr(replayer, "_publish", bug)
    feed.request("replay", {"request_id": "r1", "from": 1, "to": 2})
    wait_until(lambda: feed.responses.get("r1"), 5, "the answer")
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_fault"), 5, "the fault journaled")
    fault = mqtt_rows(config.ledger.path, "device_fault")[0]
    assert fault["code"] == "driver_error" and "KeyError" in fault["detail"]
    sell(daemon, "A1")  # still selling
    monkeypatch.undo()
    before = len(feed.seqs())
    # The failed replay still counts against the rate: ask once it has passed.
    wait_until(lambda: replayer.answer_ready(), 5, "the replay rate to allow another")
    feed.request("replay", {"request_id": "r2", "from": 1, "to": 2})
    assert wait_until(lambda: feed.responses.get("r2"), 5, "the answer")[0]["ok"]
    wait_until(lambda: len(feed.seqs()) >= before + 2, 10, "the rows replayed")
    wait_until(lambda: mqtt_rows(config.ledger.path, "device_recovered"), 5, "the recovery")
