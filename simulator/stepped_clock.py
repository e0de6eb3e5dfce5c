"""gpiozero mock pins on a clock the simulator can hold still.

A real pulse acceptor's edges are timed by the kernel, however late our thread runs. On a busy
test machine a peer thread that sleeps to make a 50 ms pulse may wake 40 ms late, and the
pulse it makes is then really 90 ms long. `SteppedClock` flows with real time, except while a
peer plays a sequence: then the peer sets each edge's time exactly (`freeze`, `set`, `release`).
`SteppedMockFactory` times its pins' edges and its `ticks()` by that clock, so a driver that
takes its clock from the pin factory sees the signal as it was meant, at any load."""

from __future__ import annotations

import threading
import time
from typing import Any

from gpiozero.pins.mock import MockFactory, PinState

from simulator.held_pin import HeldPin


class SteppedClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base = 0.0
        self._anchor = time.monotonic()
        self._frozen = False

    def now(self) -> float:
        with self._lock:
            if self._frozen:
                return self._base
            return self._base + time.monotonic() - self._anchor

    def freeze(self) -> None:
        with self._lock:
            if not self._frozen:
                self._base += time.monotonic() - self._anchor
                self._frozen = True

    def set(self, seconds: float) -> None:
        """Move the held clock to `seconds` (never backwards)."""
        with self._lock:
            assert self._frozen, "set() needs freeze() first"
            self._base = max(self._base, seconds)

    def release(self) -> None:
        with self._lock:
            if self._frozen:
                self._anchor = time.monotonic()
                self._frozen = False


class SteppedMockPin(HeldPin):
    """A MockPin whose edges carry the factory's stepped time instead of `time.monotonic()`."""

    def _now(self) -> float:
        return float(self._factory.clock.now())

    def clear_states(self) -> None:
        self._last_change = self._now()
        self.states = [PinState(0.0, self._state)]  # type: ignore[has-type]

    def _change_state(self, value: Any) -> bool:
        if self._state != value:  # type: ignore[has-type]
            t = self._now()
            self._state = value
            self.states.append(PinState(t - self._last_change, value))
            self._last_change = t
            return True
        return False


class SteppedMockFactory(MockFactory):
    def __init__(self, revision: str | None = None) -> None:
        self.clock = SteppedClock()
        super().__init__(revision=revision, pin_class=SteppedMockPin)

    def ticks(self) -> float:  # gpiozero declares it static; ours reads the instance's clock
        return self.clock.now()

    @staticmethod
    def ticks_diff(later: float, earlier: float) -> float:
        return later - earlier
