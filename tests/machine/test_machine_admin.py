"""The vend state machine, driven purely: changes made by people (prices, stock, slots, service,
cash, test turns). Every assertion is on what a buyer, a seamstress or the journal would see; no
threads, no sleeping."""

from __future__ import annotations

import pytest
from machine_steps import (
    Outcome,
    coin,
    fact,
    feed,
    finish,
    kinds,
    of,
    open_,
    press,
    shown,
)

from vendd import events as ev
from vendd.commands import (
    CancelTimer,
    Fact,
    SetAccepting,
    Show,
    StartVend,
)
from vendd.machine import Mode, Reply, handle

# --- changes by people ---------------------------------------------------------------------------


def test_set_price() -> None:
    step = handle(open_(), ev.SetPrice("rosa", "A1", 150))
    assert step.commands == [
        Fact("price_set", {"slot": "A1", "price": 150, "before": 125, "by": "rosa"}),
        Reply(True),
    ]
    assert step.state.slots["A1"].price == 150
    assert handle(step.state, press("A1")).commands[0] == Show("price", {"slot": "A1",
                                                                          "price": "$1.50"})


@pytest.mark.parametrize("event", [
    ev.SetPrice("rosa", "Z9", 100),
    ev.SetStock("rosa", "Z9", 1),
    ev.SetSlotEnabled("rosa", "Z9", False),
    ev.ClearSlotFault("rosa", "Z9"),
    ev.TestVend("rosa", "Z9"),
])
def test_changes_to_an_unknown_slot_are_refused(event: ev.AdminEvent) -> None:
    state = feed(open_(), ev.ServiceKey(True)).state
    step = handle(state, event)
    assert step.commands == [Reply(False, "unknown slot 'Z9'")] and step.state == state


@pytest.mark.parametrize("price", [0, -5, 500 + 1])
def test_price_out_of_range_is_refused(price: int) -> None:
    state = open_()
    step = handle(state, ev.SetPrice("rosa", "A1", price))
    assert step.commands == [Reply(False, f"price {price} out of range 1..500")]
    assert step.state == state


def test_set_stock_restock() -> None:
    step = handle(open_(), ev.SetStock("ana", "A2", 4))
    assert step.commands == [
        Fact("stock_set", {"slot": "A2", "before": 0, "after": 4, "reason": "restock",
                           "by": "ana"}),
        Reply(True),
    ]
    assert step.state.slots["A2"].stock == 4
    assert of(feed(step.state, coin(300), press("A2")), StartVend) == [StartVend(1, "A2")]


@pytest.mark.parametrize("stock", [-1, 5])
def test_stock_out_of_range_is_refused(stock: int) -> None:
    state = open_()
    step = handle(state, ev.SetStock("ana", "A2", stock))
    assert step.commands == [Reply(False, f"stock {stock} out of range 0..4 for A2")]
    assert step.state == state


def test_stock_of_the_slot_that_is_vending_cannot_change_but_other_slots_can() -> None:
    state = feed(open_(), coin(125), press("A1")).state
    step = handle(state, ev.SetStock("rosa", "A1", 5, reason="adjust"))
    assert step.commands == [Reply(False, "A1 is vending now")] and step.state == state
    other = handle(state, ev.SetStock("rosa", "B1", 2, reason="adjust"))
    assert kinds(other) == ["stock_set"] and other.commands[-1] == Reply(True)
    assert fact(other, "stock_set")["reason"] == "adjust"


def test_disable_and_enable_a_slot() -> None:
    off = handle(open_(), ev.SetSlotEnabled("rosa", "A1", False))
    assert off.commands == [Fact("slot_enabled", {"slot": "A1", "enabled": False, "by": "rosa"}),
                            Reply(True)]
    assert shown(handle(off.state, press("A1"))) == ["slot_unavailable"]
    same = handle(off.state, ev.SetSlotEnabled("rosa", "A1", False))
    assert same.commands == [Reply(True)]  # nothing changed, nothing journaled
    on = handle(off.state, ev.SetSlotEnabled("rosa", "A1", True))
    assert kinds(on) == ["slot_enabled"] and on.state.slots["A1"].enabled


