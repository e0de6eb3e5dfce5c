"""GpioDispenser on MockFactory pins, against the simulated cabinet: what a vend comes to
(delivered, no drop, jammed, not home...). The rig (dispenser_rig.py) checks every motor pin's
history after each test."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from dispenser_rig import (
    DIRECT,
    MATRIX,
    SHORT_DROP,
    SHORT_HOME,
    SHORT_LEAVE,
    Rig,
    assert_safe_history,
    motor_groups,
    on_intervals,
    turned,
)

from vendd.events import (
    DeviceFault,
    DeviceRecovered,
    Event,
    ProductDropped,
    VendFinished,
    VendOutcome,
)

# --- outcomes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_delivered_in_one_turn(rigs: Callable[..., Rig], raw: dict[str, Any]) -> None:
    rig = rigs(raw)
    done = rig.vend("A1")
    assert done == VendFinished(1, "A1", VendOutcome.DELIVERED, 1)
    assert rig.cabinet.drops == ["A1"]
    assert turned(rig.factory, rig.cfg) == 1
    assert_safe_history(rig.factory, rig.cfg)


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_the_fall_is_posted_while_the_motor_still_turns(
    rigs: Callable[..., Rig], raw: dict[str, Any]
) -> None:
    rig = rigs(raw)
    seen: list[tuple[Event, bool]] = []
    pins = motor_groups(rig.cfg)[0]

    def post(event: Event) -> None:
        powered = any(bool(rig.factory.pin(p).state) == rig.cfg.active_high for p in pins)
        seen.append((event, powered))
        rig.post(event)

    rig.dispenser._post = post
    rig.cabinet.dwell_s = 1.0  # a slow power-off (a busy machine) never starts another turn
    rig.cabinet.faults.hang.add("A1")  # it falls on the second turn
    done = rig.vend("A1", 7)
    assert [e for e, _ in seen] == [ProductDropped(7, "A1", 2), done]
    assert seen[0][1], "the fall must be posted before the motor is home and off"
    assert done == VendFinished(7, "A1", VendOutcome.DELIVERED, 2)
    assert rig.cabinet.drops == ["A1"]


def test_no_fall_no_sale_posted(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    seen: list[Event] = []
    rig.dispenser._post = lambda event: (seen.append(event), rig.post(event))
    rig.cabinet.products["A1"] = 0
    assert rig.vend("A1").outcome is VendOutcome.NO_DROP
    assert rig.cabinet.turns["A1"] == 2
    assert not any(isinstance(e, ProductDropped) for e in seen), seen


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_every_slot_in_turn(rigs: Callable[..., Rig], raw: dict[str, Any]) -> None:
    rig = rigs(raw)
    for i, slot in enumerate(rig.dispenser.slots):
        assert rig.vend(slot, i).outcome is VendOutcome.DELIVERED
    assert rig.cabinet.drops == rig.dispenser.slots
    assert_safe_history(rig.factory, rig.cfg)


def test_vends_asked_back_to_back_never_overlap(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    for i, slot in enumerate(["A1", "A2", "B1", "A1"]):
        rig.dispenser.vend(i, slot)
    done = [rig.next(VendFinished) for _ in range(4)]
    assert {d.outcome for d in done} == {VendOutcome.DELIVERED}
    assert len(rig.cabinet.drops) == 4
    assert_safe_history(rig.factory, rig.cfg)


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_hung_product_falls_on_second_turn(rigs: Callable[..., Rig], raw: dict[str, Any]) -> None:
    rig = rigs(raw)
    rig.cabinet.faults.hang.add("A2")
    done = rig.vend("A2")
    assert (done.outcome, done.turns) == (VendOutcome.DELIVERED, 2)
    assert rig.cabinet.drops == ["A2"]


def test_empty_spiral_is_no_drop_after_all_turns(rigs: Callable[..., Rig]) -> None:
    rig = rigs(**SHORT_DROP)
    rig.cabinet.products["B1"] = 0
    done = rig.vend("B1")
    assert (done.outcome, done.turns) == (VendOutcome.NO_DROP, 2)
    assert rig.cabinet.drops == []
    assert turned(rig.factory, rig.cfg) == 2


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_jam_powers_off_and_reports_jammed(rigs: Callable[..., Rig], raw: dict[str, Any]) -> None:
    rig = rigs(raw, **SHORT_HOME)
    rig.cabinet.faults.jam.add("A1")
    done = rig.vend("A1")
    assert (done.outcome, done.turns) == (VendOutcome.JAMMED, 1)
    assert_safe_history(rig.factory, rig.cfg)
    # Switched off by the time the vend was reported, after giving the cam its whole timeout.
    ((start, end),) = on_intervals(rig.factory.pin(5), True)
    assert end != math.inf
    assert end - start >= SHORT_HOME["home_timeout_s"]


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_stuck_home_switch(rigs: Callable[..., Rig], raw: dict[str, Any]) -> None:
    rig = rigs(raw, **SHORT_LEAVE)
    rig.cabinet.faults.stuck_home.add("A1")
    done = rig.vend("A1")
    assert (done.outcome, done.turns) == (VendOutcome.STUCK_AT_HOME, 1)
    assert rig.cabinet.drops == []


def test_motor_not_at_home_is_refused_without_moving(rigs: Callable[..., Rig]) -> None:
    rig = rigs(**SHORT_HOME)
    rig.cabinet.faults.jam.add("A1")
    assert rig.vend("A1", 1).outcome is VendOutcome.JAMMED
    rig.cabinet.faults.jam.clear()  # the jam is gone but the cam is still off home
    before = turned(rig.factory, rig.cfg)
    done = rig.vend("A1", 2)
    assert (done.outcome, done.turns) == (VendOutcome.JAMMED, 0)
    assert turned(rig.factory, rig.cfg) == before  # never energised
    # Another slot still sells.
    assert rig.vend("A2", 3).outcome is VendOutcome.DELIVERED


def test_not_home_fault_is_reported(rigs: Callable[..., Rig]) -> None:
    rig = rigs(**SHORT_HOME)
    rig.cabinet.faults.jam.add("A1")
    rig.vend("A1", 1)
    rig.dispenser.vend(2, "A1")
    fault = rig.next(DeviceFault)
    assert (fault.code, fault.detail, fault.blocking) == ("motor_not_home", "A1", False)
    assert rig.next(VendFinished).turns == 0


def test_matrix_shared_home_line_not_home(rigs: Callable[..., Rig]) -> None:
    rig = rigs(MATRIX, **SHORT_HOME)
    rig.cabinet.faults.jam.add("A1")
    assert rig.vend("A1", 1).outcome is VendOutcome.JAMMED
    rig.dispenser.vend(2, "A1")
    assert rig.next(DeviceFault).code == "motor_not_home"
    done = rig.next(VendFinished)
    assert (done.outcome, done.turns) == (VendOutcome.JAMMED, 0)
    # The shared line reads the selected motor: another slot still sells.
    assert rig.vend("B2", 3).outcome is VendOutcome.DELIVERED
    assert_safe_history(rig.factory, rig.cfg)


def test_drop_sensor_stuck_blocked_refuses_before_moving(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    rig.cabinet.faults.drop_sensor_stuck = True
    rig.cabinet.step()
    rig.dispenser.vend(1, "A1")
    fault = rig.next(DeviceFault)
    assert (fault.code, fault.blocking) == ("drop_sensor_blocked", True)
    done = rig.next(VendFinished)
    assert (done.outcome, done.turns) == (VendOutcome.NO_DROP, 0)
    assert turned(rig.factory, rig.cfg) == 0
    rig.cabinet.faults.drop_sensor_stuck = False
    assert rig.next(DeviceRecovered) == DeviceRecovered("dispenser")
    assert rig.vend("A1", 2).outcome is VendOutcome.DELIVERED


def test_without_drop_sensor_a_full_turn_is_delivered(rigs: Callable[..., Rig]) -> None:
    rig = rigs({**DIRECT, "drop_sensor_pin": None})
    rig.cabinet.products["A1"] = 0  # nobody can tell
    assert rig.vend("A1").outcome is VendOutcome.DELIVERED


def test_active_low_motors(rigs: Callable[..., Rig]) -> None:
    rig = rigs({**DIRECT, "active_high": False})
    assert rig.factory.pin(5).state is True  # off = high
    assert rig.vend("A1").outcome is VendOutcome.DELIVERED
    assert rig.cabinet.drops == ["A1"]
    assert_safe_history(rig.factory, rig.cfg)
