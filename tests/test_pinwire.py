"""The GPIO link between a cabinet process and a daemon process (simulator/pinwire.py), both
ends in this test: what a driver writes reaches the cabinet's pin, what the cabinet does to an
input reaches the driver as an edge timed when it happened, and a daemon that dies lets go of
its outputs (motors off)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import DigitalOutputDevice, InputDevice
from gpiozero.pins.mock import MockFactory
from support import wait_for

from simulator.pinwire import CabinetPins, RemotePinFactory, WatchedPin

MOTOR, SWITCH, BUTTON = 5, 16, 17


@pytest.fixture
def cabinet(tmp_path: Path) -> Iterator[tuple[MockFactory, CabinetPins]]:
    pins = MockFactory(pin_class=WatchedPin)
    lock = threading.RLock()
    pins.pin(SWITCH).drive_low()  # a home switch, closed
    server = CabinetPins(pins, str(tmp_path / "pins.sock"), lock, refresh=lambda: None,
                         off_level=lambda name: False if name == "GPIO5" else None,
                         driven={"GPIO16"})
    yield pins, server
    server.close()
    pins.close()


def test_outputs_inputs_and_a_daemon_that_dies(cabinet: tuple[MockFactory, CabinetPins],
                                               tmp_path: Path) -> None:
    pins, server = cabinet
    remote = RemotePinFactory(str(tmp_path / "pins.sock"))
    motor = DigitalOutputDevice(MOTOR, pin_factory=remote)
    switch = InputDevice(SWITCH, pull_up=True, pin_factory=remote)
    button = InputDevice(BUTTON, pull_up=True, pin_factory=remote)
    # The switch is driven by the cabinet, so the daemon's pull-up does not lift it.
    assert switch.is_active  # pulled up and low: closed
    assert not button.is_active  # nobody drives it: the pull-up holds it high

    motor.on()
    wait_for(lambda: pins.pin(MOTOR).state, what="the motor line on in the cabinet")

    edges: list[tuple[float, int]] = []

    def changed(ticks: float, state: int) -> None:
        edges.append((ticks, state))

    switch.pin.when_changed = changed  # gpiozero keeps a weak reference: so do we, strongly
    with server.lock:
        pins.pin(SWITCH).drive_high()
        opened_at = pins.pin(SWITCH)._last_change
    wait_for(lambda: edges, what="the edge at the daemon")
    assert edges == [(pytest.approx(opened_at, abs=1e-6), 1)]  # the cabinet's own time

    assert remote.sock is not None
    remote.sock.shutdown(socket.SHUT_RDWR)  # SIGKILL: the kernel closes the link, no goodbye
    wait_for(lambda: not server.daemon_attached(), what="the cabinet to notice")
    assert pins.pin(MOTOR).state is False  # the driver board's pull: motor off
    assert pins.pin(MOTOR).function == "input"
    for device in (motor, switch, button):
        device.close()
    remote.close()
