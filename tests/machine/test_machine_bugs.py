"""The vend state machine, driven purely: bugs found and fixed, and the money invariant over random
events. Every assertion is on what a buyer, a seamstress or the journal would see; no threads,
no sleeping."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from machine_steps import (
    CARD,
    COINS,
    FAILURES,
    Outcome,
    card_open,
    coin,
    facts_first,
    feed,
    kinds,
    of,
    open_,
    press,
)

from vendd import events as ev
from vendd.commands import (
    CancelTimer,
    CardVendResult,
    Command,
    Show,
    StartTimer,
    StartVend,
)
from vendd.machine import Mode, State, handle

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
