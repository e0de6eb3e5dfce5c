"""The vend state machine, driven purely: MDB: bills in escrow and exact change only. Every
assertion is on what a buyer, a seamstress or the journal would see; no threads, no sleeping."""

from __future__ import annotations

from dataclasses import replace

import pytest
from machine_steps import (
    COINS,
    coin,
    feed,
    kinds,
    of,
    open_,
    press,
    shown,
)

from vendd import events as ev
from vendd.commands import (
    EscrowDecision,
    SetAccepting,
    StartVend,
)
from vendd.machine import Mode, State, Step, handle

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
