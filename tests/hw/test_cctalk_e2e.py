"""A buyer pays with coins through the pty (simulated ccTalk acceptor) and buys a product."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import restock_all, sim_config, wait_for

from simulator.cctalk_peer import SimCctalkAcceptor
from vendd.daemon.app import Daemon
from vendd.hw.cctalk.driver import CctalkCoinAcceptor
from vendd.hw.virtual import VirtualButtons
from vendd.ledger.ledger import iter_rows, open_readonly

COINS = {1: (5, "5c"), 2: (10, "10c"), 3: (25, "25c"), 4: (50, "50c"), 5: (100, "$1")}


@pytest.fixture(params=[(True, "simple"), (False, "simple"), (True, "crc16"), (False, "crc16")],
                ids=["echo-simple", "noecho-simple", "echo-crc16", "noecho-crc16"])
def rig(request, tmp_path: Path) -> Iterator[tuple[SimCctalkAcceptor, Daemon]]:
    echo, checksum = request.param
    peer = SimCctalkAcceptor(COINS, echo=echo, checksum=checksum).start()
    acceptor = {
        "kind": "cctalk", "port": peer.port, "echo": echo, "checksum": checksum,
        "poll_interval_ms": 50,
        "coins": [{"value": v, "label": lbl, "position": p} for p, (v, lbl) in COINS.items()],
    }
    daemon = Daemon(sim_config(tmp_path, coin_acceptor=acceptor))
    daemon.start()
    try:
        daemon.wait_ready()
        yield peer, daemon
    finally:
        daemon.stop()
        peer.stop()


def test_buyer_pays_with_coins_and_buys(rig):
    peer, daemon = rig
    assert isinstance(daemon.devices.acceptors[0], CctalkCoinAcceptor)
    restock_all(daemon)
    controller = daemon.controller
    assert controller is not None
    wait_for(lambda: peer.accepting, what="the acceptor to open")
    total = 0
    for position in (5, 3, 3):  # $1 + 25c + 25c = $1.50, the price of A3
        assert peer.insert(position)
        total += COINS[position][0]
        wait_for(lambda t=total: controller.state.credit == t, what=f"credit of {total}")
    buttons = daemon.devices.inputs[0]
    assert isinstance(buttons, VirtualButtons)
    buttons.press("A3")
    wait_for(lambda: controller.state.vend is None and controller.state.credit == 0
             and controller.state.slots["A3"].stock == 9, what="the sale")
    db = open_readonly(daemon.ledger_path)
    rows = list(iter_rows(db))
    credits = [r.fields["amount"] for r in rows if r.kind == "credit"]
    assert credits == [100, 25, 25]
    assert [r.fields["slot"] for r in rows if r.kind == "sale"] == ["A3"]
    assert db.conn.execute("SELECT cash_box FROM machine").fetchone()[0] == 150
    assert peer.accepted == [5, 3, 3]


def test_a_bug_in_the_reader_is_journaled_and_sets_the_master_inhibit(rig, monkeypatch):
    """A KeyError every time the reader handles a coin: journaled as a blocking fault of the
    acceptor, the acceptor inhibited and the machine out of sale until a clean poll."""
    peer, daemon = rig
    driver = daemon.devices.acceptors[0]
    assert isinstance(driver, CctalkCoinAcceptor)
    controller = daemon.controller
    assert controller is not None
    wait_for(lambda: peer.accepting, what="the acceptor to open")

    def bug(*args: object) -> None:
        raise KeyError(f"coin {args[0]}")

    monkeypatch.setattr(driver, "_handle_result", bug)
    assert peer.insert(3)

    def faults():
        db = open_readonly(daemon.ledger_path)
        try:
            return [r.fields for r in iter_rows(db) if r.kind == "device_fault"
                    and r.fields["code"] == "driver_error"]
        finally:
            db.close()

    fault = wait_for(faults, what="the bug in the journal")[0]
    assert fault["device"] == "coin_acceptor" and fault["blocking"]
    assert "KeyError" in fault["detail"]
    wait_for(lambda: not peer.accepting, what="the master inhibit set")
    wait_for(lambda: "coin_acceptor" in controller.state.faults
             and not controller.state.accepting, what="the machine out of sale")
    assert not peer.insert(5)
    monkeypatch.undo()  # the coin it choked on is still in the buffer: credited once now
    wait_for(lambda: controller.state.credit == 25, timeout=10, what="the coin, once")
    wait_for(lambda: peer.accepting, what="the acceptor open again")
    wait_for(lambda: "coin_acceptor" not in controller.state.faults, what="the fault lifted")
