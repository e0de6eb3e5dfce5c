"""Each rule on simulated machines whose feed goes through a real Mosquitto into the hub's
real ingest and store: the alert opens once, is sent again while nobody acknowledges it,
stops after an acknowledgement, and closes with a resolved notice when the machine recovers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from alert_helpers import FeedMachine, World, hub_config, slot
from feed_helpers import Broker
from support import wait_for

MINUTE = 60.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("alerts")
    broker = Broker(tmp / "broker", None)
    broker.start()
    try:
        # The Stock page's thresholds: a quarter of the capacity (2 of 8), A1 of m-low at 4.
        config = hub_config(tmp, broker.port, rules={"cash_box_capacity": 10_000},
                            stock={"machines": {"m-low": {"slots": {"A1": {"low_at": 4}}}}})
        w = World(config)
        try:
            yield w
        finally:
            w.close()
    finally:
        broker.stop()


@pytest.fixture
def machine(world: World, request: pytest.FixtureRequest) -> Iterator[FeedMachine]:
    world.clock.offset = 0.0  # each test's machine starts at the hub's real time
    name = "m-" + request.node.name.removeprefix("test_").replace("_", "-")[:20]
    m = FeedMachine(name, world.config.mqtt.port, slots={"A1": slot(8), "B4": slot(8)})
    m.status("online")
    m.state()
    yield m
    m.close()


def test_empty_slot_lifecycle_to_coordinator_and_its_maker(world: World,
                                                           machine: FeedMachine) -> None:
    machine.slots["B4"] = slot(0, maker="rosa")
    machine.state()
    alert = world.until_open(machine.id, "slot_empty")
    assert alert.slot == "B4" and alert.maker == "rosa"
    for _ in range(3):
        world.tick()
    assert len(world.open(machine.id, "slot_empty")) == 1
    # Coordinators get everything, the maker her slot's alert, another maker nothing.
    assert world.notices(alert, "coord") == ["opened"]
    assert world.notices(alert, "rosa") == ["opened"]
    assert world.notices(alert, "luz") == []
    world.clock.advance(31 * MINUTE)
    world.tick()
    assert world.notices(alert, "rosa") == ["opened", "reminder"]
    assert world.alerts.acknowledge(alert.id, "rosa", world.clock())
    world.clock.advance(120 * MINUTE)
    world.tick()
    assert world.notices(alert, "rosa") == ["opened", "reminder"]
    machine.slots["B4"] = slot(8)
    machine.state()
    closed = world.until_closed(alert)
    assert closed.closed_by == "condition" and closed.acked_by == "rosa"
    assert world.notices(alert, "rosa") == ["opened", "reminder", "resolved"]
    actions = [(t.action, t.by) for t in world.alerts.transitions(alert.id)]
    assert actions == [("opened", "hub"), ("notified", "hub"), ("notified", "hub"),
                       ("acknowledged", "rosa"), ("resolved", "condition")]


def test_low_slot_by_its_own_threshold(world: World) -> None:
    m = FeedMachine("m-low", world.config.mqtt.port, slots={"A1": slot(4), "B4": slot(4)})
    try:
        m.status("online")
        m.state()
        alert = world.until_open(m.id, "slot_low")
        assert alert.slot == "A1"  # B4 has the default threshold (2 of 8)
        assert world.open(m.id, "slot_empty") == []
        m.slots["A1"] = slot(0)
        m.state()
        world.until_open(m.id, "slot_empty")
        world.until_closed(alert)  # low became empty: one alert at a time
    finally:
        m.close()


def test_jammed_slot_and_faulted_device(world: World, machine: FeedMachine) -> None:
    machine.slots["A1"] = slot(5, maker="luz", fault="jam")
    machine.faults = ["changer"]
    machine.state()
    jam = world.until_open(machine.id, "jam")
    device = world.until_open(machine.id, "device_fault")
    assert jam.maker == "luz" and world.notices(jam, "luz") == ["opened"]
    assert device.key.endswith("/changer") and world.notices(device, "luz") == []
    machine.slots["A1"] = slot(5, maker="luz")
    machine.faults = []
    machine.state()
    world.until_closed(jam)
    world.until_closed(device)


def test_cash_box_near_capacity(world: World, machine: FeedMachine) -> None:
    machine.cash_box = 8_900
    machine.state()
    world.tick()
    assert world.open(machine.id, "cash_box") == []
    machine.cash_box = 9_050
    machine.state()
    alert = world.until_open(machine.id, "cash_box")
    assert alert.params["percent"] == 90
    machine.cash_box = 0
    machine.state()
    world.until_closed(alert)


def test_offline_after_its_minutes(world: World, machine: FeedMachine) -> None:
    machine.status("offline")  # what the broker publishes from the machine's last will

    def stored_offline() -> bool:
        m = world.store.machine(machine.id)
        return m is not None and m.status == "offline"
    wait_for(stored_offline, 10, "the offline status")
    world.tick()
    assert world.open(machine.id, "offline") == []  # not yet 10 minutes
    world.clock.advance(11 * MINUTE)
    alert = world.until_open(machine.id, "offline")
    assert world.notices(alert, "coord") == ["opened"] and world.notices(alert, "rosa") == []
    machine.status("online")
    world.until_closed(alert)
    assert world.notices(alert, "coord") == ["opened", "resolved"]


def test_owed_and_lost_coins_close_when_acknowledged(world: World,
                                                     machine: FeedMachine) -> None:
    machine.clock = lambda: time.time() - 2 * 86400  # history from before the hub knew it
    machine.row("started", version="t")
    machine.row("payout", device="changer", amount=200, paid=100, owed=100)
    machine.clock = time.time
    machine.row("payout", device="changer", amount=150, paid=100, owed=50)
    machine.row("payout", device="changer", amount=100, paid=100)
    machine.row("device_fault", device="coins", code="lost_events", detail="3 lost",
                blocking=False)
    owed = world.until_open(machine.id, "owed")
    lost = world.until_open(machine.id, "lost_coins")
    # One alert: the payout of two days ago is history, not news.
    assert owed.params["amount"] == 50 and len(world.open(machine.id, "owed")) == 1
    world.clock.advance(31 * MINUTE)
    world.tick()
    assert world.notices(owed, "coord") == ["opened", "reminder"]
    assert world.alerts.acknowledge(owed.id, "coord", world.clock(), close=True)
    world.tick()
    assert [a.rule for a in world.open(machine.id)] == ["lost_coins"]
    assert world.alerts.alert(owed.id).closed_by == "coord"  # type: ignore[union-attr]
    assert lost.params["device"] == "coins"


def test_feed_gap_not_closed_in_time(world: World, machine: FeedMachine) -> None:
    machine.row("started", version="t")
    machine.row("note", send=False, text="lost on the way")
    machine.row("note", text="after the hole")
    wait_for(lambda: world.store.gaps(machine.id), 10, "the gap to be seen")
    world.tick()
    assert world.open(machine.id, "gap") == []
    world.clock.advance(16 * MINUTE)
    alert = world.until_open(machine.id, "gap")
    assert (alert.params["first"], alert.params["last"]) == (2, 2)
    machine.resend(2)
    world.until_closed(alert)


def test_integrity_alarm(world: World, machine: FeedMachine) -> None:
    machine.row("started", version="t")
    machine.row("credit", device="coins", amount=100)
    wait_for(lambda: len(world.store.verified_rows(machine.id)) == 2, 10,
             "the rows to be verified")
    machine.forged(2)
    alert = world.until_open(machine.id, "integrity")
    assert alert.params["seq"] == 2
    assert world.notices(alert, "coord") == ["opened"]
