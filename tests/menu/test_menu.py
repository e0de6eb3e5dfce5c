"""The service menu, pure: driven with events beside the pure vend machine (see menu_bench.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from menu_bench import Bench
from support import EXAMPLE_CONFIG, sim_config

from vendd import machine as m
from vendd import menu as sm
from vendd.config import Config, load_config
from vendd.events import CreditInserted, Started, TimerExpired, VendFinished, VendOutcome
from vendd.menu.keys import key_table


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
    assert b.screen == ["PIN ", "y Devolución=OK"]
    b.type_pin("2468")  # Carmen: A2 A4 B2 B4, then OK
    assert b.presses == 5
    assert b.menu.actor == "carmen"
    assert b.screen == ["Hola Carmen", "> Reponer"]
    assert b.last("signed_in") == {"by": "carmen"}
    b.press("B4", "A3", "B4")
    assert b.last("stock_set") == {"slot": "A3", "before": 0, "after": 10,
                                   "reason": "restock", "by": "carmen"}


def test_eight_buttons_type_ten_digits_like_a_telephone_keypad(example: Config) -> None:
    b = Bench(example)
    b.key(True)
    b.press("A3", "B1", "B3", "A1")  # 3 5 7 9: A1 types 1 or 9
    assert b.screen[0] == "PIN ****"
    b.cancel()
    assert b.menu.actor == "lucia"
    b.key(False)
    b.key(True)
    b.press("A4", "B2", "B4", "A2")  # 4 6 8 0: A2 types 2 or 0
    b.cancel()
    assert b.menu.actor == "maria"


def test_ten_buttons_are_the_digits_1_to_0(example: Config) -> None:
    b = Bench(example, keys=("K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", "K9", "K0"))
    b.key(True)
    b.press("K4", "K6", "K8", "K0")
    b.cancel()
    assert b.menu.actor == "maria"


def test_coin_return_is_ok_and_nothing_typed_is_no_try(example: Config) -> None:
    b = Bench(example)
    b.key(True)
    b.cancel()  # nothing typed: nothing happens, nothing counted
    assert b.menu.tries == 0 and "pin_failed" not in b.kinds()
    b.press("A1")
    b.cancel()  # one digit and OK: a wrong PIN like any other
    assert b.screen == ["PIN incorrecto", "Quedan 2"]
    assert b.last("pin_failed") == {"tries": 1, "of": 3}


def test_every_wrong_entry_counts_whatever_its_length_and_the_lock_grows(
        example: Config) -> None:
    b = Bench(example, pin_tries=3, lock_s=300.0)
    b.key(True)
    b.type_pin("12345")
    b.type_pin("1234567")
    assert b.menu.tries == 2
    b.press(*["A2"] * 8)  # eight digits: no PIN is longer, so the entry ends by itself
    assert b.menu.screen == sm.LOCKED
    assert b.screen == ["Menú bloqueado", "Espere 5 min"]
    assert [f["tries"] for k, f in b.facts if k == "pin_failed"] == [1, 2, 3]
    assert b.last("pin_locked") == {"seconds": 300, "lockouts": 1}
    b.type_pin("1357")  # ignored while locked, and not counted
    assert b.menu.actor == "" and b.kinds().count("pin_failed") == 3
    b.key(False)
    b.key(True)  # turning the key again does not unlock it
    assert b.menu.screen == sm.LOCKED
    b.expire(sm.LOCK)
    assert b.screen[0] == "PIN "
    for _ in range(3):
        b.type_pin("9999")
    assert b.last("pin_locked") == {"seconds": 600, "lockouts": 2}  # twice as long
    assert b.screen == ["Menú bloqueado", "Espere 10 min"]
    b.expire(sm.LOCK)
    b.type_pin("1357")
    assert b.menu.actor == "rosa" and b.menu.lockouts == 0  # a sign-in starts again


def test_no_fact_holds_a_pin(bench: Bench) -> None:
    bench.key(False)
    bench.key(True)
    bench.type_pin("2469")
    text = repr(bench.facts)
    assert "1357" not in text and "2469" not in text
    assert {"signed_in", "pin_failed", "signed_out"} <= set(bench.kinds())


def test_a_restart_gives_the_menu_the_journal_s_lock(example: Config) -> None:
    b = Bench(example, lock_s=300.0)
    b.menu_event(sm.PinRecord(tries=0, lockouts=2, locked_s=120.0))
    assert b.timer_s[sm.LOCK] == 120.0
    b.key(True)
    assert b.screen == ["Menú bloqueado", "Espere 2 min"]
    b.expire(sm.LOCK)
    for _ in range(3):
        b.type_pin("9999")
    assert b.last("pin_locked") == {"seconds": 1200, "lockouts": 3}


def test_no_pins_configured_goes_straight_to_the_menu(tmp_path: Path) -> None:
    base = sim_config(tmp_path)
    makers = [mk.model_dump() | {"pin": None} for mk in base.makers]
    b = Bench(Config(**base.model_dump() | {"makers": makers}))
    b.key(True)
    assert b.screen[0] == "> Reponer"
    b.press("B4", "A1", "B4")
    assert b.last("stock_set")["by"] == sm.NO_PIN_ACTOR
    assert "signed_in" not in b.kinds()


# --- leaving: the machine sells only with the key off -----------------------------------------


def test_salir_with_the_key_on_says_what_to_do_and_keeps_payment_off(bench: Bench) -> None:
    bench.press("A1", "B4")  # Salir
    assert bench.screen == ["Cierre la puerta", "y gire la llave"]
    assert bench.machine.mode is m.Mode.SERVICE and not bench.machine.accepting
    assert bench.last("signed_out") == {"by": "rosa", "reason": "exit"}
    assert ("service_key", {"on": False}) not in bench.facts
    bench.press("A1")  # still the menu's button, not a buyer's
    assert bench.screen == ["PIN ", "y Devolución=OK"]  # she came back: sign in again
    bench.type_pin("1357")
    bench.cancel()  # back at the top leaves too
    assert bench.screen[0] == "Cierre la puerta" and bench.machine.mode is m.Mode.SERVICE
    bench.key(False)  # now it sells
    assert bench.facts[-1] == ("service_key", {"on": False})
    assert bench.machine.mode is m.Mode.IDLE and bench.machine.accepting


def test_no_press_for_the_timeout_signs_her_out_with_the_key_still_on(bench: Bench) -> None:
    bench.press("B4")
    token = bench.timers[sm.IDLE]
    bench.press("A1")  # each press restarts the timer: the old one is stale
    bench.menu_event(TimerExpired(sm.IDLE, token))
    assert bench.menu.actor == "rosa"
    bench.expire(sm.IDLE)
    assert bench.last("signed_out") == {"by": "rosa", "reason": "timeout"}
    assert bench.screen == ["Cierre la puerta", "y gire la llave"]
    assert bench.machine.mode is m.Mode.SERVICE and not bench.machine.accepting


def test_key_turned_back_leaves_at_once_and_signs_her_out(bench: Bench) -> None:
    bench.press("B4", "A1")
    bench.key(False)
    assert not bench.menu.active and bench.machine.mode is m.Mode.IDLE
    assert bench.last("signed_out") == {"by": "rosa", "reason": "key_off"}
    assert sm.IDLE not in bench.timers
    bench.press("A1")  # now a buyer's press again
    assert bench.screen[0] == "Cierre la puerta" or bench.machine.mode is m.Mode.IDLE


# --- restock, price -------------------------------------------------------------------------


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
    assert counts == [3] + [2] * (len(example.slots) - 1)
    assert all(f["by"] == "rosa" for k, f in bench.facts if k == "stock_set")


def test_add_a_count_and_a_restock_over_capacity_is_refused(bench: Bench) -> None:
    bench.press("B4", "A4", "B4")  # A4 full: 4 of 4
    bench.press("A4")
    assert bench.screen[0] == "A4 4>4 de 4"
    bench.press("A2")  # one more than fits
    assert bench.screen == ["A4 caben 4", "No más"]
    bench.press("A1", "A1", "A1")  # three sold meanwhile, say: set 1
    bench.press("B4")
    assert bench.last("stock_set") == {"slot": "A4", "before": 4, "after": 1,
                                       "reason": "adjust", "by": "rosa"}
    bench.press("A4")
    bench.menu = replace(bench.menu, value=9)  # the machine has the last word
    bench.press("B4")
    assert bench.screen == ["No aceptado", "A4"]
    assert bench.machine.slots["A4"].stock == 1


def test_price_moves_in_configured_steps(bench: Bench) -> None:
    bench.press("A2", "B4")  # Precio
    assert bench.screen[0] == "Precio:"
    bench.press("A1")
    assert bench.screen == ["A1: $3.50", "A1- A2+ B4=OK"]
    bench.press("A2", "A2", "A1", "A2")
    assert bench.screen[0] == "A1: $4.00"
    bench.press("A4")  # a whole dollar
    assert bench.screen[0] == "A1: $5.00"
    bench.press("B4")
    assert bench.last("price_set") == {"slot": "A1", "price": 500, "before": 350,
                                       "by": "rosa"}
    assert bench.screen == ["A1 $5.00", "Precio guardado"]
    bench.press("B3")  # B3 costs $1.00: not below one step
    for _ in range(4):
        bench.press("A1")
    assert bench.screen == ["Precio entre", "$0.25 y $20.00"]


def test_back_at_the_main_menu_the_cursor_moves_on_in_the_order_of_a_visit(
        bench: Bench) -> None:
    bench.press("B4", "A1", "B4")  # restock A1
    bench.cancel()
    assert bench.screen[0] == "> Precio"
    bench.cancel()  # and from the top, back leaves
    assert bench.screen[0] == "Cierre la puerta"


# --- her money --------------------------------------------------------------------------------


def test_ventas_shows_her_own_sales_and_her_share(bench: Bench) -> None:
    bench.sales = (sm.MakerSales("carmen", 800, 4000, 2800),
                   sm.MakerSales("rosa", 1050, 24000, 16800, 3, 70))
    bench.machine_event(Started())  # any machine step refreshes the menu's view
    bench.press("A2", "A2", "B4")
    assert bench.screen == ["Hoy $10.50", "Mes $240.00"]
    bench.press("A2")
    assert bench.screen == ["Su parte del mes", "$168.00"]
    bench.press("A2")
    assert bench.screen[0] == "Hoy $10.50"  # her pages only: no one else's
    bench.cancel()
    assert bench.screen[0] == "> Recaudar"


def test_recaudar_starts_blank_and_confirms_counted_against_expected(example: Config) -> None:
    b = Bench(example)
    for _ in range(12):
        b.machine_event(CreditInserted("coin", 100))
    b.machine = replace(b.machine, credit=0)  # sold meanwhile; the box holds $12.00
    b.key(True)
    b.type_pin("4680")
    b.press("A2", "A2", "A2", "B4")
    assert b.screen == ["Contado $0.00", "A1- A2+ B4=OK"]
    for _ in range(11):
        b.press("A4")  # a dollar a press
    b.press("A1", "A1")  # five cents a press
    assert b.screen[0] == "Contado $10.90"
    b.press("B4")
    assert b.screen == ["$10.90 de $12.00", "¿Bien? B4=sí"]
    assert "cash_collected" not in b.kinds()  # nothing saved before she confirms
    b.cancel()  # count again
    assert b.screen[0] == "Contado $10.90"
    b.press("B4", "B4")
    assert b.last("cash_collected") == {"expected": 1200, "counted": 1090,
                                        "difference": -110, "by": "maria"}
    assert b.screen == ["Recaudado $10.90", "Faltan $1.10"]
    assert b.machine.cash_box == 0


# --- faults where she looks -------------------------------------------------------------------


def jam(b: Bench, slot: str) -> None:
    b.machine = replace(b.machine, slots=b.machine.slots | {
        slot: replace(b.machine.slots[slot], fault="jammed")})
    b.machine_event(Started())


def test_a_good_test_turn_on_a_faulted_slot_clears_its_fault(bench: Bench) -> None:
    bench.press("B4", "A1", "B4")  # A1 full
    jam(bench, "A1")
    bench.cancel()
    bench.press("A2", "A2", "A2")  # from Precio on to Probar motor
    assert bench.screen[0] == "> Probar motor"
    bench.press("B4", "A1")
    vend = bench.vends[-1]
    bench.machine_event(VendFinished(vend.vend_id, "A1", VendOutcome.JAMMED))
    assert bench.screen == ["A1 probada", "atascada"]
    assert "slot_fault_cleared" not in bench.kinds()
    bench.press("A1")
    vend = bench.vends[-1]
    bench.machine_event(VendFinished(vend.vend_id, "A1", VendOutcome.DELIVERED))
    assert bench.last("slot_fault_cleared") == {"slot": "A1", "fault": "jammed", "by": "rosa"}
    assert bench.screen == ["A1 funciona", "Falla borrada"]
    assert bench.machine.slots["A1"].fault is None
    assert bench.last("test_vend")["by"] == "rosa"
    assert "sale" not in bench.kinds()


def test_restocking_a_faulted_slot_asks_whether_the_fault_is_fixed(bench: Bench) -> None:
    jam(bench, "B2")
    bench.press("B4", "B2", "B4")
    assert bench.screen == ["¿B2 arreglada?", "B4=sí A1=no"]
    bench.press("A1")  # not yet
    assert bench.machine.slots["B2"].fault == "jammed" and bench.menu.screen == sm.PICK
    bench.press("B2", "B4")
    bench.press("B4")  # yes
    assert bench.last("slot_fault_cleared") == {"slot": "B2", "fault": "jammed", "by": "rosa"}
    assert bench.screen == ["B2 reparada", "Falla borrada"]
    assert bench.machine.slots["B2"].fault is None


def test_estado_lists_faults_first_then_the_links_in_plain_words(bench: Bench) -> None:
    bench.machine = replace(bench.machine, faults=frozenset({"coin_acceptor"}))
    jam(bench, "B2")
    bench.press("A1", "A1", "B4")  # Estado: backwards past Salir
    assert bench.screen == ["B2 atascada", "B4=borrar falla"]
    bench.press("A2")
    assert bench.screen[0] == "Falla monedero"
    bench.press("A2")
    assert bench.screen == ["Red: bien", "Sin conexión"]
    bench.press("A2", "B4")
    assert bench.last("slot_fault_cleared") == {"slot": "B2", "fault": "jammed", "by": "rosa"}
    assert bench.screen == ["B2 reparada", "Falla borrada"]


def test_english_menu(example: Config) -> None:
    b = Bench(example, language="en")
    b.key(True)
    assert b.screen == ["PIN ", "then Return=OK"]
    b.type_pin("1357")
    b.press("B4", "A1")
    assert b.screen == ["A1 0>8 of 8", "A1- A2+ B4=OK"]


def test_the_key_table_refuses_a_screen_named_twice() -> None:
    with pytest.raises(ValueError, match="two key handlers for the 'pin' screen"):
        key_table([("pin", lambda m, k: None), ("pin", lambda m, k: None)])
    assert set(sm.KEYS) == {sm.PIN, sm.LOCKED, sm.CLOSE, sm.MAIN, sm.PICK, sm.STOCK, sm.FIXED,
                            sm.PRICE, sm.TESTING, sm.SALES, sm.COLLECT, sm.CONFIRM, sm.STATUS}


def test_a_visit_takes_no_more_presses_than_before(example: Config) -> None:
    """The panel session of a visit, press by press (the counts of the menu before the PIN
    pad, the visit order and the confirmation, in the comments): none takes more."""
    b = Bench(example)
    b.key(True)

    def task(*keys: str) -> int:
        before = b.presses
        for k in keys:
            b.cancel() if k == "x" else b.press(k)
        return b.presses - before

    assert task("A1", "A3", "B1", "B3", "x") == 5  # PIN 1357 (20 before)
    assert b.menu.actor == "rosa"
    assert task("B4", "A1", "B4", "A2", "B4") == 5  # restock A1 and A2 (5)
    assert b.machine.slots["A2"].stock == 5
    assert task("x", "B4", "A1", "A2", "B4") == 5  # A1's price up a step (6)
    assert b.last("price_set")["price"] == 375
    assert task("x", "B4", "A2") == 3  # Ventas, both pages (3, one page)
    assert b.screen[0] == "Su parte del mes"
    assert task("B4", "B4", "B4", "B4") == 4  # Recaudar an empty box, confirmed (4)
    assert b.last("cash_collected")["by"] == "rosa"
    jam(b, "A1")
    assert task("A2", "B4", "B4") == 3  # the jam, on Estado's first page (5)
    assert b.machine.slots["A1"].fault is None
    assert task("x", "x") == 2  # Salir from Estado (2)
    assert b.screen[0] == "Cierre la puerta"
