"""The seamstresses' service menu: what it is given, what it says back, and its state.

The menu is pure like the vend machine: `vendd.menu.handle(state, event) -> (state, commands)`.
The controller routes the buttons (and the menu's own `menu_*` timers) to it while the service
key is on, gives it what it needs to read as a `View` (slots, cash box, faults, sales per maker,
links) in `Enter` and `Refresh` events, runs each `Submit`ted admin event through the vend
machine (which journals it with the maker's id) and hands the machine's `Reply` back as an
`Answer`.

Keys. The selection buttons in config order are the keys; the coin-return button is "back".
Three of them take a second role in the menu, shown on the display's second line:
`keys[0]` lowers / goes back a page (-, <), `keys[1]` raises / goes forward (+, >), the last key
confirms (OK). With five keys or more, `keys[2]` and `keys[3]` lower and raise amounts by a
whole unit (100 cents). Where a slot is asked for, a slot is picked with its own button.
A PIN is typed one press per digit, then the coin-return button as OK (see `pins`).

The machine sells only with the key off: leaving the menu with the key still on (Salir, back
at the top, no press for `timeout_s`) signs her out and says to close the door and turn the
key; the vend machine stays in service mode, inhibited, until the key really turns.

This module holds the types, the screen names and `Turn` (one `handle` call at work); the key
handling is in `keys`, what the display shows in `screens`, and `handle` in `core`. None of
them imports `core`, so the package has no import cycle."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vendd import events as ev
from vendd.commands import CancelTimer, Command, StartTimer
from vendd.machine import Reply, Slot
from vendd.money import format_money

ITEMS = ("restock", "price", "sales", "collect", "test", "status", "exit")

# screens
OFF, PIN, LOCKED, MAIN, PICK, CLOSE = "off", "pin", "locked", "main", "pick", "close"
STOCK, PRICE, SALES, COLLECT, CONFIRM, STATUS, TESTING, FIXED = (
    "stock", "price", "sales", "collect", "confirm", "status", "testing", "fixed")

log = logging.getLogger("vendd.menu")  # the menu's one logger

IDLE, NOTE, LOCK = "menu_idle", "menu_note", "menu_lock"  # timer names (controller timers)
NO_PIN_ACTOR = "service"  # who the journal names when no PINs are configured
NAME_LEN = 10  # a name shown on the display is cut here, so every screen fits 16 columns
MAX_LOCK_S = 24 * 3600.0  # the growing lock-out stops growing here


# --- what the menu is given -------------------------------------------------------------------


@dataclass(frozen=True)
class MenuSettings:
    keys: tuple[str, ...]  # the selection buttons, in config order (slot ids)
    pins: tuple[tuple[str, str], ...] = ()  # (maker id, PIN or its hash); empty: no PIN asked
    names: tuple[tuple[str, str], ...] = ()  # (maker id, name to show)
    timeout_s: float = 60.0
    pin_tries: int = 3
    lock_s: float = 300.0
    price_step: int = 25
    cash_step: int = 5  # the smallest coin
    max_price: int = 2000
    note_s: float = 4.0
    currency: str = "USD"
    decimals: int = 2

    @classmethod
    def from_config(cls, config: Any) -> MenuSettings:
        coins = config.coin_acceptor.coins if config.coin_acceptor is not None else []
        return cls(
            keys=tuple(s.id for s in config.slots),
            pins=tuple((m.id, m.pin) for m in config.makers if m.pin),
            names=tuple((m.id, m.name.split()[0][:NAME_LEN]) for m in config.makers),
            timeout_s=config.service.timeout_s,
            pin_tries=config.service.pin_tries,
            lock_s=config.service.lock_s,
            price_step=config.service.price_step,
            cash_step=min((c.value for c in coins), default=1),
            max_price=config.sales.max_credit,
            note_s=config.sales.selection_timeout_s,
            currency=config.machine.currency,
            decimals=config.machine.decimals,
        )

    def money(self, cents: int) -> str:
        return format_money(cents, self.currency, self.decimals)

    def key(self, index: int) -> str:
        return self.keys[index % len(self.keys)] if self.keys else ""

    def name(self, maker: str) -> str:
        return dict(self.names).get(maker, maker)[:NAME_LEN]

    def lock_for(self, lockouts: int) -> float:
        """How long the `lockouts`-th lock-out in a row lasts: twice the one before."""
        return min(self.lock_s * 2 ** max(lockouts - 1, 0), max(MAX_LOCK_S, self.lock_s))

    @property
    def minus(self) -> str:
        return self.key(0)

    @property
    def plus(self) -> str:
        return self.key(1)

    @property
    def ok(self) -> str:
        return self.key(-1)

    @property
    def big_minus(self) -> str | None:
        return self.keys[2] if len(self.keys) >= 5 else None

    @property
    def big_plus(self) -> str | None:
        return self.keys[3] if len(self.keys) >= 5 else None


@dataclass(frozen=True)
class MakerSales:
    """One maker's sales as the Ventas screen shows them (cents; local days)."""

    maker: str  # maker id
    today: int
    month: int
    share: int  # her part of this month's sales, split as the statements split it
    today_count: int = 0
    month_count: int = 0


