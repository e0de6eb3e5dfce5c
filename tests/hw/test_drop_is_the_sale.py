"""The drop is the sale, end to end: the real daemon, the GPIO dispenser on MockFactory pins,
the simulated cabinet (simulator/cabinet.py) and a real ledger file. The daemon dies at chosen
moments of a vend and starts again on the same ledger, in front of the same cabinet: what the
cabinet physically did (products that fell, products left in each spiral) is the referee.

"Dying" is the controller thread ending at the top of its loop, after a committed step and
before the next event: exactly the journal a SIGKILL at that moment leaves. The motors then
stop as the driver board stops them when the process is gone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from support import SIM_CONFIG, pay, press, restock_all, sim_config, wait_for

from simulator.cabinet import SimCabinet
from simulator.held_pin import HeldPin
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon
from vendd.events import SetStock
from vendd.ledger.ledger import iter_rows, open_readonly
from vendd.ledger.verify import verify
from vendd.machine import State

TURN_S = 0.6  # the product crosses the beam half-way, 0.3 s before the cam is home
BASE = load_config(SIM_CONFIG).dispenser.model_dump() | {
    "leave_home_timeout_s": 2.0, "home_timeout_s": 10.0, "drop_wait_s": 0.1}


class Died(BaseException):
    """The daemon's death: not an Exception, so no boundary in the controller catches it."""


class Machine:
    """One cabinet (pins, spirals, products) and the daemon of the moment inside it."""

    def __init__(self, tmp_path: Path, *, drop_sensor: bool = True) -> None:
        self.factory = MockFactory(pin_class=HeldPin)
        dispenser = BASE | ({} if drop_sensor else {"drop_sensor_pin": None})
        self.config: Config = sim_config(tmp_path, dispenser=dispenser)
        # A long detent at home: however late a busy machine powers the motor off, the cam
        # never carries on into a second turn (and a second product).
        self.sim = SimCabinet(self.config.dispenser, self.factory, turn_time_s=TURN_S,
                              dwell_s=2.0)
        self.sim.start()
        self.daemon = self._boot()
        restock_all(self.daemon)
        self.sim.products.update({s.id: s.capacity for s in self.config.slots})

    def _boot(self) -> Daemon:
        daemon = Daemon(self.config, pin_factory=self.factory)
        daemon.start()
        daemon.wait_ready()
        return daemon

    @property
    def state(self) -> State:
        assert self.daemon.controller is not None and self.daemon.controller.state is not None
        return self.daemon.controller.state

    def pay(self, *coins: int) -> None:
        pay(self.daemon, *coins)

    def press(self, slot: str) -> None:
        press(self.daemon, slot)

    def die_when(self, moment: Callable[[State], bool]) -> None:
        """Arm the daemon's death: at the first turn of its loop where `moment` holds."""
        controller = self.daemon.controller
        assert controller is not None

        def hook() -> None:
            if controller.state is not None and moment(controller.state):
                raise Died  # ends the controller thread; nothing more is journaled

        controller.loop_hooks.append(hook)

    def wait_dead_and_restart(self) -> None:
        controller = self.daemon.controller
        assert controller is not None
        wait_for(controller.stopped.is_set, timeout=15, what="the daemon to die")
        journaled = len(self.rows())
        # The process is gone: its pins are released and the driver board stops the motor.
        self.daemon.stop()
        assert len(self.rows()) == journaled, "a dead daemon journaled something"
        self.daemon = self._boot()

    def rows(self, kind: str | None = None) -> list[Any]:
        db = open_readonly(self.config.ledger.path)
        try:
            return [r for r in iter_rows(db) if kind is None or r.kind == kind]
        finally:
            db.close()

    def ledger_stock(self, slot: str) -> int:
        db = open_readonly(self.config.ledger.path)
        try:
            (stock,) = db.conn.execute("SELECT stock FROM slots WHERE id = ?", (slot,)).fetchone()
            return int(stock)
        finally:
            db.close()

    def verified(self) -> Any:
        db = open_readonly(self.config.ledger.path)
        try:
            report = verify(db, self.config.machine.timezone)
        finally:
            db.close()
        assert report.ok, report.problems
        return report

    def close(self) -> None:
        self.daemon.stop()
        self.sim.stop()
        self.factory.reset()
        self.factory.close()


@pytest.fixture
def machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Machine]]:
    report_thread_error = threading.excepthook

    def excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not Died:  # a death the test chose is not an error
            report_thread_error(args)

    monkeypatch.setattr(threading, "excepthook", excepthook)
    made: list[Machine] = []

    def make(**kw: Any) -> Machine:
        made.append(Machine(tmp_path, **kw))
        return made[-1]

    yield make
    for machine in made:
        machine.close()


