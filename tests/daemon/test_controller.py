"""The controller loop on virtual devices: the ledger is written before a motor moves,
start-up recovers credit and resolves an unfinished vend in the buyer's favour."""

from __future__ import annotations

from pathlib import Path

from support import restock_all, sim_config, wait_for

from vendd.commands import Fact
from vendd.config import Config
from vendd.daemon.app import Daemon
from vendd.events import SetPrice
from vendd.hw.virtual import VirtualButtons, VirtualCoinAcceptor, VirtualDispenser
from vendd.ledger import Ledger
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.ledger.verify import verify
from vendd.machine import Mode


def _parts(d: Daemon) -> tuple[VirtualCoinAcceptor, VirtualButtons, VirtualDispenser]:
    acceptor, buttons, dispenser = d.devices.acceptors[0], d.devices.inputs[0], d.devices.dispenser
    assert isinstance(acceptor, VirtualCoinAcceptor) and isinstance(buttons, VirtualButtons)
    assert isinstance(dispenser, VirtualDispenser)
    return acceptor, buttons, dispenser


def _kinds(path: Path) -> list[str]:
    return [r.kind for r in iter_rows(open_readonly(path))]


def test_the_intent_is_journaled_before_the_motor_starts(daemon: Daemon) -> None:
    restock_all(daemon)
    acceptor, buttons, dispenser = _parts(daemon)
    seen_at_motor_start: list[list[str]] = []
    turn = dispenser.vend

    def vend(vend_id: int, slot: str) -> None:
        seen_at_motor_start.append(_kinds(daemon.config.ledger.path))
        turn(vend_id, slot)

    dispenser.vend = vend  # type: ignore[method-assign]
    wait_for(lambda: acceptor.accepting, what="acceptor enabled")
    for coin in (100, 100, 100, 50):
        acceptor.insert(coin)
    buttons.press("A1")
    assert daemon.controller is not None
    wait_for(lambda: daemon.controller.state.slots["A1"].stock == 7, what="the sale")
    assert seen_at_motor_start[0][-1] == "vend_intent"
    assert not acceptor.accepting or daemon.controller.state.vend is None


def test_restart_recovers_credit_and_resolves_an_open_vend(tmp_path: Path) -> None:
    config = sim_config(tmp_path)
    d = Daemon(config)
    d.start()
    d.wait_ready()
    restock_all(d)
    acceptor, _, _ = _parts(d)
    wait_for(lambda: acceptor.accepting)
    acceptor.insert(100)
    acceptor.insert(50)
    assert d.controller is not None
    wait_for(lambda: d.controller.state.credit == 150)
    d.stop()
    # The daemon died with the motor turning: an intent with no outcome.
    ledger = Ledger(config.ledger.path, config.machine.timezone)
    ledger.append([Fact("vend_intent", {"vend": 1, "slot": "A3", "price": 150,
                                        "payment": "cash", "product": "Llavero de lana",
                                        "maker": "lucia"})])
    assert ledger.machine().credit == 0
    ledger.close()

    d = Daemon(config)
    d.start()
    d.wait_ready()
    assert d.controller is not None and d.controller.state is not None
    state = d.controller.state
    assert state.credit == 150  # restored to the buyer
    assert state.slots["A3"].fault == "interrupted"  # flagged for a check
    assert state.mode is Mode.CREDIT
    d.stop()
    rows = list(iter_rows(open_readonly(config.ledger.path)))
    failed = [r for r in rows if r.kind == "vend_failed"]
    assert failed[-1].fields["outcome"] == "interrupted"
    assert any(r.kind == "device_fault" and r.fields["code"] == "vend_interrupted" for r in rows)
    assert verify(open_readonly(config.ledger.path), config.machine.timezone).ok


