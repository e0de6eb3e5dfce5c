"""A mock input pin that something physical can hold at a level.

On a real line a closed home switch or a beam sensor's output holds the level by itself: the
pull resistor the daemon switches on cannot move it, not even for a moment. gpiozero's MockPin
moves the level to the pull, so a simulated cabinet that drives its inputs from a polling
thread would leave them at the pull until it looked again, and a busy machine could read "not
at home". `SimCabinet` holds every input it drives on pins of this class (a factory made with
`pin_class=HeldPin`, or with `WatchedPin`, which is one)."""

from __future__ import annotations

from gpiozero.exc import PinFixedPull, PinInvalidPull
from gpiozero.pins.mock import MockPin


class HeldPin(MockPin):
    held: bool | None = None  # the level something physical holds; None: the pull decides

    def _set_pull(self, value: str) -> None:
        if self.held is None:
            super()._set_pull(value)  # a free line goes to its pull
            return
        # gpiozero's checks, then the pull is recorded without the line moving: no edge at all,
        # so no callback sees a switch open and close again.
        if self.function != "input":
            raise PinFixedPull(f"cannot set pull on non-input pin {self!r}")
        if self.info.pull and value != self.info.pull:
            raise PinFixedPull(f"{self!r} has a fixed pull resistor")
        if value not in ("floating", "up", "down"):
            raise PinInvalidPull("pull must be floating, up, or down")
        self._pull = value
        self._change_state(self.held)
