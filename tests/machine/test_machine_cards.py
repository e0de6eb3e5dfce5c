"""The vend state machine, driven purely: card sessions, device faults and the service key. Every
assertion is on what a buyer, a seamstress or the journal would see; no threads, no sleeping."""

from __future__ import annotations

import pytest
from machine_steps import (
    CARD,
    COINS,
    WELCOME,
    Outcome,
    card_open,
    coin,
    fact,
    facts_first,
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
    CardSessionComplete,
    CardVendRequest,
    CardVendResult,
    Fact,
    PayOut,
    SetAccepting,
    Show,
    StartTimer,
    StartVend,
)
from vendd.machine import Mode, handle

# --- cards ---------------------------------------------------------------------------------------




def test_card_session_shows_card_ready() -> None:
    step = handle(open_(devices=(COINS, CARD)), ev.CardSessionBegun(CARD, -1))
    assert step.commands == [Show("card_ready")]
    assert step.state.card_device == CARD and step.state.mode is Mode.CREDIT


def test_card_vend_request_approval_and_success() -> None:
    req = handle(card_open(), press("A1"))
    assert req.commands == [CardVendRequest(125, "A1"), Show("card_wait", {"price": "$1.25"}),
                            StartTimer("message", 4.0, 1)]
    assert req.state.card_slot == "A1" and req.facts == []
    approved = handle(req.state, ev.CardVendApproved(CARD, 125))
    assert approved.commands == [
        Fact("card_approved", {"device": CARD, "amount": 125, "slot": "A1"}),
        Fact("vend_intent", {"vend": 1, "slot": "A1", "price": 125, "payment": "card",
                             "product": "Monedero", "maker": "rosa"}),
        SetAccepting(False),
        CancelTimer("unclaimed"),
        StartVend(1, "A1"),
        Show("vending", {"slot": "A1"}),
    ]
    assert approved.state.credit == 0 and approved.state.card_slot is None
    done = finish(approved)
    assert kinds(done) == ["sale"] and fact(done, "sale")["payment"] == "card"
    facts_first(done)
    assert done.commands[1:4] == [SetAccepting(True), CardVendResult("A1", True),
                                  CardSessionComplete()]
    assert done.state.slots["A1"].stock == 2 and done.state.credit == 0
    assert of(done, PayOut) == []


def test_failed_card_vend_is_not_charged_and_gives_no_cash() -> None:
    approved = feed(card_open(changer=True), press("A1"), ev.CardVendApproved(CARD, 125))
    step = finish(approved, Outcome.NO_DROP)
    assert kinds(step) == ["vend_failed"] and fact(step, "vend_failed")["payment"] == "card"
    assert CardVendResult("A1", False) in step.commands
    assert CardSessionComplete() in step.commands
    assert of(step, PayOut) == [] and step.state.credit == 0
    assert step.state.slots["A1"].fault == "no_drop"


def test_card_denied() -> None:
    step = feed(card_open(), press("A1"), ev.CardVendDenied(CARD))
    assert kinds(step) == ["card_denied"] and fact(step, "card_denied") == {"device": CARD,
                                                                            "slot": "A1"}
    assert shown(step) == ["card_denied"] and step.state.card_slot is None
    assert of(step, StartVend) == []


@pytest.mark.parametrize("change", [
    ev.SetStock("rosa", "A1", 0),
    ev.SetSlotEnabled("rosa", "A1", False),
])
def test_card_approved_after_the_slot_became_unsellable_is_not_charged(
        change: ev.AdminEvent) -> None:
    state = feed(card_open(), press("A1"), change).state
    step = handle(state, ev.CardVendApproved(CARD, 125))
    assert step.commands == [CardVendResult("A1", False)]
    assert step.facts == [] and step.state.vend is None and step.state.card_slot is None


def test_card_approved_with_no_request_pending_is_not_charged() -> None:
    step = handle(card_open(), ev.CardVendApproved(CARD, 125))
    assert step.commands == [CardVendResult("", False)] and step.state.vend is None


def test_card_approved_while_a_cash_vend_turns_is_not_charged() -> None:
    state = feed(card_open(), press("A1"), coin(200), press("A1")).state
    assert state.vend is not None and state.vend.payment == "cash"
    step = handle(state, ev.CardVendApproved(CARD, 125))
    assert step.commands == [CardVendResult("A1", False)]
    assert step.state.vend == state.vend


def test_cancel_during_a_card_session_ends_it() -> None:
    step = feed(card_open(), press("A1"), ev.CancelPressed())
    assert step.commands[0] == CardSessionComplete() and step.state.card_slot is None
    assert step.facts == [] and of(step, PayOut) == []