@dataclass(frozen=True)
class View:
    """The machine as the menu needs to read it; built by the controller."""

    slots: Mapping[str, Slot] = field(default_factory=dict)
    cash_box: int = 0
    faults: frozenset[str] = frozenset()
    vending: str | None = None  # the slot of a vend or test turn under way
    sales: tuple[MakerSales, ...] = ()
    network: str = "unknown"  # up | down | unknown
    broker: str = "unknown"  # up | down | off | unknown


# --- events the controller gives the menu (besides buttons and TimerExpired) ------------------


@dataclass(frozen=True)
class Enter(ev.Event):
    """The machine went into service mode (the key turned)."""

    view: View


@dataclass(frozen=True)
class Leave(ev.Event):
    """The machine left service mode: the key turned back."""


@dataclass(frozen=True)
class Refresh(ev.Event):
    view: View


@dataclass(frozen=True)
class PinRecord(ev.Event):
    """At start-up, what the journal says of wrong PINs since the last sign-in: the tries
    counted towards the next lock-out, the lock-outs in a row, and how long the last one
    still has to run (0: not locked)."""

    tries: int
    lockouts: int
    locked_s: float


@dataclass(frozen=True)
class TestDone(ev.Event):
    """A test turn ended (journaled as `test_vend`); `outcome` is a VendOutcome value."""

    slot: str
    outcome: str


@dataclass(frozen=True)
class Answer(ev.Event):
    """The vend machine's reply to the last `Submit`."""

    reply: Reply


# --- commands the menu gives the controller -------------------------------------------------


@dataclass(frozen=True)
class Submit(Command):
    """Run this admin event through the vend machine (journaled) and answer with its Reply."""

    event: ev.AdminEvent


@dataclass(frozen=True)
class Record(Command):
    """A fact of the menu's own to journal: `signed_in`, `signed_out`, `pin_failed`,
    `pin_locked`. Never a PIN or any part of one."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


# --- the menu's state ---------------------------------------------------------------------------

Screen = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class MenuState:
    settings: MenuSettings
    screen: str = OFF
    actor: str = ""
    item: int = 0  # main menu cursor
    page: int = 0  # sales / status page
    action: str = ""  # what the slot picker is for: restock | price | test
    slot: str = ""
    value: int = 0  # the number being set (count, price, counted cash)
    expected: int = 0  # cash box when the count was entered
    entered: str = ""  # the PIN typed so far, keyed (see pins.py)
    tries: int = 0  # wrong PINs towards the next lock-out
    lockouts: int = 0  # lock-outs in a row since the last sign-in
    locked: bool = False
    locked_for: float = 0.0  # seconds the current lock-out lasts
    pending: str = ""  # what the awaited Answer is for
    testing: str = ""  # slot of a test turn under way
    note: Screen | None = None  # a short message over the screen until a key or its timer
    shown: Screen | None = None
    view: View = View()
    token: int = 0
    timers: tuple[tuple[str, int], ...] = ()

    @property
    def active(self) -> bool:
        return self.screen != OFF

    @property
    def signed_in(self) -> bool:
        return bool(self.actor) and self.actor != NO_PIN_ACTOR


class Turn:
    """One `handle` call at work: the state as it changes and the commands it gives."""

    def __init__(self, state: MenuState) -> None:
        self.state = state
        self.commands: list[Command] = []

    @property
    def s(self) -> MenuState:
        return self.state

    @property
    def cfg(self) -> MenuSettings:
        return self.state.settings

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def money(self, cents: int) -> str:
        return self.cfg.money(cents)

    def timer(self, name: str, seconds: float) -> None:
        token = self.s.token + 1
        timers = dict(self.s.timers) | {name: token}
        self.update(token=token, timers=tuple(sorted(timers.items())))
        self.commands.append(StartTimer(name, seconds, token))

    def cancel_timer(self, name: str) -> None:
        timers = dict(self.s.timers)
        if timers.pop(name, None) is not None:
            self.update(timers=tuple(sorted(timers.items())))
            self.commands.append(CancelTimer(name))

    def say(self, key: str, **params: str) -> None:
        self.update(note=(key, tuple(sorted(params.items()))))
        self.timer(NOTE, self.cfg.note_s)

    def submit(self, what: str, event: ev.AdminEvent) -> None:
        self.update(pending=what)
        self.commands.append(Submit(event))

    def record(self, kind: str, **fields: Any) -> None:
        self.commands.append(Record(kind, fields))

    def lock_out(self, seconds: float | None = None) -> None:
        """Locked: for `seconds` (what a restart found left), else for the next lock-out's
        time, journaled. The tries start again when it ends; the lock-outs only at a sign-in."""
        if seconds is None:
            lockouts = self.s.lockouts + 1
            seconds = self.cfg.lock_for(lockouts)
            self.update(lockouts=lockouts)
            self.record("pin_locked", seconds=round(seconds), lockouts=lockouts)
        self.update(locked=True, locked_for=seconds, entered="", tries=0,
                    screen=LOCKED if self.s.active else self.s.screen)
        self.timer(LOCK, seconds)

    def sign_out(self, reason: str) -> None:
        if self.s.signed_in:
            self.record("signed_out", by=self.s.actor, reason=reason)
        self.update(actor="")

    def exit(self, reason: str) -> None:
        """Done (Salir, back at the top, no press for a while) with the key still on: she is
        signed out and the display says what to do; the machine sells once the key is off."""
        self.sign_out(reason)
        self.update(screen=CLOSE, note=None, pending="", entered="", item=0)
        self.cancel_timer(IDLE)
        self.cancel_timer(NOTE)
