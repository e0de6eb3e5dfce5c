"""The service menu: the pure menu driven with events beside the pure vend machine (a small
bench that routes them the way the controller does), then end to end on the daemon."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support import EXAMPLE_CONFIG, sim_config, wait_for

from vendd import machine as m
from vendd import service_menu as sm
from vendd.commands import CancelTimer, Show, StartTimer, StartVend
from vendd.config import Config, load_config
from vendd.daemon.app import Daemon
from vendd.events import (
    CancelPressed,
    CollectCash,
    CreditInserted,
    SelectionPressed,
    ServiceKey,
    Started,
    TimerExpired,
    VendFinished,
    VendOutcome,
)
from vendd.messages import render
from vendd.service_view import sales_by_maker


class Bench:
    """The vend machine and the menu, wired as the controller wires them."""

    def __init__(self, config: Config, language: str = "es", **menu: object) -> None:
        self.settings = replace(sm.MenuSettings.from_config(config), **menu)
        self.menu = sm.initial(self.settings)
        slots = {s.id: m.Slot(s.id, s.product, s.maker, s.price, s.capacity, 0)
                 for s in config.slots}
        self.machine = m.State(m.Settings(payment_devices=frozenset({"coin"})), slots)
        self.language = language
        self.facts: list[tuple[str, dict]] = []
        self.screen: list[str] = []
        self.timers: dict[str, int] = {}
        self.presses = 0
        self.vends: list[StartVend] = []
        self.sales: tuple[sm.MakerSales, ...] = ()
        self.machine_event(Started())

    def view(self) -> sm.View:
        s = self.machine
        return sm.View(slots=s.slots, cash_box=s.cash_box, faults=s.faults,
                       vending=s.vend.slot if s.vend else None, sales=self.sales,
                       network="up", broker="down")

    def machine_event(self, event: object) -> list:
        was = self.machine.service_key
        step = m.handle(self.machine, event)
        self.machine = step.state
        self.facts += [(f.kind, f.fields) for f in step.facts]
        self.vends += [c for c in step.commands if isinstance(c, StartVend)]
        if self.machine.service_key and not was:
            self.menu_event(sm.Enter(self.view()))
        elif was and not self.machine.service_key:
            self.menu_event(sm.Leave())
        elif was:
            self.menu_event(sm.Refresh(self.view()))
        for f in step.facts:
            if f.kind == "test_vend":
                self.menu_event(sm.TestDone(f.fields["slot"], f.fields["outcome"]))
        return step.commands

    def menu_event(self, event: object) -> None:
        self.menu, commands = sm.handle(self.menu, event)
        for c in commands:
            if isinstance(c, Show):
                self.screen = render(c.key, self.language, c.params)
            elif isinstance(c, StartTimer):
                self.timers[c.name] = c.token
            elif isinstance(c, CancelTimer):
                self.timers.pop(c.name, None)
        for c in commands:
            if isinstance(c, sm.Submit):
                replies = [r for r in self.machine_event(c.event) if isinstance(r, m.Reply)]
                self.menu_event(sm.Answer(replies[0]))
            elif isinstance(c, sm.ExitService):
                self.machine_event(ServiceKey(False))

    # hands
    def key(self, on: bool) -> None:
        self.machine_event(ServiceKey(on))

    def press(self, *keys: str) -> None:
        for k in keys:
            self.presses += 1
            if self.machine.service_key:
                self.menu_event(SelectionPressed(k))
            else:
                self.machine_event(SelectionPressed(k))

    def cancel(self) -> None:
        self.presses += 1
        self.menu_event(CancelPressed())

    def expire(self, name: str) -> None:
        self.menu_event(TimerExpired(name, self.timers.pop(name)))

    def type_pin(self, pin: str) -> None:
        s = self.settings
        for digit in pin:
            self.press(*[s.plus] * int(digit), s.ok)

    def last(self, kind: str) -> dict:
        return next(f for k, f in reversed(self.facts) if k == kind)


@pytest.fixture
def example() -> Config:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def bench(example: Config) -> Bench:
    b = Bench(example)
    b.key(True)
    b.type_pin("1357")  # Rosa
    return b


def test_the_service_key_asks_for_a_pin_and_the_maker_is_who_the_journal_names(
        example: Config) -> None:
    b = Bench(example)
    b.key(True)
    assert b.machine.mode is m.Mode.SERVICE
    assert b.screen == ["PIN 0", "A1- A2+ B4=OK"]
    b.press("A2", "A2")
    assert b.screen[0] == "PIN 2"
    b.press("A1")
    assert b.screen[0] == "PIN 1"
    b.press("B4")
    assert b.screen[0] == "PIN *0"
    b.cancel()  # back: the digit is taken away
    assert b.screen[0] == "PIN 0"
    b.type_pin("2468")  # Carmen
    assert b.menu.actor == "carmen"
    assert b.screen == ["Carmen: Reponer", "A1< A2> B4=OK"]
    b.press("B4", "A3", "B4")
    assert b.last("stock_set") == {"slot": "A3", "before": 0, "after": 10,
                                   "reason": "restock", "by": "carmen"}


def test_pin_typed_on_digit_keys_when_the_keypad_has_ten(example: Config) -> None:
    b = Bench(example, keys=tuple(["K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", "K9", "K0"]))
    b.key(True)
    assert b.screen == ["PIN _", "Teclee su PIN"]
    b.press("K4", "K6", "K8", "K0")
    assert b.menu.actor == "maria"


def test_wrong_pins_lock_the_menu_for_the_configured_time(example: Config) -> None:
    b = Bench(example, pin_tries=3)
    b.key(True)
    b.type_pin("1111")
    assert b.screen == ["PIN incorrecto", "Quedan 2"]
    b.type_pin("2222")
    assert b.screen[1] == "Quedan 1"
    b.type_pin("1357")  # right on the third try: the count starts again
    assert b.menu.actor == "rosa"
    b.key(False)
    b.key(True)
    for _ in range(3):
        b.type_pin("9999")
    assert b.menu.screen == sm.LOCKED
    assert b.screen == ["Menú bloqueado", "Espere 5 min"]
    b.type_pin("1357")  # ignored while locked
    assert b.menu.actor == "" and b.menu.screen == sm.LOCKED
    b.key(False)
    b.key(True)  # turning the key again does not unlock it
    assert b.menu.screen == sm.LOCKED
    b.expire(sm.LOCK)
    assert b.screen[0] == "PIN 0"
    b.type_pin("1357")
    assert b.menu.actor == "rosa"


def test_no_pins_configured_goes_straight_to_the_menu(tmp_path: Path) -> None:
    base = sim_config(tmp_path)
    makers = [mk.model_dump() | {"pin": None} for mk in base.makers]
    b = Bench(Config(**base.model_dump() | {"makers": makers}))
    b.key(True)
    assert b.screen[0] == "> Reponer"
    b.press("B4", "A1", "B4")
    assert b.last("stock_set")["by"] == sm.NO_PIN_ACTOR


def test_filling_every_slot_takes_at_most_three_presses_each(example: Config,
                                                            bench: Bench) -> None:
    counts = []
    for slot in example.slots:
        before = bench.presses
        if bench.menu.screen != sm.PICK:
            bench.press(bench.settings.ok)  # "Reponer" is the first item
        bench.press(slot.id)
        bench.press(bench.settings.ok)  # the count offered is the capacity
        counts.append(bench.presses - before)
        assert bench.machine.slots[slot.id].stock == slot.capacity
    assert max(counts) <= 3, counts
    assert counts == [3] + [2] * (len(example.slots) - 1)
    assert all(f["by"] == "rosa" for k, f in bench.facts if k == "stock_set")


def test_add_a_count_and_a_restock_over_capacity_is_refused(bench: Bench) -> None:
    bench.press("B4", "A4", "B4")  # A4 full: 4 of 4
    bench.press("A4")
    assert bench.screen[0] == "A4 4>4 de 4"
    bench.press("A2")  # one more than fits
    assert bench.screen == ["A4 caben 4", "No más"]
    assert bench.menu.value == 4
    bench.press("A1", "A1", "A1")  # three sold meanwhile, say: set 1
    assert bench.screen[0] == "A4 4>1 de 4"
    bench.press("B4")
    assert bench.last("stock_set") | {} == {"slot": "A4", "before": 4, "after": 1,
                                            "reason": "adjust", "by": "rosa"}
    # The machine has the last word: a stale count beyond capacity is refused with a message.
    bench.press("A4")
    bench.menu = replace(bench.menu, value=9)
    bench.press("B4")
    assert bench.screen == ["No aceptado", "A4"]
    assert bench.machine.slots["A4"].stock == 1


def test_price_moves_in_configured_steps(bench: Bench) -> None:
    bench.press("A2", "B4")  # Precio
    assert bench.screen[0] == "Precio:"
    bench.press("A1")
    assert bench.screen == ["A1 $3.50>$3.50", "A1- A2+ B4=OK"]
    bench.press("A2", "A2", "A1", "A2")
    assert bench.screen[0] == "A1 $3.50>$4.00"
    bench.press("A4")  # a whole dollar
    assert bench.screen[0] == "A1 $3.50>$5.00"
    bench.press("B4")
    assert bench.last("price_set") == {"slot": "A1", "price": 500, "before": 350,
                                       "by": "rosa"}
    assert bench.screen == ["A1 $5.00", "Precio guardado"]
    bench.press("B3")  # B3 costs $1.00: not below one step
    for _ in range(4):
        bench.press("A1")
    assert bench.screen == ["Precio entre", "$0.25 y $20.00"]


def test_sales_today_and_since_collection_per_maker(bench: Bench) -> None:
    bench.sales = (sm.MakerSales("Rosa", 1050, 2400, 3, 7),
                   sm.MakerSales("Carmen", 800, 800, 1, 1))
    bench.machine_event(Started())  # any machine step refreshes the menu's view
    bench.press("A2", "A2", "B4")
    assert bench.screen == ["Rosa hoy $10.50", "Desde rec $24.00"]
    bench.press("A2")
    assert bench.screen == ["Carmen hoy $8.00", "Desde rec $8.00"]
    bench.cancel()
    assert bench.screen[0] == "> Ventas"


def test_collect_cash_journals_the_count_and_the_difference(example: Config) -> None:
    b = Bench(example)
    for _ in range(12):
        b.machine_event(CreditInserted("coin", 100))
    b.machine = replace(b.machine, credit=0)  # sold meanwhile; the box holds $12.00
    b.key(True)
    b.type_pin("4680")
    b.press("A2", "A2", "A2", "B4")
    assert b.screen == ["Caja $12.00", "Contado $12.00"]
    b.press("A1", "A1", "A3")  # 10 cents and a dollar short
    assert b.screen[1] == "Contado $10.90"
    b.press("B4")
    assert b.last("cash_collected") == {"expected": 1200, "counted": 1090,
                                        "difference": -110, "by": "maria"}
    assert b.screen == ["Recaudado $10.90", "Diferencia -$1.10"]
    assert b.machine.cash_box == 0


def test_test_motor_is_a_test_turn_not_a_sale(bench: Bench) -> None:
    bench.press("B4", "A1", "B4")  # A1 full
    bench.cancel()
    for _ in range(4):
        bench.press("A2")
    assert bench.screen[0] == "> Probar motor"
    bench.press("B4", "A1")
    assert bench.screen == ["Probando A1", "Espere..."]
    vend = bench.vends[-1]
    bench.machine_event(VendFinished(vend.vend_id, "A1", VendOutcome.DELIVERED))
    assert bench.screen == ["A1 probado", "Funciona bien"]
    assert bench.last("test_vend")["by"] == "rosa"
    assert not [k for k, _ in bench.facts if k == "sale"]
    bench.press("A1")
    vend = bench.vends[-1]
    bench.machine_event(VendFinished(vend.vend_id, "A1", VendOutcome.JAMMED))
    assert bench.screen == ["A1 probado", "atascada"]


def test_status_shows_links_and_faults_and_clears_a_slot_fault(bench: Bench) -> None:
    bench.machine = replace(bench.machine, faults=frozenset({"coin_acceptor"}))
    bench.machine_event(Started())
    bench.machine = replace(bench.machine, slots=bench.machine.slots | {
        "B2": replace(bench.machine.slots["B2"], fault="jammed")})
    bench.machine_event(Started())
    bench.press("A1", "A1", "B4")  # Estado: backwards past Salir
    assert bench.screen == ["Red bien", "MQTT caída"]
    bench.press("A2")
    assert bench.screen[0] == "Falla coin_acceptor"
    bench.press("A2")
    assert bench.screen == ["B2 atascada", "B4=borrar falla"]
    bench.press("B4")
    assert bench.last("slot_fault_cleared") == {"slot": "B2", "fault": "jammed",
                                                "by": "rosa"}
    assert bench.screen == ["B2 reparada", "Falla borrada"]
    assert bench.machine.slots["B2"].fault is None


def test_leaving_the_menu_returns_to_sale(bench: Bench) -> None:
    bench.press("A1", "B4")  # Salir
    assert bench.machine.mode is m.Mode.IDLE and not bench.menu.active
    assert bench.facts[-1] == ("service_key", {"on": False})
    bench.key(False)
    bench.key(True)
    bench.type_pin("1357")
    bench.cancel()  # back at the top leaves too
    assert bench.machine.mode is m.Mode.IDLE


def test_no_press_for_the_timeout_returns_to_sale(bench: Bench) -> None:
    bench.press("B4")
    assert sm.IDLE in bench.timers
    token = bench.timers[sm.IDLE]
    bench.press("A1")  # each press restarts the timer: the old one is stale
    bench.menu_event(TimerExpired(sm.IDLE, token))
    assert bench.menu.active
    bench.expire(sm.IDLE)
    assert not bench.menu.active
    assert bench.machine.mode is m.Mode.IDLE


def test_key_turned_back_leaves_at_once(bench: Bench) -> None:
    bench.press("B4", "A1")
    bench.key(False)
    assert not bench.menu.active and bench.machine.mode is m.Mode.IDLE
    assert sm.IDLE not in bench.timers
    bench.press("A1")  # now a buyer's press again
    assert bench.facts[-1][0] == "service_key"


def test_english_menu(example: Config) -> None:
    b = Bench(example, language="en")
    b.key(True)
    b.type_pin("1357")
    b.press("B4", "A1")
    assert b.screen == ["A1 0>8 of 8", "A1- A2+ B4=OK"]


# --- end to end on the daemon ---------------------------------------------------------------


@pytest.fixture
def running(tmp_path: Path):
    d = Daemon(sim_config(tmp_path))
    d.start()
    d.wait_ready()
    yield d
    d.stop()


def test_daemon_restock_through_the_buttons_is_journaled_with_the_maker(running: Daemon,
                                                                         ) -> None:
    buttons, display = running.devices.inputs[0], running.devices.display
    ctl = running.controller
    assert ctl is not None
    buttons.service_key(True)
    wait_for(lambda: display.lines == ["PIN 0", "A1- A2+ B4=OK"], what="the PIN screen")
    for digit in "3579":  # Lucía
        for _ in range(int(digit)):
            buttons.press("A2")
        buttons.press("B4")
    wait_for(lambda: display.lines[0] == "Lucía: Reponer", what="signed in")
    buttons.press("B4")
    buttons.press("B3")
    buttons.press("B4")
    wait_for(lambda: ctl.state.slots["B3"].stock == 12, what="B3 restocked")
    row = ctl.ledger.db.conn.execute(
        "SELECT fields FROM journal WHERE kind = 'stock_set' ORDER BY seq DESC").fetchone()
    assert '"by":"lucia"' in row[0]
    buttons.service_key(False)
    wait_for(lambda: display.lines == ["Bienvenida/o", "Inserte monedas"], what="sale")
    buttons.press("B3")  # a buyer again: the machine answers with the price
    wait_for(lambda: display.lines == ["B3 cuesta", "$1.00"], what="the price")


def test_daemon_sales_figures_come_from_the_ledger(running: Daemon) -> None:
    ctl = running.controller
    assert ctl is not None
    from support import restock_all

    restock_all(running)
    acceptor = running.devices.acceptors[0]
    for _ in range(4):
        acceptor.insert(100)
    running.devices.inputs[0].press("A1")
    wait_for(lambda: ctl.state.slots["A1"].stock == 7, what="a sale")
    names = {mk.id: mk.name.split()[0] for mk in running.config.makers}
    from vendd.ledger.ledger import open_readonly

    db = open_readonly(running.config.ledger.path)
    try:
        figures = {f.maker: f for f in sales_by_maker(db.conn, ctl.ledger.tz, names)}
    finally:
        db.close()
    assert figures["Rosa"].today == 350 and figures["Rosa"].since == 350
    assert figures["Carmen"].today == 0
    # After a collection "since" starts again; "today" does not.
    assert ctl.submit(CollectCash("rosa", 400)).result(5).ok
    db = open_readonly(running.config.ledger.path)
    try:
        figures = {f.maker: f for f in sales_by_maker(db.conn, ctl.ledger.tz, names)}
    finally:
        db.close()
    assert figures["Rosa"].today == 350 and figures["Rosa"].since == 0


def test_service_section_is_optional_and_checked(tmp_path: Path) -> None:
    assert sim_config(tmp_path).service.pin_tries == 3
    cfg = sim_config(tmp_path, service={"timeout_s": 20, "pin_tries": 5, "price_step": 10})
    settings = sm.MenuSettings.from_config(cfg)
    assert (settings.timeout_s, settings.pin_tries, settings.price_step) == (20, 5, 10)
    assert settings.cash_step == 5  # the smallest coin
    with pytest.raises(ValueError, match="pin_tries"):
        sim_config(tmp_path, service={"pin_tries": 0})