def test_card_session_ended() -> None:
    step = feed(card_open(), press("A1"), ev.CardSessionEnded(CARD))
    assert step.state.card_device is None and step.state.card_slot is None
    assert step.state.mode is Mode.IDLE and step.commands == [WELCOME]


def test_with_credit_a_card_session_does_not_take_over_the_selection() -> None:
    step = feed(card_open(), coin(50), press("A1"))
    assert of(step, CardVendRequest) == [] and shown(step) == ["insert_more"]


# --- devices ---------------------------------------------------------------------------------


def test_blocking_fault_of_the_only_acceptor_puts_the_machine_out_of_service_once() -> None:
    step = handle(open_(), ev.DeviceFault(COINS, "no_reply", "timeout"))
    assert step.commands == [
        Fact("device_fault", {"device": COINS, "code": "no_reply", "detail": "timeout",
                              "blocking": True}),
        SetAccepting(False),
        Show("out_of_service"),
    ]
    assert step.state.mode is Mode.OUT_OF_SERVICE and COINS in step.state.faults
    again = handle(step.state, ev.DeviceFault(COINS, "no_reply", "timeout"))
    assert again.commands == [] and again.state == step.state  # journaled once while down
    back = handle(step.state, ev.DeviceRecovered(COINS))
    assert back.commands == [Fact("device_recovered", {"device": COINS}), SetAccepting(True),
                             WELCOME]
    assert back.state.faults == frozenset() and back.state.mode is Mode.IDLE


def test_recovery_of_a_device_that_was_not_down_is_not_journaled() -> None:
    state = open_()
    assert handle(state, ev.DeviceRecovered(COINS)).commands == []


def test_non_blocking_fault_is_journaled_every_time_and_selling_goes_on() -> None:
    state = open_()
    for _ in range(2):
        step = handle(state, ev.DeviceFault(COINS, "fraud", blocking=False))
        assert kinds(step) == ["device_fault"] and fact(step, "device_fault")["blocking"] is False
        assert step.state.faults == frozenset() and step.state.mode is Mode.IDLE
        state = step.state
    down = feed(state, ev.DeviceFault(COINS, "unplugged")).state
    step = handle(down, ev.DeviceFault(COINS, "fraud", blocking=False))
    assert kinds(step) == ["device_fault"] and step.state.faults == frozenset({COINS})


def test_acceptor_fault_with_credit_keeps_selling_from_the_credit() -> None:
    step = feed(open_(), coin(200), ev.DeviceFault(COINS, "unplugged"))
    assert step.state.mode is Mode.CREDIT
    vend = handle(step.state, press("A1"))
    assert of(vend, StartVend) == [StartVend(1, "A1")]
    # ... and when the leftover is used up the machine is out of service.
    done = handle(vend.state, ev.VendFinished(1, "A1", Outcome.DELIVERED))
    assert done.state.credit == 75 and done.state.mode is Mode.CREDIT
    gone = handle(done.state, ev.TimerExpired("unclaimed", 3))
    assert gone.state.mode is Mode.OUT_OF_SERVICE


def test_one_of_two_payment_devices_down_keeps_the_machine_open() -> None:
    step = handle(open_(devices=(COINS, CARD)), ev.DeviceFault(CARD, "offline"))
    assert step.state.mode is Mode.IDLE and of(step, SetAccepting) == []


def test_dispenser_fault_puts_the_machine_out_of_service() -> None:
    step = handle(open_(), ev.DeviceFault("dispenser", "no_home"))
    assert kinds(step) == ["device_fault"] and step.state.mode is Mode.OUT_OF_SERVICE
    assert step.commands[1:] == [SetAccepting(False), Show("out_of_service")]
    assert shown(handle(step.state, press("A1"))) == ["out_of_service"]


# --- service key --------------------------------------------------------------------------------


def test_service_key_on_inhibits_and_ignores_selections_then_off_reopens() -> None:
    on = handle(open_(), ev.ServiceKey(True))
    assert on.commands == [Fact("service_key", {"on": True}), SetAccepting(False),
                           Show("service")]
    assert on.state.mode is Mode.SERVICE and on.state.service_key
    assert handle(on.state, press("A1")).commands == []  # the service menu has the buttons
    assert handle(on.state, ev.ServiceKey(True)).commands == []  # no change, not journaled
    off = handle(on.state, ev.ServiceKey(False))
    assert off.commands == [Fact("service_key", {"on": False}), SetAccepting(True),
                            WELCOME]
    assert off.state.mode is Mode.IDLE


def test_service_key_turned_during_a_vend_waits_for_the_vend() -> None:
    step = feed(open_(), coin(125), press("A1"), ev.ServiceKey(True))
    assert step.state.mode is Mode.VENDING
    assert finish(step).state.mode is Mode.SERVICE