def test_clear_slot_fault_after_a_failed_vend_makes_it_sellable_again() -> None:
    state = finish(feed(open_(), coin(125), press("A1")), Outcome.JAMMED).state
    step = handle(state, ev.ClearSlotFault("rosa", "A1"))
    assert step.facts == [
        Fact("slot_fault_cleared", {"slot": "A1", "fault": "jammed", "by": "rosa"})]
    assert Reply(True) in step.commands
    assert step.state.slots["A1"].fault is None
    assert of(handle(step.state, press("A1")), StartVend) == [StartVend(2, "A1")]
    again = handle(step.state, ev.ClearSlotFault("rosa", "A1"))
    assert again.commands == [Reply(True)] and again.state == step.state


def test_set_out_of_service_and_back() -> None:
    step = handle(open_(), ev.SetOutOfService("coordinator", True, "mudanza"))
    assert step.commands == [
        Fact("service_mode", {"out_of_service": True, "reason": "mudanza",
                              "by": "coordinator"}),
        SetAccepting(False),
        Reply(True),
        Show("out_of_service"),
    ]
    assert step.state.out_of_service == "mudanza"
    same = handle(step.state, ev.SetOutOfService("coordinator", True, "other"))
    assert same.commands == [Reply(True)]
    back = handle(step.state, ev.SetOutOfService("coordinator", False))
    assert fact(back, "service_mode") == {"out_of_service": False, "reason": "",
                                          "by": "coordinator"}
    assert back.state.out_of_service is None and back.state.mode is Mode.IDLE
    default = handle(open_(), ev.SetOutOfService("rosa", True))
    assert default.state.out_of_service == "service"
    assert fact(default, "service_mode")["reason"] == "service"
    assert handle(open_(), ev.SetOutOfService("rosa", False)).commands == [Reply(True)]


@pytest.mark.parametrize("counted", [225, 200, 0])
def test_collect_cash_journals_expected_counted_and_difference(counted: int) -> None:
    state = feed(open_(), coin(100), coin(100), coin(25), coin(50, route="tubes")).state
    assert state.cash_box == 225
    step = handle(state, ev.CollectCash("rosa", counted))
    assert step.commands == [
        Fact("cash_collected", {"expected": 225, "counted": counted,
                                "difference": counted - 225, "by": "rosa"}),
        Reply(True),
    ]
    assert step.state.cash_box == 0 and step.state.credit == 275  # credit is untouched


def test_collect_cash_with_a_negative_count_is_refused() -> None:
    state = feed(open_(), coin(100)).state
    step = handle(state, ev.CollectCash("rosa", -1))
    assert step.commands == [Reply(False, "counted amount cannot be negative")]
    assert step.state == state


@pytest.mark.parametrize(("outcome", "stock"), [(Outcome.DELIVERED, 2), (Outcome.JAMMED, 3)])
def test_test_vend_in_service_mode(outcome: Outcome, stock: int) -> None:
    state = feed(open_(), ev.ServiceKey(True)).state
    step = handle(state, ev.TestVend("rosa", "A1"))
    assert step.commands == [
        Fact("vend_intent", {"vend": 1, "slot": "A1", "price": 0, "payment": "test",
                             "product": "Monedero", "maker": "rosa"}),
        CancelTimer("unclaimed"),
        StartVend(1, "A1"),
        Reply(True),
        Show("vending", {"slot": "A1"}),
    ]
    assert step.state.mode is Mode.VENDING
    busy = handle(step.state, ev.TestVend("rosa", "B1"))
    assert busy.commands == [Reply(False, "a test turn needs the service key and no vend "
                                          "under way")]
    done = handle(step.state, ev.VendFinished(1, "A1", outcome, turns=2))
    assert done.commands == [
        Fact("test_vend", {"vend": 1, "slot": "A1", "outcome": outcome.value, "turns": 2,
                           "by": "rosa"}),
        Show("service"),
    ]
    assert kinds(done) == ["test_vend"]  # not a sale, not a failure
    s = done.state
    assert s.slots["A1"].stock == stock and s.slots["A1"].fault is None
    assert s.credit == 0 and s.mode is Mode.SERVICE


def test_test_vend_of_an_empty_slot_never_makes_stock_negative() -> None:
    state = feed(open_(), ev.ServiceKey(True), ev.TestVend("rosa", "A2")).state
    done = handle(state, ev.VendFinished(1, "A2", Outcome.DELIVERED))
    assert done.state.slots["A2"].stock == 0


def test_test_vend_outside_service_mode_is_refused() -> None:
    state = open_()
    step = handle(state, ev.TestVend("rosa", "A1"))
    assert step.commands == [Reply(False, "a test turn needs the service key and no vend "
                                          "under way")]
    assert step.state == state
