"""What the lifecycle promises beyond one rule: no sale counted only in opening hours (and
holidays), quiet hours per person, and a hub restart in the middle of an alert's life that
neither loses nor repeats it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alert_helpers import FeedMachine, World, hub_config, slot
from feed_helpers import Broker
from support import wait_for

from vendd.hub.alerts.schedule import open_seconds, quiet_until
from vendd.hub.alerts_config import OpeningConfig

HOUR = 3600.0
TZ = ZoneInfo("America/Guayaquil")
ALL_DAY = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CLOSED: dict[str, list[str]] = {d: [] for d in ALL_DAY}


@pytest.fixture
def broker_port(broker: Broker) -> int:
    return broker.port


def _quiet_now(tz: ZoneInfo) -> str:
    now = datetime.now(tz)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_opening_hours_arithmetic() -> None:
    week = OpeningConfig(**{**CLOSED, "mon": ["09:00-12:00", "14:00-18:00"]},
                         holidays=[date(2026, 6, 8)])
    monday = datetime(2026, 6, 1, 8, 0, tzinfo=TZ).timestamp()
    # Monday 08:00 to Tuesday 08:00: 3 + 4 open hours.
    assert open_seconds(week, TZ, monday, monday + 24 * HOUR) == 7 * HOUR
    # From Monday 11:00 to the next Monday 10:00: 1 + 4 hours; the 8th is a holiday.
    start = monday + 3 * HOUR
    assert open_seconds(week, TZ, start, start + 7 * 24 * HOUR - HOUR) == 5 * HOUR
    # Quiet hours across midnight end in the morning.
    late = datetime(2026, 6, 1, 23, 30, tzinfo=TZ).timestamp()
    assert quiet_until("22:00-07:00", TZ, late) == datetime(2026, 6, 2, 7, 0,
                                                             tzinfo=TZ).timestamp()
    assert quiet_until("22:00-07:00", TZ, monday + 4 * HOUR) is None


def test_no_sale_only_in_opening_hours(tmp_path: Path, broker_port: int) -> None:
    today = datetime.now(TZ).date()
    config = hub_config(tmp_path, broker_port, rules={"no_sale_hours": 3}, machines={
        "open-all": {"opening": ALL_DAY},
        "closed-all": {"opening": CLOSED},
        "holiday": {"opening": {**ALL_DAY, "holidays": [today, today + timedelta(days=1)]}},
    })
    w = World(config)
    machines = [FeedMachine(i, broker_port, slots={"A1": slot(5)}, clock=w.clock)
                for i in ("open-all", "closed-all", "holiday")]
    try:
        for m in machines:
            m.status("online")
            m.row("sale", vend=1, slot="A1", product="Bolso", maker="rosa", price=350,
                  payment="cash")
        wait_for(lambda: all(w.store.verified_rows(m.id) for m in machines), 10, "the sales")
        w.tick()
        w.clock.advance(2 * HOUR)
        w.tick()
        assert w.open("open-all", "no_sale") == []
        w.clock.advance(1.5 * HOUR)
        alert = w.until_open("open-all", "no_sale")
        assert alert.params["hours"] == 3
        w.clock.advance(10 * HOUR)
        w.tick()
        assert w.open("closed-all", "no_sale") == [] and w.open("holiday", "no_sale") == []
        machines[0].row("sale", vend=2, slot="A1", product="Bolso", maker="rosa", price=350,
                        payment="cash")
        w.until_closed(alert)
    finally:
        for m in machines:
            m.close()
        w.close()


def test_quiet_hours_hold_the_alert_and_skip_reminders(tmp_path: Path, broker_port: int,
                                                       ) -> None:
    config = hub_config(tmp_path, broker_port, people={
        "coord": {"role": "coordinator", "channels": ["webhook"]},
        "rosa": {"role": "maker", "maker": "rosa", "channels": ["webhook"],
                 "quiet_hours": _quiet_now(TZ)},
    })
    w = World(config)
    m = FeedMachine("quiet-01", broker_port, slots={"B4": slot(0)})
    try:
        m.status("online")
        m.state()
        alert = w.until_open(m.id, "slot_empty")
        held = [d for d in w.alerts.deliveries(alert.id) if d.person == "rosa"]
        assert [d.notice for d in held] == ["opened"]
        assert held[0].next_try_at > w.clock() + 10 * 60  # not before her quiet hours end
        assert all(d.person == "coord" for d in w.alerts.due(w.clock()))
        w.clock.advance(31 * 60)
        w.tick()
        assert w.notices(alert, "rosa") == ["opened"]
        assert w.notices(alert, "coord") == ["opened", "reminder"]
        m.slots["B4"] = slot(6)
        m.state()
        w.until_closed(alert)
        # Over before she was told: her held notice is withdrawn and nothing else is sent.
        rosa = [d for d in w.alerts.deliveries(alert.id) if d.person == "rosa"]
        assert [d.notice for d in rosa] == ["opened"]
        assert all(d.person == "coord" for d in w.alerts.due(w.clock() + 24 * HOUR))
        assert w.notices(alert, "coord") == ["opened", "reminder", "resolved"]
    finally:
        m.close()
        w.close()


def test_hub_restart_neither_loses_nor_repeats(tmp_path: Path, broker_port: int,
                                              store_url: str) -> None:
    config = hub_config(tmp_path, broker_port, url=store_url)
    w = World(config)
    m = FeedMachine("restart-01", broker_port, slots={"B4": slot(0), "A1": slot(7)},
                    clock=w.clock)
    try:
        m.status("online")
        m.state()
        m.row("payout", device="changer", amount=150, paid=100, owed=50)
        empty = w.until_open(m.id, "slot_empty")
        owed = w.until_open(m.id, "owed")
        assert w.alerts.acknowledge(owed.id, "coord", w.clock(), close=True)
        w.restart()
        for _ in range(3):
            w.tick()
        assert [a.id for a in w.open(m.id)] == [empty.id]  # the same alert, once
        assert w.notices(empty, "coord") == ["opened"]
        w.clock.advance(31 * 60)
        w.tick()
        w.tick()
        assert w.notices(empty, "coord") == ["opened", "reminder"]
        # Restocked while the hub is down: the retained state tells the restarted hub.
        w.close()
        m.slots["B4"] = slot(8)
        m.state()
        m.row("payout", device="changer", amount=100, paid=100)
        w.__init__(config)  # type: ignore[misc]
        w.clock.offset = 31 * 60
        w.until_closed(empty)
        wait_for(lambda: len(w.store.verified_rows(m.id)) == 2, 10, "the new row")
        w.tick()
        assert w.open(m.id) == []
        assert w.notices(empty, "coord") == ["opened", "reminder", "resolved"]
        assert len([a for a in w.alerts.recent() if a.machine == m.id]) == 2
    finally:
        m.close()
        w.close()
