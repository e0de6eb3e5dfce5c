"""A mock input pin that something physical can hold at a level.

On a real line a closed home switch or a beam sensor's output holds the level by itself: the
pull resistor the daemon switches on cannot move it. gpiozero's MockPin moves the level to the
pull, so a simulated cabinet that drives its inputs from a polling thread would leave them at
the pull until it looked again, and a busy machine could read "not at home". `SimCabinet`
holds every input it drives on pins of this class (a factory made with `pin_class=HeldPin`)."""

from __future__ import annotations

from gpiozero.pins.mock import MockPin


class HeldPin(MockPin):
    held: bool | None = None  # the level something physical holds; None: the pull decides

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)  # gpiozero's checks, and the pull's level on a free line
        if self.held is not None:
            self._change_state(self.held)  # quietly: the real line never moved
