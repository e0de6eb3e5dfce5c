"""The vend state machine, driven purely: start-up, money in, and the selections it refuses. Every
assertion is on what a buyer, a seamstress or the journal would see; no threads, no sleeping."""

from __future__ import annotations

import pytest
from machine_steps import (
    COINS,
    WELCOME,
    Outcome,
    coin,
    credit_shown,
    fact,
    feed,
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
    Fact,
    SetAccepting,
    Show,
    StartTimer,
    StartVend,
)
from vendd.machine import Mode, handle

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
