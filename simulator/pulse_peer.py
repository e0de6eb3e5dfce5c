"""A CH-926-style pulse coin acceptor peer: real pulse trains on a MockFactory pin.

The output is open collector, pulled up by the daemon's input: a pulse drives the line low.
Two ways to use it:
- `train(...)` / `coins(...)` build the timestamped edges `(seconds, active)` of a sequence of
  coins (with glitches and short gaps), for feeding a `PulseDecoder` directly;
- `PulsePeer.play(edges)` plays such a list on the pin in real time on its own thread (sleeping
  to each edge's time), so the whole driver, threads and callbacks included, is exercised.
  `insert(pulses)` queues one coin.
The peer also honours the acceptor's inhibit input: while the daemon holds it inhibiting, an
inserted coin is returned (no pulses), as a real acceptor does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from gpiozero.pins.mock import MockFactory

from simulator.stepped_clock import SteppedClock

log = logging.getLogger(__name__)

Edge = tuple[float, bool]  # (seconds from the start of the sequence, line active)


@dataclass(frozen=True)
class PulseShape:
    pulse_s: float = 0.050  # width of one pulse
    pause_s: float = 0.050  # line idle between two pulses of one coin
    coin_gap_s: float = 0.400  # line idle between two coins


def train(pulses: int, start: float = 0.0, shape: PulseShape = PulseShape()) -> list[Edge]:
    """The edges of one coin of `pulses` pulses starting at `start`."""
    edges: list[Edge] = []
    t = start
    for _ in range(pulses):
        edges += [(t, True), (t + shape.pulse_s, False)]
        t += shape.pulse_s + shape.pause_s
    return edges


def coins(counts: list[int], shape: PulseShape = PulseShape(), start: float = 0.0) -> list[Edge]:
    """Several coins one after another, `shape.coin_gap_s` of idle line between them."""
    edges: list[Edge] = []
    t = start
    for n in counts:
        edges += train(n, t, shape)
        t = edges[-1][0] + shape.coin_gap_s
    return edges


def glitch(at: float, width_s: float = 0.005) -> list[Edge]:
    """A spike of noise on the line."""
    return [(at, True), (at + width_s, False)]


def merge(*sequences: list[Edge]) -> list[Edge]:
    return sorted((e for seq in sequences for e in seq), key=lambda e: e[0])


def end_of(edges: list[Edge]) -> float:
    return edges[-1][0] if edges else 0.0


class PulsePeer:
    """Plays edge sequences on `pin` (the acceptor's output) of a MockFactory."""

    def __init__(
        self,
        factory: MockFactory,
        pin: int,
        *,
        inhibit_pin: int | None = None,
        inhibit_active_high: bool = True,
        shape: PulseShape = PulseShape(),
    ) -> None:
        self.factory = factory
        self.pin = pin
        self.inhibit_pin = inhibit_pin
        self.inhibit_active_high = inhibit_active_high
        self.shape = shape
        self.returned = 0  # coins refused because the line was inhibiting
        self._jobs: queue.Queue[list[Edge] | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        if inhibit_pin is not None:  # the resistor that holds the undriven line inhibiting
            line = factory.pin(inhibit_pin)
            if line.function == "input" and inhibit_active_high:
                line.drive_high()
            elif line.function == "input":
                line.drive_low()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-pulse", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def inhibited(self) -> bool:
        if self.inhibit_pin is None:
            return False
        return bool(self.factory.pin(self.inhibit_pin).state) == self.inhibit_active_high

    def insert(self, pulses: int) -> bool:
        """A coin goes in; False when the acceptor is inhibited and returns it."""
        if self.inhibited():
            self.returned += 1
            return False
        edges = train(pulses, 0.0, self.shape)
        edges.append((end_of(edges) + self.shape.coin_gap_s, False))  # idle before the next
        self.play(edges)
        return True

    def play(self, edges: list[Edge]) -> None:
        """Queue a sequence; it starts when the previous one has finished."""
        self._idle.clear()
        self._jobs.put(edges)

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._play_now(job)
            if self._jobs.empty():
                self._idle.set()

    def _play_now(self, edges: list[Edge]) -> None:
        pin = self.factory.pin(self.pin)
        clock = getattr(self.factory, "clock", None)
        if isinstance(clock, SteppedClock):
            # Each edge at its exact time, however late this thread runs (stepped_clock.py).
            clock.freeze()
            t0 = clock.now()
            try:
                for at, active in edges:
                    clock.set(t0 + at)
                    self._drive(pin, active)
            finally:
                clock.release()
            return
        t0 = time.monotonic()
        for at, active in edges:
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # a real-time signal generator: the timing is the point
            self._drive(pin, active)

    @staticmethod
    def _drive(pin: Any, active: bool) -> None:
        if active:
            pin.drive_low()
        else:
            pin.drive_high()
