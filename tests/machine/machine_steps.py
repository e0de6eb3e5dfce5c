"""Helpers of the pure machine's tests: a fresh machine, events fed to it, and what a step
shows, journals and commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vendd import events as ev
from vendd.commands import (
    Command,
    Fact,
    Show,
    StartTimer,
)
from vendd.machine import Settings, Slot, State, Step, handle

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


def card_open(**kw: Any) -> State:
    return feed(open_(devices=(COINS, CARD), **kw), ev.CardSessionBegun(CARD, 5000)).state
