"""GpioDispenser when a vend is cut short: a stop mid-turn, a failing listener, a bug or a GPIO
error in the middle of a turn. Every motor ends off and the vend is always finished, so the
buyer's credit comes back (the rig, dispenser_rig.py, checks every motor pin's history)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest
from dispenser_rig import (
    DIRECT,
    MATRIX,
    SHORT_HOME,
    Rig,
    assert_safe_history,
    turned,
)
from gpiozero.pins.mock import MockFactory
from pydantic import ValidationError
from support import wait_for

from vendd.config import GpioDispenserConfig
from vendd.events import (
    DeviceFault,
    Event,
    ProductDropped,
    VendFinished,
    VendOutcome,
)
from vendd.hw.virtual import VirtualDispenser

# --- stop, exceptions ----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_stop_mid_turn_powers_off_and_reports_interrupted(
    factory: MockFactory, raw: dict[str, Any]
) -> None:
    rig = Rig(factory, {**raw, "home_timeout_s": 5.0}, turn_time_s=3.0)
    try:
        rig.dispenser.vend(7, "A1")
        wait_for(lambda: rig.cabinet.turns["A1"] == 1, what="the cam leaving home")
        rig.dispenser.stop()
        assert rig.next(VendFinished) == VendFinished(
            7, "A1", VendOutcome.INTERRUPTED, 1
        )
    finally:
        rig.close()
    assert_safe_history(factory, rig.cfg)
    assert rig.cabinet.drops == []


def test_vend_after_stop_is_interrupted_without_moving(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    rig.dispenser.stop()
    rig.dispenser.vend(1, "A1")
    assert rig.next(VendFinished).outcome is VendOutcome.INTERRUPTED


class Boom(RuntimeError):
    pass


def capture_thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    errors: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        errors.append(args.exc_value)  # type: ignore[arg-type]

    monkeypatch.setattr(threading, "excepthook", hook)
    return errors


def test_post_raising_leaves_motors_off_and_lock_free(
    rigs: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = capture_thread_errors(monkeypatch)
    rig = rigs()
    real_post = rig.post
    calls = {"n": 0}

    def flaky(event: Event) -> None:
        # The fall is posted from the sensor's callback; the vend thread's first post is
        # its VendFinished.
        if isinstance(event, VendFinished):
            calls["n"] += 1
            if calls["n"] == 1:
                raise Boom("controller died")
        real_post(event)

    rig.dispenser._post = flaky
    rig.dispenser.vend(1, "A1")
    wait_for(lambda: bool(errors), what="the vend thread to fail")
    assert isinstance(errors[0], Boom)
    assert_safe_history(rig.factory, rig.cfg)
    assert rig.vend("A2", 2).outcome is VendOutcome.DELIVERED  # the lock was released


def test_post_raising_mid_vend_on_a_fault(
    rigs: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = capture_thread_errors(monkeypatch)
    rig = rigs(**SHORT_HOME)
    rig.cabinet.faults.jam.add("A1")
    rig.vend("A1", 1)

    def boom(event: Event) -> None:
        raise Boom("queue closed")

    rig.dispenser._post = boom
    rig.dispenser.vend(2, "A1")  # posts motor_not_home mid-vend
    wait_for(lambda: bool(errors), what="the vend thread to fail")
    rig.dispenser._post = rig.post
    assert_safe_history(rig.factory, rig.cfg)
    assert rig.vend("B1", 3).outcome is VendOutcome.DELIVERED


def test_exception_mid_turn_powers_off_and_ends_the_vend(
    rigs: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = capture_thread_errors(monkeypatch)
    rig = rigs({**MATRIX})
    real_wait = rig.dispenser._wait
    energised = threading.Event()

    def failing_wait(ready: Callable[[], bool], timeout: float) -> Any:
        if rig.factory.pin(5).state:  # row A is on: we are mid-turn
            energised.set()
            raise Boom("pin read failed")
        return real_wait(ready, timeout)

    monkeypatch.setattr(rig.dispenser, "_wait", failing_wait)
    rig.dispenser.vend(1, "A1")
    assert rig.next(VendFinished) == VendFinished(1, "A1", VendOutcome.STUCK_AT_HOME, 1)
    assert energised.is_set()
    assert errors == []
    assert_safe_history(rig.factory, rig.cfg)
    monkeypatch.setattr(rig.dispenser, "_wait", real_wait)
    assert rig.vend("B2", 2).outcome is VendOutcome.DELIVERED


def test_unknown_slot_is_refused(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    rig.dispenser.vend(1, "C9")
    assert rig.next(DeviceFault).code == "unknown_slot"
    assert rig.next(VendFinished).outcome is VendOutcome.JAMMED


def test_a_motor_without_home_switch_is_a_config_error() -> None:
    # The config refuses it, so `check-config` says so before `run` ever builds the driver.
    with pytest.raises(ValidationError, match="no home switch for A2, B1"):
        GpioDispenserConfig(**{**DIRECT, "home_pins": {"A1": 16}})


def test_the_history_check_catches_overlap_and_a_motor_left_on(factory: MockFactory) -> None:
    from gpiozero import DigitalOutputDevice

    cfg = GpioDispenserConfig(**DIRECT)
    a1, a2 = (DigitalOutputDevice(p, pin_factory=factory) for p in (5, 6))
    factory.pin(13)  # B1: never touched
    a1.on()
    a2.on()
    a1.off()
    with pytest.raises(AssertionError, match="on together"):
        assert_safe_history(factory, cfg)
    for pin in (5, 6):
        factory.pin(pin).clear_states()  # history now starts with A2 still on
    with pytest.raises(AssertionError, match="left on"):
        assert_safe_history(factory, cfg)
    a2.off()
    a1.on()
    a1.off()
    assert_safe_history(factory, cfg)


# --- a GPIO error ends the vend: the buyer gets the credit back --------------------------------


@pytest.mark.parametrize("raw", [DIRECT, MATRIX], ids=["direct", "matrix"])
def test_gpio_error_mid_vend_finishes_the_vend_and_faults(
    rigs: Callable[..., Rig],
    raw: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """lgpio raising on a pin write: the vend still ends (STUCK_AT_HOME, so the machine gives
    the credit back and faults the slot), the dispenser reports a blocking gpio_error with the
    traceback in the log, and no motor is left on."""
    errors = capture_thread_errors(monkeypatch)
    rig = rigs(raw)
    motor = rig.dispenser._outputs[5]  # A1 (direct) or row A (matrix)

    def bad_write() -> None:
        raise OSError(5, "lgpio: bad write")

    monkeypatch.setattr(motor, "on", bad_write)
    rig.dispenser.vend(1, "A1")
    assert rig.next(VendFinished) == VendFinished(1, "A1", VendOutcome.STUCK_AT_HOME, 1)
    fault = rig.next(DeviceFault)
    assert (fault.device, fault.code, fault.blocking) == ("dispenser", "gpio_error", True)
    assert "lgpio: bad write" in fault.detail
    assert any(r.exc_info for r in caplog.records if "vend 1 slot A1 failed" in r.getMessage())
    assert errors == []
    assert_safe_history(rig.factory, rig.cfg)
    monkeypatch.undo()
    assert rig.vend("B1", 2).outcome is VendOutcome.DELIVERED  # the motor lock was released


def test_gpio_error_before_any_turn_reports_zero_turns(
    rigs: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = rigs()
    home = rig.dispenser._homes["A1"]

    def bad_read() -> bool:
        raise OSError(5, "lgpio: bad read")

    monkeypatch.setattr(type(home), "active", property(lambda self: bad_read()))
    rig.dispenser.vend(3, "A1")
    assert rig.next(VendFinished) == VendFinished(3, "A1", VendOutcome.STUCK_AT_HOME, 0)
    assert rig.next(DeviceFault).code == "gpio_error"
    assert turned(rig.factory, rig.cfg) == 0


def test_virtual_dispenser_error_finishes_the_vend(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    errors = capture_thread_errors(monkeypatch)
    events: queue.Queue[Event] = queue.Queue()
    dispenser = VirtualDispenser()
    dispenser.start(events.put)

    def broken(slot: str) -> VendOutcome:
        raise OSError(5, "sim: bad write")

    dispenser.outcome_for = broken
    dispenser.vend(1, "A1")
    assert events.get(timeout=5) == VendFinished(1, "A1", VendOutcome.STUCK_AT_HOME)
    fault = events.get(timeout=5)
    assert isinstance(fault, DeviceFault)
    assert (fault.code, fault.blocking) == ("gpio_error", True)
    assert dispenser.motor_on is None
    assert errors == []
    assert any(r.exc_info for r in caplog.records if "vend 1 slot A1 failed" in r.getMessage())
    dispenser.outcome_for = lambda slot: VendOutcome.DELIVERED
    dispenser.vend(2, "A2")  # not "a vend is already running"
    assert events.get(timeout=5) == ProductDropped(2, "A2")  # the sale, then the motor's end
    assert events.get(timeout=5) == VendFinished(2, "A2", VendOutcome.DELIVERED)
    dispenser.stop()
