"""The vend state machine, driven purely: a State, `Started()`, then events; every assertion is on
what a buyer, a seamstress or the journal would see (facts and their order, device commands, the
next mode/credit/stock, the message on the display). No threads, no sleeping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendd import events as ev
from vendd.commands import (
    CancelTimer,
    CardSessionComplete,
    CardVendRequest,
    CardVendResult,
    Command,
    EscrowDecision,
    Fact,
    PayOut,
    SetAccepting,
    Show,
    StartTimer,
    StartVend,
)
from vendd.machine import Mode, Reply, Settings, Slot, State, Step, handle

COINS = "coins"
CARD = "card"
Outcome = ev.VendOutcome
FAILURES = [o for o in Outcome if o is not Outcome.DELIVERED]


def slots() -> dict[str, Slot]:
    return {
        "A1": Slot("A1", "Monedero", "rosa", 125, capacity=5, stock=3),
        "A2": Slot("A2", "Bolso", "ana", 300, capacity=4, stock=0),  # sold out
        "A3": Slot("A3", "Llavero", "rosa", 50, capacity=6, stock=2, enabled=False),
        "A4": Slot("A4", "Cartera", "luz", 200, capacity=3, stock=2, fault="jammed"),
        "B1": Slot("B1", "Mochila", "ana", 250, capacity=4, stock=4),
    }


# No changer on the default test machine: the display says so before money goes in, and how
# long credit left on the machine waits.
WELCOME = Show("welcome_no_change")


def credit_shown(amount: str) -> Show:
    return Show("credit_no_change", {"credit": amount, "wait": "5 min"})


def fresh(*, changer: bool = False, devices: Iterable[str] = (COINS,), max_credit: int = 500,
          **state: Any) -> State:
    s = Settings(max_credit=max_credit, message_s=4.0, unclaimed_credit_s=300.0,
                 has_changer=changer, payment_devices=frozenset(devices))
    return State(settings=s, slots=slots(), **state)


def open_(**kw: Any) -> State:
    """A machine that has received `Started()`."""
    return handle(fresh(**kw), ev.Started()).state


def feed(state: State, *events: ev.Event) -> Step:
    """Send events in order; the Step of the last one."""
    assert events
    for event in events:
        step = handle(state, event)
        state = step.state
    return step


def coin(amount: int, route: str = "cashbox") -> ev.CreditInserted:
    return ev.CreditInserted(COINS, amount, label=f"{amount}c", route=route)


def press(slot: str) -> ev.SelectionPressed:
    return ev.SelectionPressed(slot)


def shown(step: Step) -> list[str]:
    return [c.key for c in step.commands if isinstance(c, Show)]


def kinds(step: Step) -> list[str]:
    return [f.kind for f in step.facts]


def fact(step: Step, kind: str) -> dict[str, Any]:
    (found,) = [f.fields for f in step.facts if f.kind == kind]
    return found


def of(step: Step, kind: type) -> list[Command]:
    return [c for c in step.commands if isinstance(c, kind)]


def facts_first(step: Step) -> None:
    """Facts are journaled before any device moves: they lead the command list."""
    n = len(step.facts)
    assert all(isinstance(c, Fact) for c in step.commands[:n])


def finish(step: Step, outcome: Outcome = Outcome.DELIVERED) -> Step:
    vend = step.state.vend
    assert vend is not None
    return handle(step.state, ev.VendFinished(vend.vend_id, vend.slot, outcome))


def message_timer(step: Step) -> StartTimer:
    (timer,) = [c for c in step.commands if isinstance(c, StartTimer) and c.name == "message"]
    return timer


# --- start-up ---------------------------------------------------------------------------------


def test_started_opens_for_sale_with_welcome_screen() -> None:
    step = handle(fresh(), ev.Started())
    assert step.commands == [SetAccepting(True), WELCOME]
    assert step.state.mode is Mode.IDLE and step.state.accepting


def test_started_with_credit_from_the_journal_shows_it_and_starts_the_unclaimed_clock() -> None:
    step = handle(fresh(credit=75), ev.Started())
    assert step.commands == [SetAccepting(True), StartTimer("unclaimed", 300.0, 1),
                             credit_shown("$0.75")]
    assert step.state.mode is Mode.CREDIT


def test_before_started_a_coin_is_still_credited_but_nothing_opens_or_shows() -> None:
    step = feed(fresh(), coin(25), press("A1"))  # the selection is ignored while starting
    assert step.commands == []
    assert step.state.mode is Mode.STARTING and step.state.credit == 25
    first = handle(fresh(), coin(25))
    assert kinds(first) == ["credit"] and not shown(first) and not first.state.accepting


# --- money in -------------------------------------------------------------------------------


def test_coin_in_idle_is_journaled_then_credit_shown_and_unclaimed_clock_started() -> None:
    step = handle(open_(), coin(100))
    assert step.commands == [
        Fact("credit", {"device": COINS, "amount": 100, "label": "100c", "route": "cashbox"}),
        StartTimer("unclaimed", 300.0, 1),
        credit_shown("$1.00"),
    ]
    assert step.state.mode is Mode.CREDIT and step.state.credit == 100
    assert step.state.cash_box == 100


def test_coin_in_credit_mode_adds_up_and_coins_to_the_tubes_are_not_in_the_cash_box() -> None:
    step = feed(open_(), coin(100), coin(25, route="tubes"))
    assert kinds(step) == ["credit"] and shown(step) == ["credit_no_change"]
    assert step.commands[-1] == credit_shown("$1.25")
    assert step.state.credit == 125 and step.state.cash_box == 100


def test_coin_during_a_vend_is_credited_and_the_vend_screen_stays() -> None:
    vending = feed(open_(), coin(125), press("A1"))
    step = handle(vending.state, coin(25))
    assert kinds(step) == ["credit"] and shown(step) == []
    assert step.state.mode is Mode.VENDING and step.state.credit == 25


def test_coin_while_out_of_service_is_credited_and_shown() -> None:
    oos = feed(open_(), ev.SetOutOfService("rosa", True, "restock")).state
    assert oos.mode is Mode.OUT_OF_SERVICE and not oos.accepting
    step = handle(oos, coin(50))
    assert kinds(step) == ["credit"] and step.state.credit == 50
    assert step.commands[-1] == Show("out_of_service_credit", {"credit": "$0.50"})
    assert of(step, SetAccepting) == []  # still inhibited


def test_coin_in_service_mode_is_credited() -> None:
    step = feed(open_(), ev.ServiceKey(True), coin(10))
    assert kinds(step) == ["credit"] and step.state.credit == 10
    assert step.state.mode is Mode.SERVICE and of(step, Show) == []


def test_coin_while_paying_out_is_kept_after_the_payout() -> None:
    paying = feed(open_(changer=True), coin(200), press("A1"), ev.VendFinished(1, "A1",
                                                                               Outcome.DELIVERED))
    assert paying.state.mode is Mode.PAYING_OUT and paying.state.payout == 75
    step = feed(paying.state, coin(10), ev.PayoutFinished("changer", 75, 75))
    assert fact(step, "payout")["amount"] == 75
    assert step.state.credit == 10 and step.state.mode is Mode.CREDIT


def test_an_event_the_machine_does_not_handle_changes_nothing() -> None:
    state = open_()
    step = handle(state, ev.Event())
    assert step.commands == [] and step.state == state


def test_rejected_coin_changes_nothing() -> None:
    state = open_()
    step = handle(state, ev.CoinRejected(COINS, "slug"))
    assert step.commands == [] and step.state == state


def test_max_credit_inhibits_the_acceptors_before_anything_else_and_a_vend_reopens_them() -> None:
    step = feed(open_(), coin(400), coin(100))
    assert step.commands == [
        Fact("credit", {"device": COINS, "amount": 100, "label": "100c", "route": "cashbox"}),
        SetAccepting(False),
        StartTimer("unclaimed", 300.0, 2),
        Show("max_credit", {"credit": "$5.00"}),
    ]
    assert not step.state.accepting and step.state.mode is Mode.CREDIT
    # A coin already in flight is still the buyer's money.
    over = handle(step.state, coin(25))
    assert over.state.credit == 525 and of(over, SetAccepting) == []
    bought = feed(over.state, press("B1"), ev.VendFinished(1, "B1", Outcome.DELIVERED))
    assert bought.state.credit == 275 and SetAccepting(True) in bought.commands


# --- selections that are refused -------------------------------------------------------------


@pytest.mark.parametrize(("slot", "key"), [
    ("Z9", "unknown_slot"),
    ("A2", "sold_out"),
    ("A3", "slot_unavailable"),
    ("A4", "slot_unavailable"),
])
@pytest.mark.parametrize("credit", [0, 400])
def test_unsellable_slot_is_refused_with_its_message(slot: str, key: str, credit: int) -> None:
    state = feed(open_(), coin(credit)).state if credit else open_()
    step = handle(state, press(slot))
    assert step.facts == [] and of(step, StartVend) == []
    assert step.commands[0] == Show(key, {"slot": slot})
    assert message_timer(step).seconds == 4.0
    assert step.state.credit == credit and step.state.vend is None


def test_short_credit_shows_the_price_and_the_credit() -> None:
    step = feed(open_(), coin(100), press("A1"))
    assert step.commands == [Show("insert_more", {"slot": "A1", "price": "$1.25",
                                                  "credit": "$1.00"}),
                             StartTimer("message", 4.0, 2)]
    assert step.state.credit == 100 and step.state.mode is Mode.CREDIT


def test_no_credit_shows_the_price() -> None:
    step = handle(open_(), press("B1"))
    assert step.commands == [Show("price", {"slot": "B1", "price": "$2.50"}),
                             StartTimer("message", 4.0, 1)]


def test_out_of_service_without_credit_refuses_any_selection() -> None:
    state = feed(open_(), ev.SetOutOfService("rosa", True)).state
    step = handle(state, press("A1"))
    assert shown(step) == ["out_of_service"] and step.facts == []


def test_message_timer_brings_back_the_base_screen_and_a_stale_one_is_ignored() -> None:
    priced = feed(open_(), coin(50), press("A1"))
    token = message_timer(priced).token
    stale = handle(priced.state, ev.TimerExpired("message", token - 1))
    assert stale.facts == [] and stale.state.credit == 50  # and the message stays (see below)
    back = handle(priced.state, ev.TimerExpired("message", token))
    assert back.commands == [credit_shown("$0.50")]


def test_a_newer_event_replaces_a_message_with_the_base_screen() -> None:
    priced = feed(open_(), press("A1"))
    step = handle(priced.state, coin(10))
    assert step.commands[-1] == credit_shown("$0.10")


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


# --- cards ---------------------------------------------------------------------------------------


def card_open(**kw: Any) -> State:
    return feed(open_(devices=(COINS, CARD), **kw), ev.CardSessionBegun(CARD, 5000)).state


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


# --- bugs found while writing these tests, now fixed: each test keeps them fixed ------------------


# Was: with credit on the machine, a selection starts the motor although the dispenser is
# faulted ("the machine refuses sales that need the missing device meanwhile"). (Same for a
# person's SetOutOfService.)
def test_bug_no_vend_while_the_dispenser_is_faulted() -> None:
    step = feed(open_(), coin(200), ev.DeviceFault("dispenser", "no_home"), press("A1"))
    assert of(step, StartVend) == [] and "vend_intent" not in kinds(step)
    assert step.state.credit == 200


# Was: a card approval that arrives after the machine stopped selling (service key turned,
# dispenser faulted) still starts the motor: `_card_approved` checks only the slot.

def test_bug_card_approval_after_service_key_is_not_vended() -> None:
    state = feed(card_open(), press("A1"), ev.ServiceKey(True)).state
    step = handle(state, ev.CardVendApproved(CARD, 125))
    assert of(step, StartVend) == [] and CardVendResult("A1", False) in step.commands


# Was: a non-cash vend (card or test turn) cancels the unclaimed-credit timer and never starts
# it again, so cash credit that was on the machine is neither paid back nor ever journaled as
# unclaimed (issue 2 item 5).

def test_bug_credit_left_after_a_card_vend_gets_its_timer_back() -> None:
    state = feed(card_open(), press("A1"), coin(25), ev.CardVendApproved(CARD, 125)).state
    assert state.credit == 25 and state.vend is not None
    step = handle(state, ev.VendFinished(1, "A1", Outcome.DELIVERED))
    assert step.state.credit == 25
    assert any(isinstance(c, StartTimer) and c.name == "unclaimed" for c in step.commands)



def test_bug_credit_left_after_a_test_vend_gets_its_timer_back() -> None:
    commands: list[Command] = []
    state = feed(open_(), coin(50), ev.ServiceKey(True)).state
    for event in (ev.TestVend("rosa", "A1"), ev.VendFinished(1, "A1", Outcome.DELIVERED),
                  ev.ServiceKey(False)):
        step = handle(state, event)
        commands += step.commands
        state = step.state
    assert state.credit == 50
    cancelled = commands.index(CancelTimer("unclaimed"))
    assert any(isinstance(c, StartTimer) and c.name == "unclaimed"
               for c in commands[cancelled:])


# Was: a PayoutFinished the machine did not ask for (duplicate report, changer's own dispense
# after a restart) journals `amount = requested` but takes only max(credit - requested, 0) off
# the credit; the ledger projection subtracts the full amount, so machine and ledger disagree
# and `money in = ... + change paid + credit held` breaks.

def test_bug_unrequested_payout_keeps_journal_and_credit_in_step() -> None:
    state = feed(open_(changer=True), coin(25)).state
    step = handle(state, ev.PayoutFinished("changer", 100, 100))
    paid = sum(f.fields["amount"] for f in step.facts if f.kind == "payout")
    assert state.credit - step.state.credit == paid


# Was: a message is meant to stay for `message_s` (its timer; "a newer message replaced it" is
# why a stale message timer is ignored), but `_settle` puts the base screen back after ANY later
# event that says nothing: a stale message timer, a rejected coin, a device retrying its fault.
# "We owe you $0.25, ask staff" vanishes the moment a slug is rejected.

@pytest.mark.parametrize("event", [
    ev.TimerExpired("message", 0),
    ev.CoinRejected(COINS, "slug"),
    ev.DeviceFault(COINS, "fraud", blocking=False),
])
def test_bug_a_message_stays_until_its_own_timer(event: ev.Event) -> None:
    owed = feed(open_(changer=True), coin(200), press("A1"),
                ev.VendFinished(1, "A1", Outcome.DELIVERED), ev.PayoutFinished("changer", 75, 50))
    assert owed.commands[-2] == Show("owed", {"amount": "$0.25"})
    step = handle(owed.state, event)
    assert of(step, Show) == []


# --- the money invariant ---------------------------------------------------------------------


def _resolve(state: State, action: tuple[Any, ...]) -> list[ev.Event]:
    """Turn a drawn action into events against the current state (ids, tokens, payouts)."""
    match action:
        case ("buy", slot):  # a buyer who brings enough coins and presses at once
            return [coin(100), coin(100), coin(100), press(slot)]
        case ("card", slot):  # a buyer with a card (a coin holder's press is a cash press)
            return [ev.CardSessionBegun(CARD, -1), press(slot), ev.CardVendApproved(CARD, 125)]
        case ("finish", outcome, stale):
            if state.vend is None:
                return [ev.VendFinished(1, "A1", outcome)] if stale else []
            vend_id = state.vend.vend_id + (1 if stale else 0)
            return [ev.VendFinished(vend_id, state.vend.slot, outcome)]
        case ("timer", name, back):
            return [ev.TimerExpired(name, max(state.timer_token - back, 0))]
        case ("payout", fraction):
            if not state.payout:
                return [ev.PayoutFinished("changer", 100, 100)]  # unasked: not the credit's
            return [ev.PayoutFinished("changer", state.payout, state.payout * fraction // 4)]
        case (event,):
            return [event]
    raise AssertionError(action)


COIN = st.sampled_from([5, 10, 25, 50, 100, 200]).map(lambda a: (coin(a),))
PRESS = st.sampled_from(["A1", "B1", "A2", "A3", "A4", "Z9"]).map(lambda s: (press(s),))
BUY = st.tuples(st.sampled_from(["buy", "buy", "card"]), st.sampled_from(["A1", "B1"]))
FINISH = st.tuples(st.just("finish"), st.sampled_from([Outcome.DELIVERED] * 4 + FAILURES),
                   st.sampled_from([False, False, False, True]))
OTHER = st.one_of(
    st.just((ev.CancelPressed(),)),
    st.tuples(st.just("timer"), st.sampled_from(["message", "unclaimed"]),
              st.integers(0, 2)),
    st.sampled_from([
        (ev.CardSessionBegun(CARD, -1),), (ev.CardVendApproved(CARD, 125),),
        (ev.CardVendDenied(CARD),), (ev.CardSessionEnded(CARD),),
        (ev.ServiceKey(True),), (ev.ServiceKey(False),),
        (ev.DeviceFault(COINS, "unplugged"),), (ev.DeviceRecovered(COINS),),
        (ev.DeviceFault("changer", "tube_jam"),), (ev.DeviceRecovered("changer"),),
        (ev.SetStock("rosa", "A1", 5),), (ev.ClearSlotFault("rosa", "A1"),),
        (ev.ClearSlotFault("rosa", "B1"),),
    ]),
)
# Buying, vend outcomes and payouts are drawn often, so that most runs sell and fail and pay.
ACTIONS = st.one_of(
    COIN, PRESS, BUY, FINISH, FINISH, st.tuples(st.just("payout"), st.integers(0, 4)), OTHER,
)


@settings(max_examples=300, deadline=None)
@given(changer=st.booleans(), actions=st.lists(ACTIONS, min_size=5, max_size=50))
def test_money_invariant_holds_at_every_step(changer: bool,
                                             actions: list[tuple[Any, ...]]) -> None:
    state = open_(changer=changer, devices=(COINS, CARD), max_credit=300)
    money_in = sales = payouts = unclaimed = 0
    # The buyer finally walks away: the motor stops, the change comes out, the clock runs out.
    walk_away = [("finish", Outcome.DELIVERED, False), ("payout", 4), ("timer", "unclaimed", 0)]
    for action in [*actions, *walk_away]:
        for event in _resolve(state, action):
            step = handle(state, event)
            facts_first(step)
            state = step.state
            for f in step.facts:
                if f.kind == "credit":
                    money_in += f.fields["amount"]
                elif f.kind == "sale" and f.fields["payment"] == "cash":
                    sales += f.fields["price"]
                elif f.kind == "payout":
                    payouts += f.fields["amount"]
                elif f.kind == "unclaimed":
                    unclaimed += f.fields["amount"]
            held = state.vend.price if state.vend and state.vend.payment == "cash" else 0
            assert state.credit >= 0
            assert money_in == sales + payouts + unclaimed + state.credit + held
            assert all(s.stock >= 0 for s in state.slots.values())
            assert state.accepting == (state.mode in (Mode.IDLE, Mode.CREDIT)
                                       and state.credit < state.settings.max_credit)


def test_handle_never_changes_the_state_it_was_given() -> None:
    """A step never mutates the state it was given (the controller keeps the old one on error)."""
    state = open_()
    before = replace(state, slots=dict(state.slots))
    feed(state, coin(125), press("A1"), ev.VendFinished(1, "A1", Outcome.DELIVERED))
    assert state == before


# --- MDB: bills in escrow, exact change only ---------------------------------------------------

BILLS = "bills"


def escrowed(state: State, amount: int) -> Step:
    return handle(state, ev.BillEscrowed(BILLS, amount))


def decisions(step: Step) -> list[EscrowDecision]:
    return [c for c in step.commands if isinstance(c, EscrowDecision)]


def test_bill_in_escrow_is_stacked_when_its_credit_can_be_used() -> None:
    step = escrowed(open_(devices=(COINS, BILLS)), 200)
    assert decisions(step) == [EscrowDecision(BILLS, True)]
    assert step.facts == [] and step.state.credit == 0  # credited only once stacked
    step = feed(step.state, ev.CreditInserted(BILLS, 200, "200c", route="stacker"))
    assert kinds(step) == ["credit"] and step.state.credit == 200


@pytest.mark.parametrize("why", ["over_max_credit", "nothing_sellable", "not_accepting",
                                 "device_fault"])
def test_bill_in_escrow_is_returned_when_its_credit_cannot_be_used(why: str) -> None:
    state = open_(devices=(COINS, BILLS))
    amount = 200
    if why == "over_max_credit":
        state = feed(state, coin(400)).state  # 400 + 200 > 500
    elif why == "nothing_sellable":
        state = replace(state, slots={k: replace(s, stock=0) for k, s in state.slots.items()})
    elif why == "not_accepting":
        state = feed(state, ev.ServiceKey(True)).state
    else:
        state = feed(state, ev.DeviceFault(BILLS, "jam")).state
    step = escrowed(state, amount)
    assert decisions(step) == [EscrowDecision(BILLS, False)]
    assert step.facts == [] and step.state.credit == state.credit
    assert shown(step) == ["bill_returned"]


def test_exact_change_only_is_shown_and_limits_bills() -> None:
    state = open_(changer=True, devices=(COINS, BILLS))
    step = feed(state, ev.ChangeAvailability("changer", False))
    assert step.state.exact_change and shown(step) == ["exact_change"]
    # Overpaying the dearest product would need change the tubes cannot give.
    assert decisions(escrowed(step.state, 300)) == [EscrowDecision(BILLS, False)]
    assert decisions(escrowed(step.state, 200)) == [EscrowDecision(BILLS, True)]
    step = feed(step.state, ev.ChangeAvailability("changer", True))
    assert not step.state.exact_change and shown(step) == ["welcome"]


def test_stopping_takes_no_more_money_and_refuses_selections() -> None:
    state = feed(open_(), coin(200)).state
    assert state.accepting
    step = handle(state, ev.Stopping())
    assert SetAccepting(False) in step.commands and step.state.mode is Mode.OUT_OF_SERVICE
    late = feed(step.state, coin(25), press("A1"))  # a coin already in the chute still counts
    assert late.state.credit == 225 and of(late, StartVend) == []
    assert not late.state.accepting
