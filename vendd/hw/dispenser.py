"""Spiral motors on GPIO: one pin per motor or a row x column matrix, home (cam) switches, and an
optional IR drop sensor across the chute.

A vend runs on its own thread, holds the one motor lock for its whole length (never two motors
at once), and ends by posting `VendFinished`:

1. refusals, before any motor moves (`turns=0`):
   - the drop beam is already blocked: blocking `DeviceFault("drop_sensor_blocked")` and
     outcome NO_DROP (a sale could not be verified). `DeviceRecovered` when the beam clears;
   - the motor's own home switch says it is not at home (it stopped mid-turn before): a
     non-blocking `DeviceFault("motor_not_home", slot)` and outcome JAMMED;
   - with a matrix and one shared home line the home switch can only be read while that motor
     is selected, so this check is made right after energising: the line must read "home"
     within `home_settle_s`, long before a cam can move off its switch (`turns=0` too, and
     the motor is powered off at once).
2. each turn: energise; wait for the cam to leave home (`leave_home_timeout_s`, else
   STUCK_AT_HOME); wait for it to come back (`home_timeout_s` from leaving, else JAMMED); power
   off as soon as it is home; a drop seen at any time during the turn or `drop_wait_s` after it
   is DELIVERED. No drop: turn again, up to `turns`, then NO_DROP. Without a drop sensor a
   completed turn is DELIVERED.
3. `stop()` mid-turn powers off at once and the outcome is INTERRUPTED.

4. any exception in the vend thread (a GPIO write or read failing): outcome STUCK_AT_HOME with
   the turns made so far (the machine restores the credit and faults the slot) and a blocking
   `DeviceFault("gpio_error")`; the traceback is logged.

Safe state: every motor output off (row and column pins off in a matrix). Every exit path of a
vend (outcome, timeout, exception, stop) ends in a `finally` that switches every motor output
off; `stop()` switches them off again before releasing the pins. The driver board must hold the
motors off while the pins are released (boot, crash, exit): pull resistors to the off level.

Home switches and the drop sensor are read through gpiozero callbacks that only set flags under
a condition variable; the vend thread waits on that condition with deadlines (no polling).
Home switches close to ground at home (inputs pulled up: home = low).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

from gpiozero import DigitalOutputDevice, GPIOZeroError

from vendd.config import GpioDispenserConfig
from vendd.errors import DeviceError
from vendd.events import DeviceFault, DeviceRecovered, VendFinished, VendOutcome
from vendd.hw.base import Post
from vendd.hw.keypad import EdgeInput, FactoryClock

log = logging.getLogger(__name__)

SHARED_HOME = "*"


class _NotAtHome(DeviceError):
    """The shared home line did not read "home" as the motor was selected."""


class _Wait(Enum):
    OK = "ok"
    TIMEOUT = "timeout"
    STOPPED = "stopped"


class GpioDispenser:
    def __init__(self, name: str, config: GpioDispenserConfig, pin_factory: Any) -> None:
        if pin_factory is None:
            raise DeviceError(f"{name}: a gpiozero pin factory is required")
        self.name = name
        self._cfg = config
        self._factory = pin_factory
        self._post: Post | None = None
        self._motor_lock = threading.Lock()  # one vend (one motor) at a time
        self._cond = threading.Condition()  # guards the flags below
        self._stopping = False
        self._watch: str | None = None  # the home line whose edges count now
        self._left = self._home = self._drop = False
        self._drop_fault = False
        self._outputs: dict[int, DigitalOutputDevice] = {}
        self._homes: dict[str, EdgeInput] = {}
        self._drop_sensor: EdgeInput | None = None
        self._threads: set[threading.Thread] = set()
        self._turns_made = 0  # in the running vend (under the motor lock)
        self.slots = config.motor_slots()  # wiring rules: checked by the config

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, post: Post) -> None:
        self._post = post
        with self._cond:
            self._stopping = False
        try:
            self._open()
        except (GPIOZeroError, OSError) as exc:
            self._close()
            raise DeviceError(f"{self.name}: cannot open the GPIO pins: {exc}") from exc

    def _open(self) -> None:
        c = self._cfg
        clock = FactoryClock(self._factory)
        pins = list(c.motors.values()) + list(c.rows.values()) + list(c.columns.values())
        for pin in pins:
            self._outputs[pin] = DigitalOutputDevice(
                pin, active_high=c.active_high, initial_value=False, pin_factory=self._factory
            )
        lines = dict(c.home_pins)
        if c.home_pin is not None:
            lines[SHARED_HOME] = c.home_pin
        for key, pin in lines.items():
            self._homes[key] = EdgeInput(
                pin,
                active_low=True,
                pin_factory=self._factory,
                clock=clock,
                on_edge=self._home_callback(key),
            )
        if c.drop_sensor_pin is not None:
            self._drop_sensor = EdgeInput(
                c.drop_sensor_pin,
                active_low=c.drop_sensor_active_low,
                pin_factory=self._factory,
                clock=clock,
                on_edge=self._drop_edge,
            )

    def stop(self) -> None:
        """Power off at once, end a running vend (INTERRUPTED), release the pins. Idempotent."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._all_off()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._all_off()
        self._close()

    def _close(self) -> None:
        for out in self._outputs.values():
            out.off()
            out.close()
        self._outputs.clear()
        for inp in [*self._homes.values(), *filter(None, [self._drop_sensor])]:
            inp.close()
        self._homes.clear()
        self._drop_sensor = None

    # --- commands --------------------------------------------------------------------------

    def vend(self, vend_id: int, slot: str) -> None:
        """Start a vend on the driver's thread and return at once."""
        if self._post is None:
            raise DeviceError(f"{self.name}: vend before start()")
        thread = threading.Thread(
            target=self._run, args=(vend_id, slot), name=f"{self.name}-vend-{vend_id}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _run(self, vend_id: int, slot: str) -> None:
        try:
            try:
                with self._motor_lock:
                    outcome, turns = self._vend_safely(slot)
            except Exception as exc:  # the thread boundary: the vend must still end
                self._vend_failed(vend_id, slot, exc)
                return
            log.info(
                "%s: vend %d slot %s: %s after %d turn(s)",
                self.name,
                vend_id,
                slot,
                outcome.value,
                turns,
            )
            self._emit(VendFinished(vend_id, slot, outcome, turns))
        finally:
            self._threads.discard(threading.current_thread())

    def _vend_failed(self, vend_id: int, slot: str, exc: Exception) -> None:
        """The motors are off (`_vend_safely`'s finally). End the vend so the machine gives the
        credit back and faults the slot, and take the dispenser out of service."""
        turns = self._turns_made
        log.exception("%s: vend %d slot %s failed after %d turn(s)", self.name, vend_id, slot,
                      turns)
        self._emit(VendFinished(vend_id, slot, VendOutcome.STUCK_AT_HOME, turns))
        self._emit(DeviceFault(self.name, "gpio_error", str(exc) or type(exc).__name__,
                               blocking=True))

    def _emit(self, event: Any) -> None:
        assert self._post is not None
        self._post(event)

    # --- one vend ----------------------------------------------------------------------------

    def _vend_safely(self, slot: str) -> tuple[VendOutcome, int]:
        self._turns_made = 0
        try:
            refused = self._refusal(slot)
            if refused is not None:
                return refused, 0
            return self._turns(slot)
        finally:
            with self._cond:
                self._watch = None
            self._all_off()

    def _refusal(self, slot: str) -> VendOutcome | None:
        if self._stopped():
            return VendOutcome.INTERRUPTED
        if slot not in self.slots:
            log.error("%s: no motor is wired for slot %s", self.name, slot)
            self._emit(DeviceFault(self.name, "unknown_slot", slot, blocking=False))
            return VendOutcome.JAMMED
        if self._drop_sensor is not None and self._drop_sensor.active:
            log.error("%s: drop sensor blocked before vending %s", self.name, slot)
            with self._cond:
                self._drop_fault = True
            self._emit(DeviceFault(self.name, "drop_sensor_blocked", slot, blocking=True))
            return VendOutcome.NO_DROP
        if slot in self._cfg.home_pins and not self._homes[slot].active:
            return self._not_home(slot)
        return None

    def _not_home(self, slot: str) -> VendOutcome:
        log.error("%s: motor %s is not at home", self.name, slot)
        self._emit(DeviceFault(self.name, "motor_not_home", slot, blocking=False))
        return VendOutcome.JAMMED

    def _turns(self, slot: str) -> tuple[VendOutcome, int]:
        for turn in range(1, self._cfg.turns + 1):
            self._turns_made = turn
            try:
                outcome = self._turn(slot, first=turn == 1)
            except _NotAtHome:
                self._all_off()
                return self._not_home(slot), 0
            if outcome is not None:
                return outcome, turn
            log.warning("%s: no drop from %s on turn %d", self.name, slot, turn)
        return VendOutcome.NO_DROP, self._cfg.turns

    def _turn(self, slot: str, first: bool) -> VendOutcome | None:
        """One turn. None: the cam came home but nothing dropped."""
        key = slot if slot in self._homes else SHARED_HOME
        with self._cond:
            self._watch, self._left, self._home, self._drop = key, False, False, False
        self._energise(slot)
        if first and key == SHARED_HOME:
            self._check_shared_line(slot)
        waited = self._wait(lambda: self._left, self._cfg.leave_home_timeout_s)
        if waited is not _Wait.OK:
            return self._failed(waited, VendOutcome.STUCK_AT_HOME, slot)
        waited = self._wait(lambda: self._home, self._cfg.home_timeout_s)
        self._all_off()  # home, timed out or stopped: power off at once
        if waited is not _Wait.OK:
            return self._failed(waited, VendOutcome.JAMMED, slot)
        with self._cond:
            self._watch = None
        return self._drop_result()

    def _check_shared_line(self, slot: str) -> None:
        """Raise _NotAtHome unless the shared line shows home for the selected motor."""
        line = self._homes[SHARED_HOME]
        if self._wait(lambda: line.active, self._cfg.home_settle_s) is _Wait.TIMEOUT:
            self._all_off()
            raise _NotAtHome(slot)

    def _drop_result(self) -> VendOutcome | None:
        if self._drop_sensor is None:
            return VendOutcome.DELIVERED
        with self._cond:
            if self._drop:  # fell during the turn: no need to wait, even if stopping now
                return VendOutcome.DELIVERED
        waited = self._wait(lambda: self._drop, self._cfg.drop_wait_s)
        if waited is _Wait.STOPPED:
            return VendOutcome.INTERRUPTED
        return VendOutcome.DELIVERED if waited is _Wait.OK else None

    def _failed(self, waited: _Wait, timeout_outcome: VendOutcome, slot: str) -> VendOutcome:
        self._all_off()
        if waited is _Wait.STOPPED:
            log.warning("%s: stopped while turning %s", self.name, slot)
            return VendOutcome.INTERRUPTED
        log.error("%s: motor %s %s", self.name, slot, timeout_outcome.value)
        return timeout_outcome

    def _wait(self, ready: Callable[[], bool], timeout: float) -> _Wait:
        with self._cond:
            done = self._cond.wait_for(lambda: self._stopping or ready(), timeout)
            if self._stopping:
                return _Wait.STOPPED
            return _Wait.OK if done else _Wait.TIMEOUT

    def _stopped(self) -> bool:
        with self._cond:
            return self._stopping

    # --- outputs -----------------------------------------------------------------------------

    def _motor_pins(self, slot: str) -> list[int]:
        c = self._cfg
        if c.wiring == "matrix":
            return [c.rows[slot[0]], c.columns[slot[1:]]]
        return [c.motors[slot]]

    def _energise(self, slot: str) -> None:
        self._all_off()  # belt and braces: never two motors at once
        for pin in self._motor_pins(slot):
            self._outputs[pin].on()

    def _all_off(self) -> None:
        """Every motor output off: one pin failing does not leave the others on."""
        failed: GPIOZeroError | OSError | None = None
        for out in list(self._outputs.values()):
            try:
                out.off()
            except (GPIOZeroError, OSError) as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    # --- callbacks (library thread: set a flag, notify, return) ------------------------------

    def _home_callback(self, key: str) -> Callable[[float, bool], None]:
        def on_edge(t: float, at_home: bool) -> None:
            with self._cond:
                if self._watch != key:
                    return
                if not at_home:
                    self._left = True
                elif self._left:
                    self._home = True
                self._cond.notify_all()

        return on_edge

    def _drop_edge(self, t: float, blocked: bool) -> None:
        recovered = False
        with self._cond:
            if blocked:
                self._drop = True
                self._cond.notify_all()
            elif self._drop_fault:
                self._drop_fault, recovered = False, True
        if recovered and self._post is not None:
            log.info("%s: drop sensor clear again", self.name)
            self._post(DeviceRecovered(self.name))
