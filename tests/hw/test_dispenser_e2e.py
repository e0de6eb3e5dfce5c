"""End to end: the real daemon with the GPIO dispenser on MockFactory pins, in the simulated
cabinet (simulator/cabinet.py), paid with the virtual coin acceptor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import SIM_CONFIG, pay, press, restock_all, sim_config, wait_for

from simulator.cabinet import SimCabinet
from simulator.pulse_peer import PulsePeer
from simulator.stepped_clock import SteppedMockFactory
from vendd.config import load_config
from vendd.daemon.app import Daemon
from vendd.hw.dispenser import GpioDispenser
from vendd.hw.pulse import PulseCoinAcceptor
from vendd.ledger.ledger import iter_rows, open_readonly

# config/sim.toml's motor matrix, with timeouts far above the simulated cam's 0.05 s turn (a busy
# machine runs the cabinet's thread late) and a short wait for a product that will not fall.
DISPENSER = load_config(SIM_CONFIG).dispenser.model_dump() | {
    "leave_home_timeout_s": 1.0, "home_timeout_s": 2.0, "drop_wait_s": 0.2}


PULSE = {
    "kind": "pulse",
    "pin": 21,
    "inhibit_pin": 7,
    "pulse_ms": 50,
    "idle_gap_ms": 250,
    "coins": [
        {"value": 25, "label": "25c", "pulses": 1},
        {"value": 50, "label": "50c", "pulses": 2},
        {"value": 100, "label": "$1", "pulses": 4},
    ],
}


class Cabinet:
    def __init__(self, tmp_path: Path, **sections: Any) -> None:
        # Pins on a clock the pulse peer holds while it plays (simulator/stepped_clock.py).
        self.factory = SteppedMockFactory()
        config = sim_config(tmp_path, dispenser=DISPENSER, **sections)
        self.daemon = Daemon(config, pin_factory=self.factory)
        self.sim = SimCabinet(config.dispenser, self.factory, turn_time_s=0.05)
        self.daemon.start()
        self.sim.start()
        self.daemon.wait_ready()
        assert isinstance(self.daemon.devices.dispenser, GpioDispenser)
        restock_all(self.daemon)
        self.sim.products.update({s.id: s.capacity for s in config.slots})

    @property
    def state(self) -> Any:
        assert self.daemon.controller is not None
        return self.daemon.controller.state

    def pay(self, *coins: int) -> None:
        pay(self.daemon, *coins)

    def press(self, slot: str) -> None:
        press(self.daemon, slot)

    def rows(self, kind: str) -> list[dict[str, Any]]:
        db = open_readonly(self.daemon.ledger_path)
        try:
            return [r.fields for r in iter_rows(db) if r.kind == kind]
        finally:
            db.conn.close()

    def close(self) -> None:
        self.daemon.stop()
        self.sim.stop()
        self.factory.reset()
        self.factory.close()


@pytest.fixture
def cabinet(tmp_path: Path) -> Iterator[Cabinet]:
    c = Cabinet(tmp_path)
    yield c
    c.close()


def test_hung_product_on_the_second_turn_is_one_sale(cabinet: Cabinet) -> None:
    cabinet.sim.faults.hang.add("A3")
    cabinet.pay(100, 50)  # A3 costs 1.50
    cabinet.press("A3")
    wait_for(lambda: cabinet.state.slots["A3"].stock == 9, what="the sale")
    wait_for(lambda: cabinet.state.vend is None, what="the vend to end")
    sales = cabinet.rows("sale")
    assert [(s["slot"], s["turns"]) for s in sales] == [("A3", 2)]
    assert cabinet.sim.drops == ["A3"]
    assert cabinet.state.credit == 0
    assert cabinet.rows("vend_failed") == []


def test_empty_spiral_is_a_refund_and_a_faulted_slot(cabinet: Cabinet) -> None:
    cabinet.sim.products["A1"] = 0  # the ledger still says 8
    cabinet.pay(100, 100, 100, 50)  # A1 costs 3.50
    cabinet.press("A1")
    wait_for(lambda: cabinet.state.slots["A1"].fault is not None, what="the slot fault")
    wait_for(lambda: cabinet.state.vend is None, what="the vend to end")
    assert cabinet.state.slots["A1"].fault == "no_drop"
    assert cabinet.state.credit == 350  # restored (no changer: kept for the next purchase)
    assert cabinet.rows("sale") == []
    (failed,) = cabinet.rows("vend_failed")
    assert (failed["slot"], failed["outcome"]) == ("A1", "no_drop")
    assert cabinet.sim.turns["A1"] == 2
    # The next buyer cannot select it: no new vend, the motor does not move.
    intents = len(cabinet.rows("vend_intent"))
    cabinet.press("A1")
    cabinet.press("B3")  # B3 costs 1.00: proves the press above was handled first
    wait_for(lambda: cabinet.state.slots["B3"].stock == 11, what="the B3 sale")
    wait_for(lambda: cabinet.state.vend is None, what="the vend to end")
    assert [r["slot"] for r in cabinet.rows("vend_intent")[intents:]] == ["B3"]
    assert cabinet.sim.turns["A1"] == 2
    assert cabinet.state.slots["A1"].stock == 8
    assert cabinet.sim.drops == ["B3"]


def test_every_sale_has_a_drop(cabinet: Cabinet) -> None:
    for slot, price in (("A3", 150), ("B3", 100), ("A3", 150)):
        cabinet.pay(*([50] * (price // 50)))
        cabinet.press(slot)
        wait_for(lambda: cabinet.state.vend is None and cabinet.state.credit == 0, what="sale")
    assert sorted(s["slot"] for s in cabinet.rows("sale")) == sorted(cabinet.sim.drops)
    assert len(cabinet.sim.drops) == 3


def test_pulse_coins_buy_a_product(tmp_path: Path) -> None:
    cabinet = Cabinet(tmp_path, coin_acceptor=PULSE)
    peer = PulsePeer(cabinet.factory, 21, inhibit_pin=7)
    peer.start()
    try:
        assert isinstance(cabinet.daemon.devices.acceptors[0], PulseCoinAcceptor)
        wait_for(lambda: not peer.inhibited(), what="the acceptor to open")
        assert peer.insert(4) and peer.insert(2)  # $1 + 50c
        wait_for(lambda: cabinet.state.credit == 150, what="the credit")
        cabinet.press("A3")
        wait_for(lambda: cabinet.state.slots["A3"].stock == 9, what="the sale")
        assert [r["amount"] for r in cabinet.rows("credit")] == [100, 50]
        assert cabinet.sim.drops == ["A3"]
    finally:
        peer.stop()
        cabinet.close()
