"""Buttons: the pure debounce / long-press tracker, then GpioButtons on MockFactory pins (direct
buttons, cancel, service key, and a row x column keypad scanned through MockConnectedPin rows)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory, MockPin
from support import wait_for

from vendd.config import ButtonsConfig
from vendd.events import CancelPressed, Event, SelectionPressed, ServiceKey
from vendd.hw.keypad import GpioButtons, KeyLongPressed, KeyTracker

# --- the pure tracker ----------------------------------------------------------------------------


def run(tracker: KeyTracker, steps: list[tuple[float, bool | None]]) -> list[tuple[float, str]]:
    """Feed levels (None = only poll) and poll after each step."""
    out = []
    for t, level in steps:
        if level is not None:
            tracker.feed(t, level)
        out += [(t, e) for e in tracker.poll(t)]
    return out


def test_bounces_make_one_press_and_one_release() -> None:
    tracker = KeyTracker(debounce_s=0.03, long_press_s=1.5)
    steps: list[tuple[float, bool | None]] = [
        (0.000, True),
        (0.002, False),
        (0.004, True),
        (0.006, False),
        (0.008, True),
        (0.020, None),
        (0.037, None),
        (0.038, None),
        (0.300, False),
        (0.301, True),
        (0.303, False),
        (0.320, None),
        (0.334, None),
    ]
    assert run(tracker, steps) == [(0.038, "press"), (0.334, "release")]


def test_a_spike_shorter_than_the_debounce_is_ignored() -> None:
    tracker = KeyTracker(debounce_s=0.03, long_press_s=1.5)
    assert run(tracker, [(0.0, True), (0.01, False), (0.05, None), (1.0, None)]) == []


def test_long_press_once_then_release() -> None:
    tracker = KeyTracker(debounce_s=0.03, long_press_s=1.5)
    steps: list[tuple[float, bool | None]] = [
        (0.0, True),
        (0.03, None),
        (1.49, None),
        (1.5, None),
        (3.0, None),
        (3.1, False),
        (3.2, None),
    ]
    assert run(tracker, steps) == [(0.03, "press"), (1.5, "long"), (3.2, "release")]


def test_deadline_says_when_to_poll() -> None:
    tracker = KeyTracker(debounce_s=0.03, long_press_s=1.5)
    assert tracker.deadline() is None
    tracker.feed(1.0, True)
    assert tracker.deadline() == pytest.approx(1.03)
    tracker.poll(1.03)
    assert tracker.deadline() == pytest.approx(2.5)
    tracker.poll(2.5)
    assert tracker.deadline() is None


# --- the driver on pins --------------------------------------------------------------------------


class Rig:
    def __init__(self, factory: MockFactory, **cfg: Any) -> None:
        self.factory = factory
        base = {"kind": "gpio", "debounce_ms": 10, "long_press_ms": 200, "scan_ms": 2}
        self.cfg = ButtonsConfig(**{**base, **cfg})
        for pin in self.cfg.rows.values():
            factory.pin(pin, pin_class=MockConnectedPin)
        self.events: queue.Queue[Event] = queue.Queue()
        self.buttons = GpioButtons("buttons", self.cfg, factory)
        self.buttons.start(self.events.put)

    def next(self, timeout: float = 3.0) -> Event:
        return self.events.get(timeout=timeout)

    def bounce(self, pin: int, final_low: bool) -> None:
        p = self.factory.pin(pin)
        for _ in range(3):
            p.drive_low()
            p.drive_high()
        if final_low:
            p.drive_low()

    # keypad: a pressed key connects its row to its column
    def key(self, row: int, col: int, down: bool) -> None:
        r = self.factory.pin(row)
        if down:
            r.input_pin = self.factory.pin(col)
        else:
            r.input_pin = None
            self.factory.pin(col).drive_high()


DIRECT = {"selection": {"A1": 22, "A2": 23}, "cancel_pin": 4, "service_key_pin": 18}
KEYPAD = {"rows": {"A": 17, "B": 27}, "columns": {"1": 22, "2": 23}, "cancel_pin": 4}


@pytest.fixture
def direct(factory: MockFactory) -> Iterator[Rig]:
    rig = Rig(factory, **DIRECT)
    yield rig
    rig.buttons.stop()


def test_bouncy_press_is_one_selection(direct: Rig) -> None:
    direct.bounce(22, final_low=True)
    assert direct.next() == SelectionPressed("A1")
    direct.bounce(22, final_low=False)  # release: no event for a release
    direct.factory.pin(23).drive_low()
    assert direct.next() == SelectionPressed("A2")


def test_a_spike_is_not_a_press(direct: Rig) -> None:
    direct.factory.pin(22).drive_low()
    direct.factory.pin(22).drive_high()
    direct.factory.pin(4).drive_low()  # the next thing seen is the cancel press
    assert direct.next() == CancelPressed()


def test_long_press(direct: Rig) -> None:
    direct.factory.pin(23).drive_low()
    assert direct.next() == SelectionPressed("A2")
    assert direct.next() == KeyLongPressed("A2")
    direct.factory.pin(23).drive_high()
    direct.factory.pin(4).drive_low()
    assert direct.next() == CancelPressed()


def test_service_key_switch(direct: Rig) -> None:
    direct.bounce(18, final_low=True)
    assert direct.next() == ServiceKey(on=True)
    direct.bounce(18, final_low=False)
    assert direct.next() == ServiceKey(on=False)


class HeldLowPin(MockPin):
    """A line held low by a closed switch: the pull-up cannot raise it."""

    def drive_high(self) -> None:
        pass


def test_service_key_already_on_at_start(factory: MockFactory) -> None:
    factory.pin(18, pin_class=HeldLowPin).drive_low()
    rig = Rig(factory, **DIRECT)
    try:
        assert factory.pin(18).state is False
        assert rig.next() == ServiceKey(on=True)
    finally:
        rig.buttons.stop()


def test_keypad_matrix(factory: MockFactory) -> None:
    rig = Rig(factory, **KEYPAD)
    try:
        assert factory.pin(17).state is True  # rows idle high
        rig.key(27, 23, down=True)
        assert rig.next() == SelectionPressed("B2")
        rig.key(27, 23, down=False)
        rig.key(17, 22, down=True)
        assert rig.next() == SelectionPressed("A1")
        assert rig.next() == KeyLongPressed("A1")
        rig.key(17, 22, down=False)
        factory.pin(4).drive_low()
        assert rig.next() == CancelPressed()
    finally:
        rig.buttons.stop()
    wait_for(lambda: factory.pin(17).states[-1].state is True)
    assert factory.pin(27).states[-1].state is True  # rows left idle
