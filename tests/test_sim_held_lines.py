"""The simulator's physical inputs hold their lines as real ones do (simulator/held_pin.py): a
closed switch or contact keeps its level when the daemon switches its pull resistor on, with no
edge at all; a line nothing holds goes to the pull."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from gpiozero import Button, InputDevice
from gpiozero.pins.mock import MockFactory

from simulator.hands import Hands
from simulator.held_pin import HeldPin
from simulator.pinwire import WatchedPin
from vendd.config import ButtonsConfig

KEY, CANCEL, SELECT = 18, 4, 17


@pytest.fixture(params=[HeldPin, WatchedPin], ids=["held", "watched"])
def pins(request: pytest.FixtureRequest) -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=request.param)
    yield factory
    factory.reset()
    factory.close()


def test_a_held_line_keeps_its_level_and_makes_no_edge_when_pulled(pins: MockFactory) -> None:
    line = pins.pin(SELECT)
    assert isinstance(line, HeldPin)
    line.held = False
    line.drive_low()
    line.clear_states()
    device = InputDevice(SELECT, pull_up=True, pin_factory=pins)
    assert device.is_active  # low under a pull-up: the switch is closed
    assert [s.state for s in line.states] == [False]
    device.close()


def test_a_free_line_goes_to_the_pull(pins: MockFactory) -> None:
    up = InputDevice(SELECT, pull_up=True, pin_factory=pins)
    down = InputDevice(CANCEL, pull_up=False, pin_factory=pins)
    assert pins.pin(SELECT).state and not pins.pin(CANCEL).state
    up.close()
    down.close()


def test_a_service_key_turned_before_the_daemon_looks_reads_on(pins: MockFactory) -> None:
    config = ButtonsConfig(kind="gpio", selection={"A1": SELECT}, cancel_pin=CANCEL,
                           service_key_pin=KEY)
    hands = Hands(config, pins, threading.RLock())
    hands.idle()
    hands.service_key(True)  # the seamstress turns the key while the daemon is starting
    key = Button(KEY, pull_up=True, pin_factory=pins)
    cancel = Button(CANCEL, pull_up=True, pin_factory=pins)
    assert key.is_pressed
    assert not cancel.is_pressed  # an open contact: the pull-up holds it high
    hands.service_key(False)
    assert not key.is_pressed
    key.close()
    cancel.close()
