"""The drop is the sale, in the pure machine: the fall journals the sale while the motor still
turns, the motor's end is only a stock and fault fact, and a restart resolves an open vend by
whether its drop was journaled (daemon/recovery.py)."""

from __future__ import annotations

from typing import Any

from vendd import events as ev
from vendd.commands import CardSessionComplete, CardVendResult, Fact, PayOut
from vendd.daemon.recovery import resolve_open_vend
from vendd.ledger.ledger import OpenVend
from vendd.machine import Mode, Settings, Slot, State, Step, handle

Outcome = ev.VendOutcome


def machine(changer: bool = False, devices: tuple[str, ...] = ("coins",)) -> State:
    settings = Settings(max_credit=500, has_changer=changer, payment_devices=frozenset(devices))
    slots = {"A1": Slot("A1", "Monedero", "rosa", 125, capacity=5, stock=3),
             "B1": Slot("B1", "Mochila", "ana", 250, capacity=4, stock=4, count_me=True)}
    return handle(State(settings=settings, slots=slots), ev.Started()).state


def feed(state: State, *events: ev.Event) -> Step:
    for event in events:
        step = handle(state, event)
        state = step.state
    return step


def facts(step: Step) -> list[tuple[str, dict[str, Any]]]:
    return [(f.kind, f.fields) for f in step.facts]


def coin(amount: int) -> ev.CreditInserted:
    return ev.CreditInserted("coins", amount)


def test_the_fall_is_the_sale_and_the_motor_end_moves_no_money() -> None:
    vending = feed(machine(changer=True), coin(100), coin(50), ev.SelectionPressed("A1")).state
    dropped = handle(vending, ev.ProductDropped(1, "A1", turn=1))
    assert facts(dropped) == [("sale", {"vend": 1, "slot": "A1", "product": "Monedero",
                                        "maker": "rosa", "price": 125, "payment": "cash",
                                        "turns": 1, "drop": True})]
    s = dropped.state
    assert s.slots["A1"].stock == 2 and s.credit == 25
    assert s.vend is not None and s.vend.dropped and s.mode is Mode.VENDING  # motor turning
    assert not any(isinstance(c, PayOut) for c in dropped.commands)  # change once it is home
    done = handle(s, ev.VendFinished(1, "A1", Outcome.DELIVERED))
    assert facts(done) == [("vend_done", {"vend": 1, "slot": "A1", "outcome": "delivered",
                                          "turns": 1})]
    assert PayOut(25) in done.commands
    assert done.state.slots["A1"].stock == 2 and done.state.slots["A1"].fault is None


def test_a_jam_after_the_fall_faults_the_slot_but_the_sale_stands() -> None:
    vending = feed(machine(), coin(100), coin(25), ev.SelectionPressed("A1"),
                   ev.ProductDropped(1, "A1")).state
    done = handle(vending, ev.VendFinished(1, "A1", Outcome.JAMMED))
    assert facts(done) == [("vend_done", {"vend": 1, "slot": "A1", "outcome": "jammed",
                                          "turns": 1})]
    assert done.state.credit == 0  # no credit back: the product fell
    assert done.state.slots["A1"].fault == "jammed" and done.state.slots["A1"].stock == 2


def test_without_a_fall_the_finished_turn_is_the_sale() -> None:
    """No drop sensor: nothing reports a fall; the delivered turn closes the vend as a sale."""
    step = feed(machine(), coin(100), coin(25), ev.SelectionPressed("A1"),
                ev.VendFinished(1, "A1", Outcome.DELIVERED))
    (kind, fields), = facts(step)
    assert kind == "sale" and "drop" not in fields
    assert step.state.vend is None and step.state.slots["A1"].stock == 2


def test_a_card_is_charged_at_the_fall() -> None:
    state = feed(machine(devices=("coins", "card")), ev.CardSessionBegun("card", 5000),
                 ev.SelectionPressed("A1"), ev.CardVendApproved("card", 125)).state
    dropped = handle(state, ev.ProductDropped(1, "A1"))
    assert CardVendResult("A1", True) in dropped.commands
    done = handle(dropped.state, ev.VendFinished(1, "A1", Outcome.DELIVERED))
    assert not any(isinstance(c, CardVendResult) for c in done.commands)  # charged once
    assert CardSessionComplete() in done.commands


def test_a_second_fall_is_stock_that_left_unpaid() -> None:
    vending = feed(machine(), coin(100), coin(25), ev.SelectionPressed("A1"),
                   ev.ProductDropped(1, "A1")).state
    again = handle(vending, ev.ProductDropped(1, "A1"))
    assert facts(again) == [("extra_drop", {"vend": 1, "slot": "A1"})]
    assert again.state.slots["A1"].stock == 1


def test_a_test_turn_counts_its_fall_once() -> None:
    state = feed(machine(), ev.ServiceKey(True), ev.TestVend("rosa", "A1")).state
    dropped = handle(state, ev.ProductDropped(1, "A1"))
    assert facts(dropped) == [("test_drop", {"vend": 1, "slot": "A1", "by": "rosa"})]
    done = handle(dropped.state, ev.VendFinished(1, "A1", Outcome.DELIVERED))
    assert [k for k, _ in facts(done)] == ["test_vend"]
    assert done.state.slots["A1"].stock == 2  # one product out, counted at the fall


def test_a_restock_of_a_slot_waiting_for_a_count_is_a_count() -> None:
    step = handle(machine(), ev.SetStock("ana", "B1", 3))
    assert facts(step) == [("stock_set", {"slot": "B1", "before": 4, "after": 3,
                                          "reason": "count", "by": "ana"})]
    assert not step.state.slots["B1"].count_me
    plain = handle(step.state, ev.SetStock("ana", "B1", 4))
    assert facts(plain)[0][1]["reason"] == "restock"


def test_restart_resolves_an_open_vend_by_its_drop() -> None:
    sold = resolve_open_vend(OpenVend(7, "A1", 125, "cash", dropped=True), has_drop_sensor=True)
    assert [f.kind for f in sold] == ["vend_done", "device_fault"]
    assert sold[0] == Fact("vend_done", {"vend": 7, "slot": "A1", "outcome": "interrupted",
                                         "turns": 0})
    back = resolve_open_vend(OpenVend(7, "A1", 125, "cash"), has_drop_sensor=True)
    assert back[0] == Fact("vend_failed", {"vend": 7, "slot": "A1", "outcome": "interrupted",
                                           "price": 125, "payment": "cash"})
    assert "count_needed" not in [f.kind for f in back]
    test = resolve_open_vend(OpenVend(7, "A1", 0, "test", dropped=True), has_drop_sensor=True)
    assert test[0] == Fact("test_vend", {"vend": 7, "slot": "A1", "outcome": "interrupted",
                                         "turns": 0})
    blind = resolve_open_vend(OpenVend(7, "A1", 125, "cash"), has_drop_sensor=False)
    assert [f.kind for f in blind] == ["vend_failed", "device_fault", "count_needed"]
    assert blind[-1].fields == {"slot": "A1", "vend": 7}
