"""Pulse coin acceptor: the pure decoder on explicit timestamps, then the driver on MockFactory
pins with real-time pulse trains from simulator/pulse_peer.py."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from simulator.pulse_peer import PulsePeer, PulseShape, coins, end_of, glitch, merge, train
from simulator.stepped_clock import SteppedMockFactory
from vendd.config import PulseConfig
from vendd.events import CreditInserted, DeviceFault, Event
from vendd.hw.pulse import PulseCoinAcceptor, PulseDecoder, PulseTrain

TABLE = [
    {"value": 5, "label": "5c", "pulses": 1},
    {"value": 10, "label": "10c", "pulses": 2},
    {"value": 25, "label": "25c", "pulses": 5},
    {"value": 50, "label": "50c", "pulses": 10},
    {"value": 100, "label": "$1", "pulses": 20},
]
# Over real time the margins are wide (a busy test machine can stall a thread for a few ms):
# 50 ms pulses in a 25..75 ms window, 50 ms pauses against a 250 ms idle gap.
LIVE = PulseShape(pulse_s=0.050, pause_s=0.050, coin_gap_s=0.350)


def decode(edges: list[tuple[float, bool]], pulse_ms: int = 50, gap_ms: int = 200) -> list[Any]:
    decoder = PulseDecoder(pulse_ms, gap_ms)
    out: list[PulseTrain] = []
    for t, active in edges:
        out += decoder.edge(t, active)
    out += decoder.poll(end_of(edges) + 10)
    return out


# --- the pure decoder ----------------------------------------------------------------------------


@pytest.mark.parametrize("coin", TABLE, ids=[c["label"] for c in TABLE])
def test_each_coin_of_the_table_is_counted(coin: dict[str, Any]) -> None:
    (got,) = decode(train(coin["pulses"]))
    assert (got.pulses, got.problem) == (coin["pulses"], "")


@pytest.mark.parametrize("width_ms", [20, 50, 100])
def test_each_pulse_width_setting(width_ms: int) -> None:
    w = width_ms / 1000
    shape = PulseShape(pulse_s=w, pause_s=w, coin_gap_s=4 * w + 0.1)
    got = decode(coins([3, 1], shape), pulse_ms=width_ms, gap_ms=int(2 * width_ms + 50))
    assert [g.pulses for g in got] == [3, 1]


def test_glitches_are_ignored() -> None:
    edges = merge(
        train(5),
        glitch(0.06, 0.004),  # inside a pause
        glitch(0.65, 0.010),  # in the idle gap after the coin
        glitch(2.0, 0.015),  # alone on an idle line
    )
    got = decode(edges)
    assert [(g.pulses, g.problem) for g in got] == [(5, "")]


def test_a_glitch_does_not_keep_a_coin_open() -> None:
    decoder = PulseDecoder(50, 200)
    for t, a in train(2):
        decoder.edge(t, a)
    decoder.edge(0.30, True)
    decoder.edge(0.305, False)  # noise after the coin
    assert decoder.poll(0.15 + 0.201) == [PulseTrain(2, pytest.approx(0.15))]


def test_two_coins_close_together_are_two_coins() -> None:
    # Just over the idle gap apart: the shortest separation a real acceptor can make.
    shape = PulseShape(pulse_s=0.050, pause_s=0.050, coin_gap_s=0.210)
    got = decode(coins([2, 5], shape))
    assert [g.pulses for g in got] == [2, 5]


def test_pulses_closer_than_the_gap_are_one_coin() -> None:
    shape = PulseShape(pulse_s=0.050, pause_s=0.050, coin_gap_s=0.150)
    assert [g.pulses for g in decode(coins([2, 5], shape))] == [7]


def test_out_of_spec_width_spoils_the_coin() -> None:
    slow = PulseShape(pulse_s=0.150, pause_s=0.050)  # 150 ms pulses on a 50 ms acceptor
    (got,) = decode(train(2, 0.0, slow))
    assert got.problem.startswith("pulse of 150 ms")


def test_coin_stays_open_until_the_gap_has_passed() -> None:
    decoder = PulseDecoder(50, 200)
    for t, a in train(2):
        assert decoder.edge(t, a) == []
    assert decoder.poll(0.15 + 0.199) == []
    assert decoder.deadline() == pytest.approx(0.35)
    assert decoder.poll(0.15 + 0.2001) == [PulseTrain(2, pytest.approx(0.15))]
    assert decoder.deadline() is None


# --- the driver with trains on stepped time --------------------------------------------------


class Rig:
    def __init__(self, factory: MockFactory) -> None:
        self.cfg = PulseConfig(
            kind="pulse", pin=21, inhibit_pin=12, pulse_ms=50, idle_gap_ms=250, coins=TABLE
        )
        self.factory = factory
        self.events: queue.Queue[Event] = queue.Queue()
        # The acceptor and its wiring (the inhibit line's resistor) are there before the daemon.
        self.peer = PulsePeer(factory, 21, inhibit_pin=12, shape=LIVE)
        self.peer.start()
        self.acceptor = PulseCoinAcceptor("coins", self.cfg, factory)
        self.acceptor.start(self.events.put)

    def take(self, n: int, timeout: float = 5.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        return [self.events.get(timeout=max(0.0, deadline - time.monotonic())) for _ in range(n)]

    def quiet(self) -> bool:
        """Nothing more after the peer is done and one idle gap has passed."""
        assert self.peer.wait_idle(10)
        try:
            extra = self.events.get(timeout=self.cfg.idle_gap_ms / 1000 * 2)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected {extra}")

    def close(self) -> None:
        self.peer.stop()
        self.acceptor.stop()


@pytest.fixture
def rig() -> Iterator[Rig]:
    # Pins timed by a clock the peer holds while it plays: each pulse is as wide as meant
    # however busy the machine is (simulator/stepped_clock.py).
    factory = SteppedMockFactory()
    r = Rig(factory)
    yield r
    r.close()
    factory.reset()
    factory.close()


def test_inhibited_until_accepting_and_after_stop(rig: Rig) -> None:
    inhibit = rig.factory.pin(12)
    assert inhibit.state is True  # active high: inhibiting from start
    rig.acceptor.set_accepting(True)
    assert inhibit.state is False
    assert rig.peer.insert(1) is True
    rig.acceptor.set_accepting(False)
    assert inhibit.state is True
    assert rig.take(1) == [CreditInserted("coins", 5, "5c")]
    assert rig.peer.insert(1) is False  # the acceptor returns the coin
    rig.acceptor.stop()
    assert inhibit.states[-1].state is True
    # Let go (as when the daemon is killed): the resistor keeps the line inhibiting.
    assert inhibit.function == "input" and inhibit.state is True
    assert rig.peer.insert(1) is False


@pytest.mark.parametrize("active_high", [True, False])
def test_inhibit_line_without_its_resistor_is_reported(factory: MockFactory,
                                                       active_high: bool) -> None:
    """Undriven, the inhibit line floats to "accept": coins would be taken while the daemon is
    down. The driver reads it before driving it and says so."""
    cfg = PulseConfig(kind="pulse", pin=21, inhibit_pin=12, inhibit_active_high=active_high,
                      coins=TABLE)
    if not active_high:
        factory.pin(12).drive_high()  # a pull-up where a pull-down belongs
    events: queue.Queue[Event] = queue.Queue()
    acceptor = PulseCoinAcceptor("coins", cfg, factory)
    acceptor.start(events.put)
    try:
        fault = events.get(timeout=5)
        assert isinstance(fault, DeviceFault) and fault.code == "inhibit_not_pulled"
        assert not fault.blocking and "GPIO12" in fault.detail
        want = "high" if active_high else "low"
        assert f"held {want}" in fault.detail
    finally:
        acceptor.stop()


def test_inhibit_line_with_its_resistor_starts_quietly(factory: MockFactory) -> None:
    PulsePeer(factory, 21, inhibit_pin=12, inhibit_active_high=False)  # its pull-down
    cfg = PulseConfig(kind="pulse", pin=21, inhibit_pin=12, inhibit_active_high=False,
                      coins=TABLE)
    events: queue.Queue[Event] = queue.Queue()
    acceptor = PulseCoinAcceptor("coins", cfg, factory)
    acceptor.start(events.put)
    try:
        assert factory.pin(12).state is False  # active low: inhibiting
        assert events.empty()
    finally:
        acceptor.stop()


def test_every_coin_of_the_table_over_the_pin(rig: Rig) -> None:
    rig.acceptor.set_accepting(True)
    rig.peer.play(coins([c["pulses"] for c in TABLE], LIVE))
    got = rig.take(len(TABLE), timeout=15)
    assert got == [CreditInserted("coins", c["value"], c["label"]) for c in TABLE]
    assert rig.quiet()


def test_glitches_and_close_coins_over_the_pin(rig: Rig) -> None:
    rig.acceptor.set_accepting(True)
    close = PulseShape(pulse_s=0.050, pause_s=0.050, coin_gap_s=0.270)  # gap just over 250 ms
    edges = coins([2, 1, 5], close)
    edges = merge(edges, glitch(0.07, 0.002), glitch(end_of(edges) + 0.1, 0.003))
    rig.peer.play(edges)
    got = rig.take(3)
    assert [e.amount for e in got if isinstance(e, CreditInserted)] == [10, 5, 25]
    assert rig.quiet()


def test_unknown_count_is_a_fault_and_no_credit(rig: Rig) -> None:
    rig.acceptor.set_accepting(True)
    rig.peer.play(coins([3, 2], LIVE))
    fault, credit = rig.take(2)
    assert fault == DeviceFault("coins", "unknown_pulse_count", "3 pulses", blocking=False)
    assert credit == CreditInserted("coins", 10, "10c")
    assert rig.quiet()


def test_line_held_active_is_reported_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vendd.hw.pulse.STUCK_S", 0.2)
    rig.factory.pin(21).drive_low()
    fault = rig.take(1)[0]
    assert isinstance(fault, DeviceFault)
    assert (fault.code, fault.blocking) == ("line_stuck", False)
    rig.factory.pin(21).drive_high()  # released: a 200+ ms "pulse" is no coin either
    spoiled = rig.take(1)[0]
    assert isinstance(spoiled, DeviceFault)
    assert (spoiled.code, spoiled.blocking) == ("bad_pulse", False)
    assert rig.quiet()
