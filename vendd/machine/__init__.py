"""The vend state machine: pure, no I/O. `handle(state, event)` returns the next state and the
commands: the `Fact`s (journaled first, in one transaction) and what the devices must do.

Credit is what the journal says it is: every change of `credit` here is paired with the fact
that makes the ledger agree (see ledger/projection.py).

The handlers live in two tables, one per kind of actor (sales.py: buyers and devices; admin.py:
people's changes); they are joined here once, and an event type claimed twice is an error."""

from __future__ import annotations

from vendd import events as ev
from vendd.machine import admin, sales
from vendd.machine.settle import settle
from vendd.machine.state import CHANGER, DISPENSER, Mode, Settings, Slot, State, Vend
from vendd.machine.step import Handler, Out, Reply, Step


def _join(*tables: dict[type, Handler]) -> dict[type, Handler]:
    joined: dict[type, Handler] = {}
    for table in tables:
        for event_type, handler in table.items():
            if event_type in joined:
                raise ValueError(f"two handlers for {event_type.__name__}")
            joined[event_type] = handler
    return joined


HANDLERS = _join(sales.HANDLERS, admin.HANDLERS)


def handle(state: State, event: ev.Event) -> Step:
    out = Out(state)
    handler = HANDLERS.get(type(event))
    if handler is not None:
        handler(out, event)
    if isinstance(event, ev.AdminEvent):
        admin.close_request(out, event)
    settle(out, state.mode)
    return Step(out.state, out.commands)


__all__ = ["CHANGER", "DISPENSER", "HANDLERS", "Mode", "Reply", "Settings", "Slot", "State",
           "Step", "Vend", "handle"]
