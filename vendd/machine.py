"""The vend state machine: pure, no I/O. `handle(state, event)` returns the next state and the
commands: the `Fact`s (journaled first, in one transaction) and what the devices must do.

Credit is what the journal says it is: every change of `credit` here is paired with the fact
that makes the ledger agree (see ledger/projection.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from vendd import events as ev
from vendd.commands import (
    Command,
    Fact,
    SetAccepting,
    Show,
    StartTimer,
)
from vendd.money import format_money

DISPENSER = "dispenser"
CHANGER = "changer"  # the device name a changer driver reports its faults under


class Mode(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    CREDIT = "credit"
    VENDING = "vending"
    PAYING_OUT = "paying_out"
    OUT_OF_SERVICE = "out_of_service"
    SERVICE = "service"


@dataclass(frozen=True)
class Slot:
    id: str
    product: str
    maker: str
    price: int
    capacity: int
    stock: int
    enabled: bool = True
    fault: str | None = None

    @property
    def sellable(self) -> bool:
        return self.enabled and self.fault is None and self.stock > 0


@dataclass(frozen=True)
class Vend:
    vend_id: int
    slot: str
    price: int
    payment: str  # cash | card | test
    actor: str = ""


@dataclass(frozen=True)
class Settings:
    max_credit: int = 2000
    message_s: float = 4.0
    unclaimed_credit_s: float = 300.0
    currency: str = "USD"
    decimals: int = 2
    has_changer: bool = False
    payment_devices: frozenset[str] = frozenset()


@dataclass(frozen=True)
class State:
    settings: Settings
    slots: dict[str, Slot]
    mode: Mode = Mode.STARTING
    credit: int = 0
    last_vend_id: int = 0
    vend: Vend | None = None
    faults: frozenset[str] = frozenset()
    out_of_service: str | None = None
    service_key: bool = False
    card_device: str | None = None  # a card session is open on this reader
    card_slot: str | None = None  # a card vend request is waiting for approval
    payout: int = 0  # credit being paid out right now
    accepting: bool = False
    screen: tuple[str, tuple[tuple[str, str], ...]] = ("", ())
    message_shown: bool = False  # a message is up until its timer runs out or the mode changes
    stopping: bool = False  # the daemon is shutting down: no more money in
    timer_token: int = 0
    cash_box: int = 0
    exact_change: bool = False  # the changer's tubes cannot make change for the cheapest product


@dataclass
class Step:
    """What one event produced: the next state and the commands, facts first."""

    state: State
    commands: list[Command] = field(default_factory=list)

    @property
    def facts(self) -> list[Fact]:
        return [c for c in self.commands if isinstance(c, Fact)]


@dataclass(frozen=True)
class Reply(Command):
    """The answer to a person's request (service menu, coordinator): accepted or why not."""

    ok: bool
    error: str = ""


