"""Fingers on GPIO buttons: selection buttons, a keypad matrix, coin return and the service key.

Every contact closes to ground: an idle line reads high (the pull-up), a pressed one low. In a
keypad matrix a pressed key joins its row to its column, so a column reads low exactly while
the daemon drives (scans) the row of a pressed key low; `refresh()` recomputes the columns
whenever an output pin changes (the factory's `on_output`), so a scan reads them at once.
A press is held for twice the debounce time plus a margin, as a finger is."""

from __future__ import annotations

import threading
import time
from typing import Any

from gpiozero.pins.mock import MockFactory

from simulator.held_pin import HeldPin
from vendd.config import ButtonsConfig


class Hands:
    def __init__(self, config: ButtonsConfig, factory: MockFactory, lock: Any) -> None:
        self.config = config
        self.factory = factory
        self.lock = lock
        self.hold_s = 2 * config.debounce_ms / 1000 + 0.04
        self._pressed: set[tuple[str, str]] = set()  # keypad keys held: (row, column)
        self._key_on = False
        self._busy = threading.Lock()  # one finger: presses do not overlap

    def driven(self) -> set[str]:
        """Names of the input pins a hand (not a pull resistor) decides."""
        c = self.config
        pins = [*c.selection.values(), *c.columns.values(), c.cancel_pin, c.service_key_pin]
        return {self.factory.pin(p).info.name for p in pins if p is not None}

    def idle(self) -> None:
        """Every contact open, before the daemon looks."""
        with self.lock:
            c = self.config
            for pin in [*c.selection.values(), c.cancel_pin, c.service_key_pin]:
                if pin is not None:
                    self._level(pin, True)
            self.refresh()

    # --- what a person does ------------------------------------------------------------------

    def press(self, slot: str) -> bool:
        """Press the selection of `slot`; False when the config has no button for it."""
        c = self.config
        if slot in c.selection:
            return self._tap_pin(c.selection[slot])
        row, column = slot[:1], slot[1:]
        if row in c.rows and column in c.columns:
            with self._busy:
                with self.lock:
                    self._pressed.add((row, column))
                    self.refresh()
                time.sleep(self.hold_s)
                with self.lock:
                    self._pressed.discard((row, column))
                    self.refresh()
            return True
        return False

    def cancel(self) -> bool:
        pin = self.config.cancel_pin
        return pin is not None and self._tap_pin(pin)

    def service_key(self, on: bool) -> bool:
        pin = self.config.service_key_pin
        if pin is None:
            return False
        with self.lock:
            self._key_on = on
            self._level(pin, not on)
        return True

    # --- the wires ---------------------------------------------------------------------------

    def refresh(self) -> None:
        c = self.config
        for column, pin in c.columns.items():
            closed = any(
                col == column and not self.factory.pin(c.rows[row]).state
                for row, col in self._pressed if row in c.rows
            )
            self._level(pin, not closed)

    def _tap_pin(self, pin: int) -> bool:
        with self._busy:
            with self.lock:
                self._level(pin, False)
            time.sleep(self.hold_s)
            with self.lock:
                self._level(pin, True)
        return True

    def _level(self, pin: int, high: bool) -> None:
        p = self.factory.pin(pin)
        if isinstance(p, HeldPin):
            # A closed contact holds its line at ground whatever pull the daemon switches on
            # later; an open one is left to the pull.
            p.held = None if high else False
        if p.function == "input":  # a contact, whatever pull the daemon set
            p.drive_high() if high else p.drive_low()
