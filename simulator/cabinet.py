"""Physics of the cabinet on gpiozero MockFactory pins: spiral motors, cams, products, drop beam.

`SimCabinet` polls the motor output pins (`factory.pin(n).state`) on its own thread, like a
scope on the driver board, and drives the input pins the dispenser reads:
- a motor energised turns its cam: the home switch opens `leave_s` after start (a fifth of the
  turn, at most 50 ms), the spiral pushes its front product through the drop beam half-way
  round (beam blocked, then clear), and the switch closes again after `turn_time_s`. A cam
  that reaches home stays in the detent for `dwell_s` while still powered, so the driver's
  power-off latency does not start another turn;
- home switches close to ground (home = low), the drop beam reads "blocked" at the level the
  config says (`drop_sensor_active_low`); on pins made with `pin_class=HeldPin` those levels
  hold against the daemon's pull resistors, as on the real lines (held_pin.py);
- with a matrix and one shared home line, the line shows the home switch of the selected motor
  (row and column both on); with no motor selected it reads home when every cam is at home.

Products per slot are the simulator's own counts (they can differ from the ledger's).
Injectable faults, per slot: `jam` (the cam stops part-way, never comes home), `stuck_home`
(the motor never moves off its home switch), an empty spiral (`products[slot] = 0`), `hang`
(the next product hangs on its first turn and falls on the second); for the cabinet:
`drop_sensor_stuck` (the beam reads blocked for good).
`hold[slot] = fraction` stops that cam at that point of its turn while powered (a spiral that
labours: the chaos test's way to be between drop and home for as long as it likes); the slot
is then in `holding` until the hold is lifted.
Every product that falls is appended to `drops` and passed to `on_drop(slot)`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from simulator.held_pin import HeldPin
from vendd.config import GpioDispenserConfig

log = logging.getLogger(__name__)

JAM_AT = 0.3  # fraction of a turn where a jammed spiral stops
DROP_AT = 0.5  # fraction of a turn where the front product crosses the beam
BEAM_FOR = 0.1  # fraction of a turn the beam stays blocked


@dataclass
class _Cam:
    angle: float = 0.0  # fraction of a turn; the home switch is closed below leave_frac
    running: bool = False
    last: float = 0.0  # time of the last step while powered
    home_since: float | None = None  # when it reached home while still powered


@dataclass
class SimFaults:
    jam: set[str] = field(default_factory=set)
    stuck_home: set[str] = field(default_factory=set)
    hang: set[str] = field(default_factory=set)
    drop_sensor_stuck: bool = False


class SimCabinet:
    def __init__(
        self,
        dispenser_config: GpioDispenserConfig,
        factory: MockFactory,
        turn_time_s: float = 0.3,
        *,
        products: dict[str, int] | None = None,
        poll_s: float = 0.0005,
        dwell_s: float = 0.05,
    ) -> None:
        self.config = dispenser_config
        self.factory = factory
        self.turn_time_s = max(turn_time_s, 1e-4)
        self.leave_s = min(0.05, self.turn_time_s / 5)
        self._leave_frac = self.leave_s / self.turn_time_s
        self.poll_s = poll_s
        self.dwell_s = dwell_s
        self.slots = _slots(dispenser_config)
        self.products: dict[str, int] = {s: 5 for s in self.slots}
        self.products.update(products or {})
        self.faults = SimFaults()
        self.drops: list[str] = []
        self.on_drop: Callable[[str], None] | None = None
        self.on_home: Callable[[str, float], None] | None = None  # (slot, monotonic time)
        self.turns: dict[str, int] = {s: 0 for s in self.slots}
        self.hold: dict[str, float] = {}
        self.holding: set[str] = set()
        self._cams = {s: _Cam() for s in self.slots}
        self._beam_until = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.step()
        self._thread = threading.Thread(target=self._run, name="sim-cabinet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None
        c = self.config
        for pin in (*c.home_pins.values(), c.home_pin, c.drop_sensor_pin):
            held = self.factory.pin(pin) if pin is not None else None
            if isinstance(held, HeldPin):
                held.held = None  # the cabinet is gone: only pull resistors hold the lines

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.step()

    # --- physics -------------------------------------------------------------------------------

    def step(self, now: float | None = None) -> None:
        """Advance the model to `now` and drive the input pins to match."""
        now = time.monotonic() if now is None else now
        with self._lock:
            selected = self._energised()
            for slot, cam in self._cams.items():
                self._advance(slot, cam, slot in selected, now)
            self._drive_inputs(selected, now)

    def _advance(self, slot: str, cam: _Cam, powered: bool, now: float) -> None:
        if not powered:
            cam.running, cam.home_since = False, None
            return
        if not cam.running:
            cam.running, cam.last = True, now  # energised this instant
            return
        dt, cam.last = now - cam.last, now
        if slot in self.faults.stuck_home:
            return
        if cam.home_since is not None:
            if now - cam.home_since < self.dwell_s:
                return  # in the detent
            cam.home_since = None  # still powered: it carries on into another turn
        self._rotate(slot, cam, dt / self.turn_time_s, now)

    def _rotate(self, slot: str, cam: _Cam, delta: float, now: float) -> None:
        """Turn the cam by `delta` turns, firing every switch and the drop in order, even when
        one step (a late poll, a tiny turn time) crosses all of them at once."""
        target = cam.angle + delta
        if slot in self.faults.jam:
            target = min(target, JAM_AT)
        stop_at = self.hold.get(slot)
        if stop_at is not None and cam.angle <= stop_at <= target:
            target = stop_at
            self.holding.add(slot)
        marks = (
            (self._leave_frac, self._left_home),
            (DROP_AT, self._drop_point),
            (1.0, self._came_home),
        )
        for mark, action in marks:
            if cam.angle < mark <= target:
                cam.angle = mark
                action(slot, cam, now)
        if target < 1.0:
            cam.angle = target

    def _left_home(self, slot: str, cam: _Cam, now: float) -> None:
        self.turns[slot] += 1
        self._drive_home_now(slot)

    def _came_home(self, slot: str, cam: _Cam, now: float) -> None:
        cam.angle, cam.home_since = 0.0, now
        self._drive_home_now(slot)  # the switch closes at the moment the cam is home
        if self.on_home is not None:
            self.on_home(slot, now)

    def _drop_point(self, slot: str, cam: _Cam, now: float) -> None:
        if self.products.get(slot, 0) <= 0:
            return
        if slot in self.faults.hang:
            self.faults.hang.discard(slot)  # it hangs now and falls next turn
            log.info("sim: product in %s hangs", slot)
            return
        self.products[slot] -= 1
        self.drops.append(slot)
        self._beam_until = now + BEAM_FOR * self.turn_time_s
        self._set_beam(True)
        if self.on_drop is not None:
            self.on_drop(slot)
        if BEAM_FOR * self.turn_time_s < self.poll_s:
            self._set_beam(False)  # faster than our poll: blocked then clear at once

    # --- pins ----------------------------------------------------------------------------------

    def _is_on(self, pin: int) -> bool:
        """A motor line drives its motor only as an output: a line nobody drives (boot, a
        crashed daemon) is held off by the driver board's pull resistor."""
        p = self.factory.pin(pin)
        return p.function == "output" and bool(p.state) == self.config.active_high

    def _energised(self) -> set[str]:
        c = self.config
        if c.wiring == "matrix":
            rows = [r for r, p in c.rows.items() if self._is_on(p)]
            cols = [k for k, p in c.columns.items() if self._is_on(p)]
            return {f"{r}{k}" for r in rows for k in cols}
        return {s for s, p in c.motors.items() if self._is_on(p)}

    def _at_home(self, slot: str) -> bool:
        return self._cams[slot].angle < self._leave_frac

    def _shared_home(self, selected: set[str]) -> bool:
        if selected:
            return all(self._at_home(s) for s in selected)
        return all(self._at_home(s) for s in self.slots)

    def _drive_home_now(self, slot: str) -> None:
        c = self.config
        if slot in c.home_pins:
            _drive(self.factory, c.home_pins[slot], high=not self._at_home(slot))
        elif c.home_pin is not None:
            selected = self._energised()
            _drive(self.factory, c.home_pin, high=not self._shared_home(selected))

    def _drive_inputs(self, selected: set[str], now: float) -> None:
        c = self.config
        for slot, pin in c.home_pins.items():
            _drive(self.factory, pin, high=not self._at_home(slot))
        if c.home_pin is not None:
            _drive(self.factory, c.home_pin, high=not self._shared_home(selected))
        if now >= self._beam_until:
            self._set_beam(False)

    def _set_beam(self, blocked: bool) -> None:
        c = self.config
        if c.drop_sensor_pin is None:
            return
        blocked = blocked or self.faults.drop_sensor_stuck
        _drive(self.factory, c.drop_sensor_pin, high=blocked != c.drop_sensor_active_low)

    # --- helpers for tests and scenarios -------------------------------------------------------

    def set_hold(self, slot: str, at: float | None) -> None:
        """Stop `slot`'s cam at fraction `at` of its turn (None: let it go on)."""
        with self._lock:
            if at is None:
                self.hold.pop(slot, None)
                self.holding.discard(slot)
            else:
                self.hold[slot] = at

    def at_home(self, slot: str) -> bool:
        with self._lock:
            return self._at_home(slot)

    def repair(self, slot: str) -> None:
        """A seamstress frees a jammed spiral and turns it back to its home position."""
        with self._lock:
            self.faults.jam.discard(slot)
            self.faults.stuck_home.discard(slot)
            self.faults.hang.discard(slot)
            self.hold.pop(slot, None)
            self.holding.discard(slot)
            self._cams[slot] = _Cam()
            self._drive_home_now(slot)

    def total_drops(self, slot: str | None = None) -> int:
        with self._lock:
            return len(self.drops) if slot is None else self.drops.count(slot)


def _slots(config: GpioDispenserConfig) -> list[str]:
    if config.wiring == "matrix":
        return [f"{r}{c}" for r in config.rows for c in config.columns]
    return list(config.motors)


def _drive(factory: MockFactory, pin: int, *, high: bool) -> None:
    p = factory.pin(pin)
    if p.function != "input":
        return
    if isinstance(p, HeldPin):
        p.held = high  # a pull resistor switched on later does not move it (held_pin.py)
    if high:
        p.drive_high()
    else:
        p.drive_low()