class Out:
    """Collects one step's commands."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.commands: list[Command] = []
        self.message: Show | None = None

    def fact(self, kind: str, **fields: Any) -> None:
        self.commands.append(Fact(kind, fields))

    def do(self, command: Command) -> None:
        self.commands.append(command)

    def say(self, key: str, **params: str) -> None:
        self.message = Show(key, params)

    def money(self, cents: int) -> str:
        s = self.state.settings
        return format_money(cents, s.currency, s.decimals)

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def set_slot(self, slot_id: str, **changes: Any) -> None:
        slots = dict(self.state.slots)
        slots[slot_id] = replace(slots[slot_id], **changes)
        self.update(slots=slots)

    def timer(self, name: str, seconds: float) -> None:
        token = self.state.timer_token + 1
        self.update(timer_token=token)
        self.do(StartTimer(name, seconds, token))


Handler = Callable[[Out, Any], None]
_HANDLERS: dict[type, Handler] = {}


def on(event_type: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[event_type] = fn
        return fn

    return register


def handle(state: State, event: ev.Event) -> Step:
    out = Out(state)
    handler = _HANDLERS.get(type(event))
    if handler is not None:
        handler(out, event)
    _settle(out, state.mode)
    return Step(out.state, out.commands)


# --- modes, acceptance and the display: derived after every event ----------------------------


def base_mode(state: State) -> Mode:
    if state.vend is not None:
        return Mode.VENDING
    if state.payout:
        return Mode.PAYING_OUT
    if state.service_key:
        return Mode.SERVICE
    if (state.out_of_service or state.stopping or DISPENSER in state.faults
            or not _can_take_money(state)):
        return Mode.OUT_OF_SERVICE
    return Mode.CREDIT if state.credit > 0 or state.card_device else Mode.IDLE


def _can_take_money(state: State) -> bool:
    working = state.settings.payment_devices - state.faults
    return bool(working) or state.credit > 0


def _settle(out: Out, mode_before: Mode) -> None:
    s = out.state
    if s.mode is not Mode.STARTING:
        out.update(mode=base_mode(s))
    s = out.state
    if s.mode is not mode_before:
        out.update(message_shown=False)
        s = out.state
    accepting = s.mode in (Mode.IDLE, Mode.CREDIT) and s.credit < s.settings.max_credit
    if accepting != s.accepting:
        out.update(accepting=accepting)
        # Inhibit before anything else moves (a motor, a payout).
        out.commands.insert(_first_device_command(out.commands), SetAccepting(accepting))
    if out.message is not None:
        out.do(out.message)
        out.update(screen=_screen_of(out.message), message_shown=True)
        out.timer("message", s.settings.message_s)
    elif s.mode is not Mode.STARTING and not s.message_shown:
        show = base_screen(out)
        if _screen_of(show) != s.screen:
            out.do(show)
            out.update(screen=_screen_of(show))


def _first_device_command(commands: list[Command]) -> int:
    return next((i for i, c in enumerate(commands) if not isinstance(c, Fact)), len(commands))


def _screen_of(show: Show) -> tuple[str, tuple[tuple[str, str], ...]]:
    return show.key, tuple(sorted(show.params.items()))


def base_screen(out: Out) -> Show:
    s = out.state
    match s.mode:
        case Mode.VENDING:
            return Show("vending", {"slot": s.vend.slot if s.vend else ""})
        case Mode.PAYING_OUT:
            return Show("paying_out", {"amount": out.money(s.payout)})
        case Mode.SERVICE:
            return Show("service")
        case Mode.OUT_OF_SERVICE:
            if s.credit > 0:
                return Show("out_of_service_credit", {"credit": out.money(s.credit)})
            return Show("out_of_service")
        case Mode.CREDIT if s.credit >= s.settings.max_credit:
            return Show("max_credit", {"credit": out.money(s.credit)})
        case Mode.CREDIT if s.card_device and not s.credit:
            return Show("card_ready")
        case Mode.CREDIT if s.credit and not can_pay_out(s):
            # Credit left cannot come back: how long it waits before it goes to the collective.
            return Show("credit_no_change", {"credit": out.money(s.credit),
                                             "wait": wait_label(s.settings.unclaimed_credit_s)})
        case Mode.CREDIT:
            return Show("credit", {"credit": out.money(s.credit)})
        case _ if s.exact_change:
            return Show("exact_change")
        case _ if not can_pay_out(s) and s.settings.payment_devices - {"card_reader"}:
            return Show("welcome_no_change")  # said before any money goes in
        case _:
            return Show("welcome")


def can_pay_out(state: State) -> bool:
    """Whether credit can be paid back: a changer is fitted and working."""
    return state.settings.has_changer and CHANGER not in state.faults


def wait_label(seconds: float) -> str:
    """How long unused credit waits, as the display says it: "5 min", "2 h"."""
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 100 else f"{math.ceil(minutes / 60)} h"


# The handlers register themselves with @on when imported: buyers and devices, then people.
from vendd import machine_admin, machine_sales  # noqa: E402

__all__ = ["CHANGER", "DISPENSER", "Mode", "Reply", "Settings", "Slot", "State", "Step",
           "Vend", "handle", "machine_admin", "machine_sales"]
