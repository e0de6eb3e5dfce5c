"""The vend state machine, driven purely: cash vends, leftover credit (change, kept, unclaimed) and
the coin return. Every assertion is on what a buyer, a seamstress or the journal would see; no
threads, no sleeping."""

from __future__ import annotations

import pytest
from machine_steps import (
    FAILURES,
    WELCOME,
    Outcome,
    coin,
    credit_shown,
    fact,
    facts_first,
    feed,
    finish,
    fresh,
    kinds,
    message_timer,
    of,
    open_,
    press,
    shown,
)

from vendd import events as ev
from vendd.commands import (
    CancelTimer,
    Fact,
    PayOut,
    SetAccepting,
    Show,
    StartTimer,
    StartVend,
)
from vendd.machine import Mode, handle

# --- cash vends --------------------------------------------------------------------------------


def test_cash_vend_journals_intent_then_inhibits_then_starts_the_motor() -> None:
    step = feed(open_(), coin(100), coin(25), press("A1"))
    assert step.commands == [
        Fact("vend_intent", {"vend": 1, "slot": "A1", "price": 125, "payment": "cash",
                             "product": "Monedero", "maker": "rosa"}),
        SetAccepting(False),
        CancelTimer("unclaimed"),
        StartVend(1, "A1"),
        Show("vending", {"slot": "A1"}),
    ]
    s = step.state
    assert s.mode is Mode.VENDING and s.credit == 0 and s.vend is not None
    assert s.vend.price == 125 and s.last_vend_id == 1


def test_selections_and_cancel_during_a_vend_are_ignored() -> None:
    vending = feed(open_(), coin(200), press("A1")).state
    for event in (press("B1"), ev.CancelPressed()):
        step = handle(vending, event)
        assert step.commands == [] and step.state == vending


def test_delivered_vend_is_a_sale_and_takes_one_from_stock() -> None:
    vending = feed(open_(), coin(125), press("A1"))
    step = finish(vending)
    assert step.commands == [
        Fact("sale", {"vend": 1, "slot": "A1", "product": "Monedero", "maker": "rosa",
                      "price": 125, "payment": "cash", "turns": 1}),
        SetAccepting(True),
        Show("thanks", {}),
        StartTimer("message", 4.0, 2),
    ]
    s = step.state
    assert s.slots["A1"].stock == 2 and s.credit == 0 and s.vend is None and s.mode is Mode.IDLE
    assert handle(s, ev.TimerExpired("message", 2)).commands == [WELCOME]


def test_vend_ids_increase() -> None:
    step = feed(open_(), coin(125), press("A1"), ev.VendFinished(1, "A1", Outcome.DELIVERED),
                coin(250), press("B1"))
    assert of(step, StartVend) == [StartVend(2, "B1")]


def test_selling_the_last_item_makes_the_slot_sold_out() -> None:
    state = open_()
    for vend_id in (1, 2, 3):
        state = feed(state, coin(125), press("A1"),
                     ev.VendFinished(vend_id, "A1", Outcome.DELIVERED)).state
    assert state.slots["A1"].stock == 0
    step = feed(state, coin(125), press("A1"))
    assert shown(step) == ["sold_out"] and step.state.credit == 125


@pytest.mark.parametrize("outcome", FAILURES)
def test_failed_vend_restores_the_credit_and_faults_the_slot(outcome: Outcome) -> None:
    vending = feed(open_(), coin(250), press("A1"))
    step = finish(vending, outcome)
    assert kinds(step) == ["vend_failed"]
    assert fact(step, "vend_failed") == {"vend": 1, "slot": "A1", "outcome": outcome.value,
                                         "price": 125, "payment": "cash"}
    facts_first(step)
    s = step.state
    assert s.credit == 250 and s.slots["A1"].fault == outcome.value
    assert s.slots["A1"].stock == 3 and s.mode is Mode.CREDIT
    assert shown(step) == ["vend_failed"]
    # No changer: the credit is kept for another product, and its clock starts again.
    assert next(c for c in step.commands if isinstance(c, StartTimer)).name == "unclaimed"
    again = handle(s, press("A1"))
    assert shown(again) == ["slot_unavailable"] and again.facts == []
    other = handle(s, press("B1"))
    assert of(other, StartVend) == [StartVend(2, "B1")]


