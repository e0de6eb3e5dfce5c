"""The dispenser's test rig: GpioDispenser on MockFactory pins against the simulated cabinet
(simulator/cabinet.py), and the checks every dispenser test makes of the motor pins' `.states`
history: never two motors (matrix: two rows or two columns) on at the same time, and every motor
pin off at the end."""

from __future__ import annotations

import itertools
import math
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from support import wait_for

from simulator.cabinet import SimCabinet
from vendd.config import GpioDispenserConfig
from vendd.events import (
    Event,
    VendFinished,
)
from vendd.hw.dispenser import GpioDispenser

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
