"""A bug in a device thread's loop (a method monkeypatched to raise KeyError) is journaled as
a blocking fault of that device, the machine stops taking money, and (for the looping
threads) the worker starts again with back-off and reopens once a turn runs clean.
The MDB bus's own test is in test_mdb_e2e.py, the feed's in tests/telemetry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import restock_all, sim_config, wait_for
from test_dispenser_e2e import PULSE, Cabinet

from simulator.pulse_peer import PulsePeer
from vendd.daemon.app import Daemon
from vendd.hw.keypad import GpioButtons
from vendd.hw.pulse import PulseCoinAcceptor
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor, VirtualDispenser
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.machine import Mode

BUTTONS = {"kind": "gpio", "selection": {"A3": 22, "B3": 23}, "cancel_pin": 4,
           "debounce_ms": 10, "long_press_ms": 500, "scan_ms": 2}


def bug(*args: Any, **kwargs: Any) -> Any:
    raise KeyError("A9")


def rows(daemon: Daemon, kind: str) -> list[dict[str, Any]]:
    db = open_readonly(daemon.ledger_path)
    try:
        return [r.fields for r in iter_rows(db) if r.kind == kind]
    finally:
        db.close()


def journaled_bug(daemon: Daemon, device: str, code: str = "driver_error") -> dict[str, Any]:
    found = wait_for(lambda: [f for f in rows(daemon, "device_fault")
                              if f["device"] == device and f["code"] == code],
                     what=f"the {device} fault in the journal")
    assert found[0]["blocking"] and "KeyError" in found[0]["detail"]
    return found[0]


def out_of_sale(daemon: Daemon, device: str) -> None:
    c = daemon.controller
    assert c is not None
    wait_for(lambda: device in c.state.faults and c.state.mode is Mode.OUT_OF_SERVICE
             and not c.state.accepting, what="the machine to stop taking money")


def test_a_bug_in_the_pulse_acceptor_inhibits_the_coins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cabinet = Cabinet(tmp_path, coin_acceptor=PULSE)
    peer = PulsePeer(cabinet.factory, 21, inhibit_pin=7)
    peer.start()
    try:
        acceptor = cabinet.daemon.devices.acceptors[0]
        assert isinstance(acceptor, PulseCoinAcceptor)
        wait_for(lambda: not peer.inhibited(), what="the acceptor to open")
        monkeypatch.setattr(acceptor, "_coin", bug)
        assert peer.insert(4)  # its train closes in the worker, which fails on it
        journaled_bug(cabinet.daemon, "coin_acceptor")
        wait_for(peer.inhibited, what="the inhibit line driven")
        out_of_sale(cabinet.daemon, "coin_acceptor")
        assert not peer.insert(2)  # returned to the buyer
        monkeypatch.undo()  # the next turn is clean: the fault is lifted, coins go in again
        wait_for(lambda: [f for f in rows(cabinet.daemon, "device_recovered")
                          if f["device"] == "coin_acceptor"], what="the recovery")
        wait_for(lambda: not peer.inhibited(), what="the coins open again")
        assert peer.insert(2)
        wait_for(lambda: cabinet.state.credit == 50, what="the credit of a good coin")
    finally:
        peer.stop()
        cabinet.close()


def test_a_bug_in_the_keypad_takes_the_machine_out_of_sale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cabinet = Cabinet(tmp_path, buttons=BUTTONS)
    try:
        buttons = cabinet.daemon.devices.inputs[0]
        assert isinstance(buttons, GpioButtons)
        acceptor = cabinet.daemon.devices.acceptors[0]
        assert isinstance(acceptor, VirtualCoinAcceptor)
        wait_for(lambda: acceptor.accepting, what="open for sale")
        monkeypatch.setattr(buttons, "_poll", bug)
        journaled_bug(cabinet.daemon, "buttons")
        out_of_sale(cabinet.daemon, "buttons")
        assert not acceptor.accepting and not acceptor.insert(100)  # nobody could choose
        monkeypatch.undo()
        wait_for(lambda: [f for f in rows(cabinet.daemon, "device_recovered")
                          if f["device"] == "buttons"], what="the recovery")
        cabinet.pay(100, 50)
        cabinet.factory.pin(22).drive_low()  # A3 costs $1.50
        wait_for(lambda: cabinet.state.slots["A3"].stock == 9, what="the sale")
        cabinet.factory.pin(22).drive_high()
    finally:
        cabinet.close()


def test_a_bug_in_the_gpio_vend_thread_ends_the_vend_and_stops_sales(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cabinet = Cabinet(tmp_path)
    try:
        monkeypatch.setattr(cabinet.daemon.devices.dispenser, "_turns", bug)
        cabinet.pay(100, 50)
        cabinet.press("A3")
        journaled_bug(cabinet.daemon, "dispenser", code="gpio_error")
        assert rows(cabinet.daemon, "vend_failed")[0]["slot"] == "A3"
        out_of_sale(cabinet.daemon, "dispenser")
        assert cabinet.state.credit == 150  # the buyer's money is still hers
        assert cabinet.sim.drops == []
    finally:
        cabinet.close()


def test_a_bug_in_the_virtual_vend_thread_ends_the_vend_and_stops_sales(
        tmp_path: Path) -> None:
    daemon = Daemon(sim_config(tmp_path))
    daemon.start()
    try:
        daemon.wait_ready()
        restock_all(daemon)
        dispenser, acceptor = daemon.devices.dispenser, daemon.devices.acceptors[0]
        buttons = daemon.devices.inputs[0]
        assert isinstance(dispenser, VirtualDispenser)
        assert isinstance(acceptor, VirtualCoinAcceptor) and isinstance(buttons, VirtualButtons)
        dispenser.outcome_for = bug
        wait_for(lambda: acceptor.accepting, what="open for sale")
        assert acceptor.insert(100) and acceptor.insert(50)
        buttons.press("A3")
        journaled_bug(daemon, "dispenser", code="gpio_error")
        out_of_sale(daemon, "dispenser")
        assert not acceptor.insert(25)
        assert daemon.controller is not None and daemon.controller.state.credit == 150
    finally:
        daemon.stop()
