"""GpioDispenser on MockFactory pins, against the simulated cabinet (simulator/cabinet.py).

Every test checks the motor pins' `.states` history: never two motors (matrix: two rows or two
columns) on at the same time, and every motor pin off at the end."""

from __future__ import annotations

import itertools
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from pydantic import ValidationError
from support import wait_for

from simulator.cabinet import SimCabinet
from vendd.config import GpioDispenserConfig
from vendd.events import DeviceFault, DeviceRecovered, Event, VendFinished, VendOutcome
from vendd.hw.dispenser import GpioDispenser
from vendd.hw.virtual import VirtualDispenser

# Timeouts far above the simulated cam's turn (0.05 s), so a busy machine that runs the cabinet's
# thread late never fails a vend; a test that needs a timeout to fire shortens just that one.
TIMING = {"leave_home_timeout_s": 1.0, "home_timeout_s": 2.0, "drop_wait_s": 0.3, "turns": 2}
SHORT_HOME = {"home_timeout_s": 0.4}  # the cam never comes back: no need to wait long
SHORT_LEAVE = {"leave_home_timeout_s": 0.2}  # the home switch never opens
SHORT_DROP = {"drop_wait_s": 0.05}  # nothing will fall
DIRECT = {
    "kind": "gpio",
    "wiring": "direct",
    "motors": {"A1": 5, "A2": 6, "B1": 13},
    "home_pins": {"A1": 16, "A2": 19, "B1": 26},
    "drop_sensor_pin": 20,
    **TIMING,
}
MATRIX = {
    "kind": "gpio",
    "wiring": "matrix",
    "rows": {"A": 5, "B": 6},
    "columns": {"1": 13, "2": 19},
    "home_pin": 16,
    "drop_sensor_pin": 20,
    **TIMING,
}


# --- helpers -------------------------------------------------------------------------------------


def on_intervals(pin: Any, active_high: bool) -> list[tuple[float, float]]:
    """(on, off) absolute times from a MockPin's history (its timestamps are deltas)."""
    t = pin._last_change - sum(s.timestamp for s in pin.states)
    out, since = [], None
    for state in pin.states:
        t += state.timestamp
        on = bool(state.state) == active_high
        if on and since is None:
            since = t
        elif not on and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, math.inf))
    return out


def motor_groups(cfg: GpioDispenserConfig) -> list[list[int]]:
    if cfg.wiring == "matrix":
        return [list(cfg.rows.values()), list(cfg.columns.values())]
    return [list(cfg.motors.values())]


def assert_safe_history(factory: MockFactory, cfg: GpioDispenserConfig) -> None:
    for group in motor_groups(cfg):
        spans = sorted(
            (start, end, pin)
            for pin in group
            for start, end in on_intervals(factory.pin(pin), cfg.active_high)
        )
        for (_s1, e1, p1), (s2, _e2, p2) in itertools.pairwise(spans):
            assert s2 >= e1, f"GPIO {p1} and GPIO {p2} were on together"
        for pin in group:
            last = factory.pin(pin).states[-1].state
            assert bool(last) != cfg.active_high, f"GPIO {pin} was left on"


def turned(factory: MockFactory, cfg: GpioDispenserConfig) -> int:
    """How many times any motor was switched on."""
    group = motor_groups(cfg)[0]
    return sum(len(on_intervals(factory.pin(p), cfg.active_high)) for p in group)


class Rig:
    def __init__(self, factory: MockFactory, raw: dict[str, Any], turn_time_s: float) -> None:
        self.factory = factory
        self.cfg = GpioDispenserConfig(**raw)
        self.events: queue.Queue[Event] = queue.Queue()
        self.dispenser = GpioDispenser("dispenser", self.cfg, factory)
        self.dispenser.start(self.post)
        self.cabinet = SimCabinet(self.cfg, factory, turn_time_s)
        self.cabinet.start()
        wait_for(self._inputs_ready, what="cabinet inputs")
        for group in motor_groups(self.cfg):
            for pin in group:
                factory.pin(pin).clear_states()

    def _inputs_ready(self) -> bool:
        d = self.dispenser
        beam = d._drop_sensor
        return all(h.active for h in d._homes.values()) and not (beam and beam.active)

    def post(self, event: Event) -> None:
        self.events.put(event)

    def next(self, kind: type, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(event, kind):
                return event

    def vend(self, slot: str, vend_id: int = 1) -> VendFinished:
        self.dispenser.vend(vend_id, slot)
        return self.next(VendFinished)

    def close(self) -> None:
        self.dispenser.stop()
        self.cabinet.stop()


@pytest.fixture
def rigs(factory: MockFactory) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(raw: dict[str, Any] = DIRECT, turn_time_s: float = 0.05, **over: Any) -> Rig:
        rig = Rig(factory, {**raw, **over}, turn_time_s)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()
        assert_safe_history(factory, rig.cfg)


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
        assert rig.next(VendFinished, timeout=1.0) == VendFinished(
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
    assert events.get(timeout=5) == VendFinished(2, "A2", VendOutcome.DELIVERED)
    dispenser.stop()
