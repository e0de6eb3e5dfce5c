"""The simulated cabinet around the real daemon, in one process.

`Simulation` builds the daemon from a config exactly as `vendd run` would (the simulator's own
devices only where it replaces a library: the LCD), then plays the other side of every device:
coins into the acceptor, buttons, what falls out of a spiral. The cabinet's physical side and
its tally are in simulator/hardware.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from simulator.hardware import Cabinet, Tally
from vendd.config import Config
from vendd.daemon.app import Daemon
from vendd.events import ServiceKey, VendOutcome
from vendd.hw.factory import build_devices
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor, VirtualDispenser
from vendd.machine import Mode, State

__all__ = ["Cabinet", "Simulation", "Tally"]

log = logging.getLogger(__name__)


class Simulation(Cabinet):
    """The cabinet with the real daemon inside, built exactly as `vendd run` builds it."""

    def __init__(self, config: Config, tally_path: Path | None = None,
                 on_display: Callable[[list[str]], None] | None = None,
                 turn_time_s: float = 0.3, state_path: Path | None = None) -> None:
        super().__init__(config, tally_path, turn_time_s, state_path=state_path)
        devices = build_devices(self.config, self.pins)
        devices.display = self.simulated_devices().get("display", devices.display)
        self.daemon = Daemon(self.config, devices=devices)
        self._wire(on_display)

    def _wire(self, on_display: Callable[[list[str]], None] | None) -> None:
        devices = self.daemon.devices
        for acceptor in devices.acceptors:
            if isinstance(acceptor, VirtualCoinAcceptor):
                acceptor.on_accept = lambda value: self.tally.record(coin=value)
        if isinstance(devices.dispenser, VirtualDispenser):
            devices.dispenser.outcome_for = self._turn
        if on_display is not None and hasattr(devices.display, "on_show"):
            devices.display.on_show = on_display

    def _turn(self, slot: str) -> VendOutcome:
        fault = self.faults.get(slot)
        if fault is not None:
            return fault
        if self.products.get(slot, 0) <= 0:
            return VendOutcome.NO_DROP
        self.products[slot] -= 1
        self._dropped(slot)
        return VendOutcome.DELIVERED

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.start_physics()
        self.daemon.start()
        self.daemon.wait_ready()

    def stop(self) -> None:
        self.daemon.stop()
        self.tally.record(final_motors_on=self.motors_on())  # the chaos test checks them off
        self.stop_physics()

    @property
    def state(self) -> State:
        assert self.daemon.controller is not None and self.daemon.controller.state is not None
        return self.daemon.controller.state

    # --- the buyer's and the seamstress's hands ------------------------------------------

    def insert_coin(self, value: int) -> bool:
        kept = self.insert_physical(value)
        if kept is not None:
            return kept
        acceptor = self.daemon.devices.acceptors[0]
        assert isinstance(acceptor, VirtualCoinAcceptor)
        return acceptor.insert(value)

    def accepting(self) -> bool:
        """Whether the acceptor takes coins right now (its inhibits are released)."""
        physical = self.accepting_physical()
        if physical is not None:
            return physical
        acceptors = self.daemon.devices.acceptors
        return bool(acceptors and getattr(acceptors[0], "accepting", False))

    def _buttons(self) -> VirtualButtons | None:
        buttons = self.daemon.devices.inputs[0]
        return buttons if isinstance(buttons, VirtualButtons) else None

    def press(self, slot: str) -> None:
        buttons = self._buttons()
        if buttons is not None:
            buttons.press(slot)
        elif self.hands is not None:
            self.hands.press(slot)

    def cancel(self) -> None:
        buttons = self._buttons()
        if buttons is not None:
            buttons.cancel()
        elif self.hands is not None:
            self.hands.cancel()

    def service_key(self, on: bool) -> None:
        buttons = self._buttons()
        if buttons is not None:
            buttons.service_key(on)
        elif self.hands is None or not self.hands.service_key(on):
            # No key switch wired: the menu is reached as the daemon's virtual key.
            controller = self.daemon.controller
            assert controller is not None
            controller.post(ServiceKey(on))

    def display(self) -> list[str]:
        if self.lcd is not None and self.lcd.lcd is not None:
            return self.lcd.lcd.screen()  # what the glass shows
        return list(getattr(self.daemon.devices.display, "lines", []))

    def wait(self, condition: Callable[[State], bool], timeout: float = 60.0) -> State:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state
            if condition(state):
                return state
            time.sleep(0.002)
        raise TimeoutError(f"the machine did not get there in {timeout}s (mode {self.state.mode})")

    def wait_idle(self, timeout: float = 60.0) -> State:
        """Wait until no vend or payout is under way."""
        return self.wait(lambda s: s.vend is None and not s.payout
                         and s.mode is not Mode.STARTING, timeout)
