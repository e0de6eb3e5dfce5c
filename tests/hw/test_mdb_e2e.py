"""End to end through the simulated MDB peripherals (one pty, in-band 9th bit) and the real
daemon: card sales (approved, denied, failed after approval), cash with change in the fewest
coins, a short payout recorded as owed, a bill returned from escrow, a reader that resets or
loses its session. `vendd verify` holds after each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, restock_all, wait_for

from simulator.mdb_peer import SimMdbBus
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon
from vendd.events import VendOutcome
from vendd.hw.mdb.bus import Phase
from vendd.hw.mdb.cashless import MdbCashless
from vendd.hw.mdb.changer import MdbChanger
from vendd.hw.virtual import VirtualButtons, VirtualDispenser
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.ledger.verify import verify
from vendd.machine import State

MDB_CONFIG = ROOT / "config" / "sim-mdb.toml"


@dataclass
class Rig:
    peer: SimMdbBus
    daemon: Daemon

    @property
    def state(self) -> State:
        assert self.daemon.controller is not None and self.daemon.controller.state is not None
        return self.daemon.controller.state

    def press(self, slot: str) -> None:
        buttons = self.daemon.devices.inputs[0]
        assert isinstance(buttons, VirtualButtons)
        buttons.press(slot)

    def coin(self, value: int) -> None:
        assert self.peer.changer is not None
        before = self.state.credit
        with self.peer.lock:
            assert self.peer.changer.insert(value)
        wait_for(lambda: self.state.credit == before + value, what=f"credit for {value}")

    def tap(self, balance: int) -> None:
        assert self.peer.reader is not None
        wait_for(lambda: self.peer.reader is not None and self.peer.reader.state == "enabled",
                 what="the reader to be enabled")
        with self.peer.lock:
            assert self.peer.reader.tap(balance)
        wait_for(lambda: self.state.card_device == "card_reader", what="the card session")

    def rows(self, kind: str) -> list[dict[str, Any]]:
        db = open_readonly(self.daemon.ledger_path)
        try:
            return [r.fields for r in iter_rows(db) if r.kind == kind]
        finally:
            db.close()

    def idle(self) -> None:
        wait_for(lambda: self.state.vend is None and not self.state.payout, what="idle")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    peer = SimMdbBus().start()
    data = load_config(MDB_CONFIG).model_dump()
    data["ledger"] = {"path": tmp_path / "vendd.db"}
    data["mqtt"]["enabled"] = False
    data["dispenser"] = {"kind": "virtual", "turn_time_s": 0.0}
    data["mdb"]["port"] = peer.port
    daemon = Daemon(Config(**data))
    daemon.start()
    try:
        daemon.wait_ready()
        restock_all(daemon)
        r = Rig(peer, daemon)
        wait_for(lambda: peer.changer is not None and peer.changer.enabled, what="coins on")
        yield r
        report = verify(open_readonly(daemon.ledger_path), daemon.config.machine.timezone)
        assert report.ok, report.problems
    finally:
        daemon.stop()
        peer.stop()


def test_card_sale_charges_exactly_the_price(rig: Rig) -> None:
    reader = rig.peer.reader
    assert reader is not None
    rig.tap(1000)
    rig.press("A1")
    wait_for(lambda: rig.rows("sale"), what="the sale")
    rig.idle()
    wait_for(lambda: rig.state.card_device is None, what="the session to end")
    assert reader.charges == [350]
    assert rig.rows("card_approved")[0]["amount"] == 350
    assert rig.rows("sale")[0]["payment"] == "card"
    assert rig.state.slots["A1"].stock == 7


def test_denied_card_sells_nothing(rig: Rig) -> None:
    reader = rig.peer.reader
    assert reader is not None
    rig.tap(200)  # less than the price
    rig.press("A1")
    wait_for(lambda: rig.rows("card_denied"), what="the denial")
    assert rig.rows("sale") == [] and reader.charges == []
    assert rig.state.slots["A1"].stock == 8


def test_vend_failure_after_approval_is_not_charged(rig: Rig) -> None:
    reader = rig.peer.reader
    assert reader is not None
    dispenser = rig.daemon.devices.dispenser
    assert isinstance(dispenser, VirtualDispenser)
    dispenser.outcome_for = lambda slot: VendOutcome.NO_DROP
    rig.tap(1000)
    rig.press("A1")
    wait_for(lambda: rig.rows("vend_failed"), what="the failed vend")
    wait_for(lambda: reader.failures == 1, what="VEND FAILURE on the bus")
    assert reader.charges == [] and rig.rows("sale") == []


def test_cash_sale_pays_change_in_the_fewest_coins(rig: Rig) -> None:
    changer = rig.peer.changer
    assert changer is not None
    for _ in range(4):
        rig.coin(100)  # $4.00 for a $3.50 product
    rig.press("A1")
    wait_for(lambda: rig.rows("payout"), what="the change")
    assert changer.paid_out == [25, 25]  # not 25 + 10 + 10 + 5
    assert rig.rows("payout") == [{"device": "changer", "amount": 50, "paid": 50, "owed": 0}]
    assert rig.rows("sale")[0]["price"] == 350
    # The controller's state settles just after the row it journaled.
    wait_for(lambda: rig.state.credit == 0, what="the credit spent")


@pytest.mark.parametrize("fault", ["jam", "empty_tube"])
def test_short_payout_is_recorded_as_owed(rig: Rig, fault: str) -> None:
    changer = rig.peer.changer
    assert changer is not None
    with rig.peer.lock:
        if fault == "jam":
            changer.jam_at = 1  # one coin comes out, then the coin path jams
        else:
            for value in (25, 10, 5):
                changer.empty_tube(value, leave=1 if value == 10 else 0)  # one dime left
    for _ in range(4):
        rig.coin(100)
    rig.press("A1")
    wait_for(lambda: rig.rows("payout"), what="the payout")
    payout = rig.rows("payout")[0]
    paid = sum(changer.paid_out)
    assert payout["amount"] == 50 and payout["paid"] == paid < 50
    assert payout["owed"] == 50 - paid
    wait_for(lambda: rig.daemon.devices.display.lines[:1] in (["Le debemos"], ["We owe you"]),
             what="the owed message")


def test_bill_is_stacked_only_when_its_credit_can_be_used(rig: Rig) -> None:
    bills = rig.peer.bills
    assert bills is not None
    wait_for(lambda: bills.enabled, what="bills on")
    with rig.peer.lock:
        assert bills.insert(500)
    wait_for(lambda: rig.state.credit == 500, what="the stacked bill's credit")
    assert bills.stacked == [500]
    assert rig.rows("credit") == [{"device": "bill_validator", "amount": 500, "label": "500c",
                                   "route": "stacker"}]
    with rig.peer.lock:
        assert bills.insert(2000)  # $25 > the $20 maximum credit: it cannot be used
    wait_for(lambda: bills.returned == [2000], what="the bill back")
    assert rig.state.credit == 500 and len(rig.rows("credit")) == 1


def reader_up_again(rig: Rig) -> None:
    driver = rig.daemon.devices.card_reader
    assert isinstance(driver, MdbCashless)
    wait_for(lambda: driver.resets >= 1 and driver.phase is Phase.READY
             and driver._sent_enabled, what="the reader set up again")


def test_reader_that_resets_mid_session(rig: Rig) -> None:
    reader = rig.peer.reader
    assert reader is not None
    rig.tap(1000)
    with rig.peer.lock:
        reader.self_reset()
    wait_for(lambda: rig.state.card_device is None, what="the session to be dropped")
    reader_up_again(rig)
    # The driver posts the fault; the controller journals it when it takes the event, which
    # on a busy machine can be after the reader is already set up again.
    faults = wait_for(lambda: [f for f in rig.rows("device_fault")
                               if f["device"] == "card_reader"], what="the reset's fault row")
    assert faults[0]["code"] == "device_reset"
    rig.tap(1000)  # set up again: the next buyer pays as usual
    rig.press("B3")
    wait_for(lambda: rig.rows("sale"), what="the sale")
    wait_for(lambda: reader.charges == [100], what="the charge")


def test_reader_out_of_sequence_is_recovered(rig: Rig) -> None:
    reader = rig.peer.reader
    assert reader is not None
    rig.tap(1000)
    with rig.peer.lock:
        reader.lose_session()
    rig.press("A1")  # the VEND REQUEST is out of sequence: denied, never charged
    wait_for(lambda: rig.rows("card_denied"), what="the denial")
    wait_for(lambda: rig.state.card_device is None, what="the session to end")
    assert reader.out_of_sequence >= 1 and reader.charges == []
    reader_up_again(rig)
    rig.tap(1000)
    rig.press("A3")
    wait_for(lambda: reader.charges == [150], what="the charge after recovery")


def test_coin_return_lever_and_exact_change(rig: Rig) -> None:
    changer = rig.peer.changer
    assert changer is not None
    rig.coin(25)
    rig.coin(10)
    with rig.peer.lock:
        changer.press_return()  # the escrow lever: credit back in coins
    wait_for(lambda: rig.rows("payout"), what="the coin return")
    assert sorted(changer.paid_out) == [10, 25]
    driver = rig.daemon.devices.changer
    assert isinstance(driver, MdbChanger)
    with rig.peer.lock:
        changer.tubes[0] = 0  # no more nickels: 5c of change cannot be made
    wait_for(lambda: rig.state.exact_change, timeout=5, what="exact change only")
    assert rig.daemon.devices.display.lines[0] in ("Importe exacto", "Exact change")


def test_a_bug_in_one_mdb_driver_stops_every_mdb_intake_and_is_journaled(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyError in the changer's turn: the bus loop is down, so changer, bill validator and
    reader are all journaled faulty and none of them takes money until a clean round."""
    peer, devices = rig.peer, rig.daemon.devices
    assert peer.changer is not None and peer.bills is not None and peer.reader is not None
    mdb = ["changer", "bill_validator", "card_reader"]
    wait_for(lambda: peer.bills.enabled and peer.reader.state == "enabled", what="all open")

    def bug() -> None:
        raise KeyError("coin type 9")

    monkeypatch.setattr(devices.changer, "work", bug)
    wait_for(lambda: {r["device"] for r in rig.rows("device_fault")
                      if r["code"] == "driver_error"} == set(mdb), what="three faults")
    fault = next(r for r in rig.rows("device_fault") if r["device"] == "changer")
    assert fault["blocking"] and "KeyError" in fault["detail"]
    wait_for(lambda: set(mdb) <= rig.state.faults, what="the machine to see the faults")
    assert not rig.state.accepting  # nothing else takes money in this cabinet
    wait_for(lambda: not peer.changer.enabled and not peer.bills.enabled
             and peer.reader.state in ("disabled", "inactive"), what="every MDB intake off")
    with peer.lock:
        assert not peer.changer.insert(25) and not peer.bills.insert(100)
        assert not peer.reader.tap(1000)
    assert rig.state.credit == 0

    monkeypatch.undo()  # the worker starts the bus again with back-off: the next round is clean
    wait_for(lambda: {r["device"] for r in rig.rows("device_recovered")} == set(mdb),
             timeout=15, what="the three back")
    wait_for(lambda: peer.changer.enabled and peer.bills.enabled, timeout=10,
             what="intake open again")
    rig.coin(25)