def test_a_vend_is_sold_at_the_drop_and_closed_when_the_motor_is_home(
    machines: Callable[..., Machine],
) -> None:
    m = machines()
    m.pay(100, 50)  # A3 costs 1.50
    m.press("A3")
    wait_for(lambda: m.state.vend is None and m.rows("vend_done"), what="the vend to end")
    kinds = [r.kind for r in m.rows() if r.kind in ("vend_intent", "sale", "vend_done")]
    assert kinds == ["vend_intent", "sale", "vend_done"]
    (sale,) = m.rows("sale")
    assert sale.fields["drop"] is True and sale.fields["price"] == 150
    assert m.rows("vend_done")[0].fields["outcome"] == "delivered"
    assert m.ledger_stock("A3") == m.sim.products["A3"] == 9
    m.verified()


def test_killed_between_the_drop_and_home_is_a_sale(machines: Callable[..., Machine]) -> None:
    m = machines()
    m.pay(100, 100)  # $2.00 for A3 at $1.50: $0.50 stays as credit
    m.die_when(lambda s: s.vend is not None and s.vend.dropped)
    m.press("A3")
    m.wait_dead_and_restart()
    assert m.sim.drops == ["A3"]  # it physically fell
    (sale,) = m.rows("sale")
    assert (sale.fields["slot"], sale.fields["price"], sale.fields["drop"]) == ("A3", 150, True)
    (done,) = m.rows("vend_done")
    assert (done.fields["vend"], done.fields["outcome"]) == (sale.fields["vend"], "interrupted")
    assert m.rows("vend_failed") == []  # the buyer's money is not handed back for it
    assert m.state.credit == 50  # only the change that was already credit
    assert m.state.vend is None
    assert m.state.slots["A3"].stock == m.ledger_stock("A3") == m.sim.products["A3"] == 9
    report = m.verified()
    assert report.money.cash_sales == 150 and report.credit == 50


def test_killed_before_the_drop_gives_the_credit_back(machines: Callable[..., Machine]) -> None:
    m = machines()
    m.sim.faults.jam.add("A3")  # the cam stops before the product reaches the beam
    m.pay(100, 50)
    m.die_when(lambda s: s.vend is not None and m.sim.turns["A3"] >= 1)  # motor turning
    m.press("A3")
    m.wait_dead_and_restart()
    assert m.sim.drops == []
    assert m.rows("sale") == []
    (failed,) = m.rows("vend_failed")
    assert (failed.fields["slot"], failed.fields["outcome"]) == ("A3", "interrupted")
    assert m.rows("count_needed") == []  # the beam would have seen a fall: stock is known
    assert m.state.credit == 150
    assert m.state.slots["A3"].stock == m.ledger_stock("A3") == m.sim.products["A3"] == 10
    assert not m.state.slots["A3"].count_me
    m.verified()


def test_no_drop_sensor_gives_the_credit_back_and_asks_for_a_count(
    machines: Callable[..., Machine],
) -> None:
    m = machines(drop_sensor=False)
    m.pay(100, 50)
    # The product falls, but nothing tells the daemon before it dies mid-turn (the cam is
    # held after the fall, short of home, until the daemon is gone).
    m.sim.set_hold("A3", 0.8)
    m.die_when(lambda s: s.vend is not None and "A3" in m.sim.holding)
    m.press("A3")
    m.wait_dead_and_restart()
    assert m.sim.drops == ["A3"]
    assert m.rows("sale") == []
    (failed,) = m.rows("vend_failed")
    assert failed.fields["outcome"] == "interrupted"
    (count,) = m.rows("count_needed")
    assert count.fields == {"slot": "A3", "vend": failed.fields["vend"]}
    assert m.state.credit == 150  # in the buyer's favour
    assert m.state.slots["A3"].count_me
    assert m.ledger_stock("A3") == 10 and m.sim.products["A3"] == 9  # the count will tell
    m.verified()
    # The seamstress counts the spiral at the next restock: the count settles the stock.
    assert m.daemon.controller is not None
    reply = m.daemon.controller.submit(SetStock("lucia", "A3", m.sim.products["A3"])).result(5)
    assert reply.ok, reply.error
    (counted,) = [r for r in m.rows("stock_set") if r.fields["by"] == "lucia"]
    assert (counted.fields["reason"], counted.fields["before"], counted.fields["after"]) == (
        "count", 10, 9)
    assert not m.state.slots["A3"].count_me
    db = open_readonly(m.config.ledger.path)
    try:
        (flag,) = db.conn.execute("SELECT count_me FROM slots WHERE id = 'A3'").fetchone()
    finally:
        db.close()
    assert flag == 0
    assert m.ledger_stock("A3") == m.sim.products["A3"] == 9
    m.verified()