def test_failed_vend_with_a_changer_pays_the_credit_back() -> None:
    step = finish(feed(open_(changer=True), coin(125), press("A1")), Outcome.JAMMED)
    assert kinds(step) == ["vend_failed"] and of(step, PayOut) == [PayOut(125)]
    assert step.state.mode is Mode.PAYING_OUT and shown(step) == ["vend_failed"]


@pytest.mark.parametrize("vend_id", [1, 7])
def test_stale_vend_report_is_ignored(vend_id: int) -> None:
    idle = open_()
    assert handle(idle, ev.VendFinished(vend_id, "A1", Outcome.DELIVERED)).commands == []
    vending = feed(open_(), coin(125), press("A1"), coin(5)).state  # vend 1 turning
    step = handle(vending, ev.VendFinished(vend_id + 1, "A1", Outcome.DELIVERED))
    assert step.commands == [] and step.state == vending


# --- leftover credit: change, kept, unclaimed -------------------------------------------------


def test_leftover_credit_is_paid_out_as_change_by_a_changer() -> None:
    step = finish(feed(open_(changer=True), coin(200), press("A1")))
    assert kinds(step) == ["sale"]
    # The acceptors stay inhibited from the vend through the payout.
    assert step.commands[1:] == [PayOut(75), Show("thanks", {}), StartTimer("message", 4.0, 2)]
    assert step.state.payout == 75 and step.state.mode is Mode.PAYING_OUT
    assert not step.state.accepting and of(step, SetAccepting) == []
    done = handle(step.state, ev.PayoutFinished("changer", 75, 75))
    assert done.commands == [
        Fact("payout", {"device": "changer", "amount": 75, "paid": 75, "owed": 0}),
        SetAccepting(True),
        Show("welcome"),  # with a changer: plain welcome
    ]
    assert done.state.credit == 0 and done.state.payout == 0 and done.state.mode is Mode.IDLE


def test_paying_out_screen_shows_the_amount() -> None:
    step = feed(open_(changer=True), coin(200), press("A1"), ev.VendFinished(1, "A1",
                                                                             Outcome.DELIVERED))
    back = handle(step.state, ev.TimerExpired("message", message_timer(step).token))
    assert back.commands == [Show("paying_out", {"amount": "$0.75"})]
    assert handle(back.state, press("B1")).commands == []  # buttons wait for the coins


def test_short_payout_journals_what_is_owed_and_tells_the_buyer() -> None:
    paying = feed(open_(changer=True), coin(200), press("A1"),
                  ev.VendFinished(1, "A1", Outcome.DELIVERED)).state
    step = handle(paying, ev.PayoutFinished("changer", 75, 50))
    assert fact(step, "payout") == {"device": "changer", "amount": 75, "paid": 50, "owed": 25}
    assert step.commands[-2] == Show("owed", {"amount": "$0.25"})
    assert step.state.credit == 0 and step.state.mode is Mode.IDLE


def test_leftover_credit_without_a_changer_is_kept_for_the_next_purchase() -> None:
    step = finish(feed(open_(), coin(200), press("A1")))
    assert kinds(step) == ["sale"] and of(step, PayOut) == []
    assert step.commands[1:] == [SetAccepting(True), StartTimer("unclaimed", 300.0, 2),
                                 Show("thanks", {}), StartTimer("message", 4.0, 3)]
    assert step.state.credit == 75 and step.state.mode is Mode.CREDIT


def test_leftover_credit_with_a_faulted_changer_is_kept() -> None:
    state = feed(open_(changer=True), ev.DeviceFault("changer", "tube_jam"), coin(200)).state
    step = finish(handle(state, press("A1")))
    assert of(step, PayOut) == [] and step.state.credit == 75