def test_a_ledger_that_cannot_write_stops_everything_before_a_motor(tmp_path: Path) -> None:
    config = sim_config(tmp_path)
    d = Daemon(config)
    d.start()
    d.wait_ready()
    restock_all(d)
    acceptor, buttons, dispenser = _parts(d)
    started: list[str] = []
    dispenser.vend = lambda vend_id, slot: started.append(slot)  # type: ignore[method-assign]
    wait_for(lambda: acceptor.accepting)
    for _ in range(4):
        acceptor.insert(100)
    assert d.controller is not None
    wait_for(lambda: d.controller.state.credit == 400)
    assert d.ledger is not None
    d.ledger.db.conn.execute("PRAGMA query_only = ON")  # the disk went read-only
    buttons.press("A1")
    wait_for(lambda: d.controller.stopped.is_set(), what="the controller to stop")
    assert started == []
    assert d.controller.fatal is not None
    d.stop()


def test_config_changes_are_journaled_at_start(tmp_path: Path) -> None:
    config = sim_config(tmp_path)
    d = Daemon(config)
    d.start()
    d.wait_ready()
    assert d.controller is not None
    assert d.controller.submit(SetPrice("rosa", "A1", 375)).result(5).ok
    d.stop()
    data = config.model_dump()
    data["slots"][0]["capacity"] = 6
    d = Daemon(Config(**data))
    d.start()
    d.wait_ready()
    assert d.controller is not None and d.controller.state is not None
    a1 = d.controller.state.slots["A1"]
    assert (a1.capacity, a1.price) == (6, 375)  # her price stands; the file's price did not change
    d.stop()
    kinds = _kinds(config.ledger.path)
    assert kinds.count("slot_configured") == 9 and kinds.count("started") == 2


def _slow_motor_daemon(tmp_path: Path) -> Daemon:
    """A running, restocked daemon whose motor takes 0.3 s a turn (time to stop mid-turn)."""
    data = sim_config(tmp_path).model_dump()
    data["dispenser"]["turn_time_s"] = 0.3
    d = Daemon(Config(**data))
    d.start()
    d.wait_ready()
    restock_all(d)
    return d


def test_stop_mid_turn_with_grace_journals_the_outcome(tmp_path: Path) -> None:
    d = _slow_motor_daemon(tmp_path)
    acceptor, buttons, dispenser = _parts(d)
    wait_for(lambda: acceptor.accepting)
    acceptor.insert(100)
    acceptor.insert(50)
    buttons.press("A3")
    wait_for(lambda: dispenser.motor_on == "A3", what="the motor to turn")
    d.stop(vend_grace_s=5)
    assert dispenser.motor_on is None
    rows = list(iter_rows(open_readonly(d.config.ledger.path)))
    # The product fell half-way (the sale), then the motor finished its turn.
    assert [(r.kind, r.fields["slot"]) for r in rows[-2:]] == [("sale", "A3"), ("vend_done", "A3")]
    assert rows[-2].fields["drop"] is True and rows[-1].fields["outcome"] == "delivered"


def test_shutdown_never_takes_money_it_cannot_journal(tmp_path: Path) -> None:
    d = _slow_motor_daemon(tmp_path)
    acceptor, buttons, dispenser = _parts(d)
    wishes: list[bool] = []
    accept = acceptor.set_accepting

    def record(accepting: bool) -> None:
        wishes.append(accepting)
        accept(accepting)

    acceptor.set_accepting = record  # type: ignore[method-assign]
    wait_for(lambda: acceptor.accepting)
    for coin in (100, 100):
        acceptor.insert(coin)
    buttons.press("A3")  # $1.50: $0.50 stays as credit after the sale
    wait_for(lambda: dispenser.motor_on == "A3", what="the motor to turn")
    wishes.clear()
    d.stop(vend_grace_s=5)  # the motor finishes its turn during the shutdown
    assert True not in wishes  # the end of the vend did not open the acceptor again
    assert not acceptor.insert(100)  # a coin during/after the shutdown is refused
    report = verify(open_readonly(d.config.ledger.path), d.config.machine.timezone)
    assert report.ok and report.money.cash_sales == 150 and report.credit == 50