def test_without_a_working_changer_the_buyer_is_told_before_and_after_paying() -> None:
    # Before money goes in: exact amount, no change.
    assert handle(fresh(), ev.Started()).commands[-1] == Show("welcome_no_change")
    assert handle(fresh(changer=True), ev.Started()).commands[-1] == Show("welcome")
    faulted = feed(open_(changer=True), ev.DeviceFault("changer", "tube_jam"),
                   ev.TimerExpired("message", 1)).state
    assert faulted.screen[0] == "welcome_no_change"
    # Credit left over: how long it waits; the coin return says where it goes.
    left = finish(feed(open_(), coin(200), press("A1"))).state
    back = handle(left, ev.TimerExpired("message", left.timer_token))
    assert back.commands == [credit_shown("$0.75")]
    kept = handle(back.state, ev.CancelPressed())
    assert [c for c in kept.commands if isinstance(c, Show)] == [
        Show("credit_kept", {"credit": "$0.75"})]


def test_unclaimed_credit_goes_to_the_collective_when_its_timer_runs_out() -> None:
    state = feed(open_(), coin(200), press("A1"), ev.VendFinished(1, "A1",
                                                                  Outcome.DELIVERED)).state
    step = handle(state, ev.TimerExpired("unclaimed", 3))
    assert step.commands == [Fact("unclaimed", {"amount": 75}), Show("credit_expired", {}),
                             StartTimer("message", 4.0, step.state.timer_token)]
    assert step.state.credit == 0 and step.state.mode is Mode.IDLE
    assert handle(step.state, ev.TimerExpired("message", step.state.timer_token)).commands == [
        WELCOME]


@pytest.mark.parametrize("when", ["no credit", "vending", "paying out"])
def test_unclaimed_timer_takes_nothing_when_there_is_nothing_to_take(when: str) -> None:
    state = {
        "no credit": open_(),
        "vending": feed(open_(), coin(200), press("A1")).state,
        "paying out": feed(open_(changer=True), coin(200), press("A1"),
                           ev.VendFinished(1, "A1", Outcome.DELIVERED)).state,
    }[when]
    step = handle(state, ev.TimerExpired("unclaimed", state.timer_token))
    assert step.facts == [] and step.state.credit == state.credit
    assert not [c for c in step.commands if isinstance(c, Show) and c.key == "credit_expired"]


def test_unknown_timer_is_ignored() -> None:
    state = feed(open_(), coin(50)).state
    assert handle(state, ev.TimerExpired("selection", 1)).commands == []


# --- cancel (coin return) ---------------------------------------------------------------------


def test_cancel_with_no_credit_does_nothing() -> None:
    state = open_()
    assert handle(state, ev.CancelPressed()).commands == []


def test_cancel_with_a_changer_pays_the_credit_back() -> None:
    step = feed(open_(changer=True), coin(100), ev.CancelPressed())
    assert step.commands == [SetAccepting(False), PayOut(100),
                             Show("paying_out", {"amount": "$1.00"})]
    assert step.state.mode is Mode.PAYING_OUT
    assert handle(step.state, ev.CancelPressed()).commands == []  # already paying


def test_cancel_without_a_changer_keeps_the_credit_and_says_so() -> None:
    step = feed(open_(), coin(100), ev.CancelPressed())
    assert step.commands == [StartTimer("unclaimed", 300.0, 2),
                             Show("credit_kept", {"credit": "$1.00"}),
                             StartTimer("message", 4.0, 3)]
    assert step.state.credit == 100


def test_cancel_in_service_mode_is_ignored() -> None:
    state = feed(open_(changer=True), coin(100), ev.ServiceKey(True)).state
    assert handle(state, ev.CancelPressed()).commands == []


def test_cancel_while_out_of_service_returns_the_credit() -> None:
    step = feed(open_(changer=True), coin(100), ev.SetOutOfService("rosa", True),
                ev.CancelPressed())
    assert of(step, PayOut) == [PayOut(100)]
