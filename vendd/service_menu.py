"""The seamstresses' service menu on the selection buttons and the display: pure, no I/O.

`handle(state, event) -> (state, commands)`, like the vend machine. The controller routes the
buttons (and the menu's own `menu_*` timers) here while the service key is on, gives the menu
what it needs to read as a `View` (slots, cash box, faults, sales per maker, links) in `Enter`
and `Refresh` events, runs each `Submit`ted admin event through the vend machine (which journals
it with the maker's id) and hands the machine's `Reply` back as an `Answer`.

Keys. The selection buttons in config order are the keys; the coin-return button is "back".
Three of them take a second role in the menu, shown on the display's second line:
`keys[0]` lowers / goes back a page (-, <), `keys[1]` raises / goes forward (+, >), the last key
confirms (OK). With five keys or more, `keys[2]` and `keys[3]` lower and raise amounts by a
whole unit (100 cents). Where a slot is asked for, a slot is picked with its own button.
A PIN is typed digit by digit: with ten keys or more the keys are the digits 1..9, 0 in order;
with fewer, each digit is chosen with - and + and confirmed with OK.

Restocking a full machine: OK on "Reponer", then for each slot its button and OK (the count
offered is the slot's capacity): three presses for the first slot, two for each next one."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vendd import events as ev
from vendd.commands import CancelTimer, Command, Show, StartTimer
from vendd.machine import Reply, Slot
from vendd.money import format_money

log = logging.getLogger(__name__)

ITEMS = ("restock", "price", "sales", "collect", "test", "status", "exit")
IDLE, NOTE, LOCK = "menu_idle", "menu_note", "menu_lock"  # timer names (controller timers)
BIG_STEP = 100  # cents: one press of the big -/+ keys
NO_PIN_ACTOR = "service"  # who the journal names when no PINs are configured

# screens
OFF, PIN, LOCKED, MAIN, PICK = "off", "pin", "locked", "main", "pick"
STOCK, PRICE, SALES, COLLECT, STATUS, TESTING = (
    "stock", "price", "sales", "collect", "status", "testing")


# --- what the menu is given -------------------------------------------------------------------


@dataclass(frozen=True)
class MenuSettings:
    keys: tuple[str, ...]  # the selection buttons, in config order (slot ids)
    pins: tuple[tuple[str, str], ...] = ()  # (maker id, PIN); empty: no PIN asked
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
            names=tuple((m.id, m.name.split()[0]) for m in config.makers),
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

    def key(self, index: int) -> str:
        return self.keys[index % len(self.keys)] if self.keys else ""

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

    @property
    def digit_keys(self) -> bool:
        return len(self.keys) >= 10


@dataclass(frozen=True)
class MakerSales:
    maker: str  # the name to show
    today: int  # cents sold today (local day)
    since: int  # cents sold since the last cash collection
    today_count: int = 0
    since_count: int = 0


@dataclass(frozen=True)
class View:
    """The machine as the menu needs to read it; built by the controller."""

    slots: Mapping[str, Slot] = field(default_factory=dict)
    cash_box: int = 0
    faults: frozenset[str] = frozenset()
    vending: str | None = None  # the slot of a vend or test turn under way
    sales: tuple[MakerSales, ...] = ()
    network: str = "unknown"  # up | down | unknown
    broker: str = "unknown"


# --- events the controller gives the menu (besides buttons and TimerExpired) ------------------


@dataclass(frozen=True)
class Enter(ev.Event):
    """The machine went into service mode (the key turned)."""

    view: View


@dataclass(frozen=True)
class Leave(ev.Event):
    """The machine left service mode (the key turned back, or the menu asked)."""


@dataclass(frozen=True)
class Refresh(ev.Event):
    view: View


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
class ExitService(Command):
    """Back to sale although the key is still on (Salir, or no press for `timeout_s`)."""


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
    entered: str = ""  # PIN digits typed so far
    digit: int = 0  # the PIN digit being chosen with - and +
    tries: int = 0
    locked: bool = False
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


class _M:
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
        return format_money(cents, self.cfg.currency, self.cfg.decimals)

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

    def exit(self) -> None:
        self.update(screen=OFF, note=None, pending="", actor="", entered="", digit=0)
        self.cancel_timer(IDLE)
        self.cancel_timer(NOTE)
        self.commands.append(ExitService())


def initial(settings: MenuSettings) -> MenuState:
    return MenuState(settings)


def wants(event: ev.Event) -> bool:
    """Events the controller gives the menu rather than the machine while the key is on."""
    return isinstance(event, ev.SelectionPressed | ev.CancelPressed)


def is_menu_timer(event: ev.Event) -> bool:
    return isinstance(event, ev.TimerExpired) and event.name.startswith("menu_")


def handle(state: MenuState, event: ev.Event) -> tuple[MenuState, list[Command]]:
    m = _M(state)
    match event:
        case Enter(view=view):
            m.update(view=view)
            _enter(m)
        case Leave():
            m.update(screen=OFF, note=None, pending="", actor="", entered="", digit=0,
                     testing="")
            m.cancel_timer(IDLE)
            m.cancel_timer(NOTE)
        case Refresh(view=view):
            m.update(view=view)
        case TestDone(slot=slot, outcome=outcome):
            _test_done(m, slot, outcome)
        case Answer(reply=reply):
            _answer(m, reply)
        case ev.TimerExpired(name=name, token=token):
            _timer(m, name, token)
        case ev.SelectionPressed(slot=key) if m.s.active:
            _pressed(m, key)
        case ev.CancelPressed() if m.s.active:
            _pressed(m, None)
    if m.s.active:
        _render(m)
    else:
        m.update(shown=None)
    return m.state, m.commands


def _pressed(m: _M, key: str | None) -> None:
    m.update(note=None)
    m.timer(IDLE, m.cfg.timeout_s)
    if m.s.pending:
        return  # waiting for the machine's answer (in the same loop turn: never seen)
    _KEYS[m.s.screen](m, key)


# --- entering, leaving, timers ----------------------------------------------------------------


def _enter(m: _M) -> None:
    m.update(note=None, pending="", testing="", entered="", digit=0, item=0, page=0)
    if m.s.locked:
        m.update(screen=LOCKED)
    elif m.cfg.pins:
        m.update(screen=PIN, actor="")
    else:
        m.update(screen=MAIN, actor=NO_PIN_ACTOR)
    m.timer(IDLE, m.cfg.timeout_s)


def _timer(m: _M, name: str, token: int) -> None:
    if dict(m.s.timers).get(name) != token:
        return  # restarted or cancelled since
    m.update(timers=tuple((n, t) for n, t in m.s.timers if n != name))
    if name == IDLE and m.s.active:
        log.info("service menu: no press for %ss, back to sale", m.cfg.timeout_s)
        m.exit()
    elif name == NOTE:
        m.update(note=None)
    elif name == LOCK:
        m.update(locked=False, tries=0)
        if m.s.screen == LOCKED:
            m.update(screen=PIN)


# --- the PIN ------------------------------------------------------------------------------------


def _pin_key(m: _M, key: str | None) -> None:
    cfg = m.cfg
    if key is None:
        m.update(entered=m.s.entered[:-1], digit=0)
    elif cfg.digit_keys:
        if key in cfg.keys:
            _pin_digit(m, (cfg.keys.index(key) + 1) % 10)
    elif key == cfg.minus:
        m.update(digit=(m.s.digit - 1) % 10)
    elif key == cfg.plus:
        m.update(digit=(m.s.digit + 1) % 10)
    elif key == cfg.ok:
        _pin_digit(m, m.s.digit)


def _pin_digit(m: _M, digit: int) -> None:
    entered = m.s.entered + str(digit)
    m.update(entered=entered, digit=0)
    maker = next((who for who, pin in m.cfg.pins if pin == entered), None)
    if maker is not None:
        log.info("service menu: %s signed in", maker)
        m.update(actor=maker, tries=0, entered="", screen=MAIN, item=0)
        m.say("svc_hello", maker=dict(m.cfg.names).get(maker, maker), item_label=ITEMS[0])
    elif len(entered) >= max(len(pin) for _, pin in m.cfg.pins):
        tries = m.s.tries + 1
        log.warning("service menu: wrong PIN (%d of %d)", tries, m.cfg.pin_tries)
        m.update(entered="", tries=tries)
        if tries >= m.cfg.pin_tries:
            m.update(locked=True, screen=LOCKED)
            m.timer(LOCK, m.cfg.lock_s)
        else:
            m.say("svc_pin_wrong", left=str(m.cfg.pin_tries - tries))


def _locked_key(m: _M, key: str | None) -> None:
    pass


# --- the main menu and the slot picker ----------------------------------------------------------


def _main_key(m: _M, key: str | None) -> None:
    cfg = m.cfg
    if key is None:
        m.exit()
    elif key == cfg.minus:
        m.update(item=(m.s.item - 1) % len(ITEMS))
    elif key == cfg.plus:
        m.update(item=(m.s.item + 1) % len(ITEMS))
    elif key == cfg.ok:
        item = ITEMS[m.s.item]
        if item in ("restock", "price", "test"):
            m.update(screen=PICK, action=item)
        elif item == "sales":
            mine = dict(m.cfg.names).get(m.s.actor)
            names = [s.maker for s in m.s.view.sales]
            m.update(screen=SALES, page=names.index(mine) if mine in names else 0)
        elif item == "collect":
            m.update(screen=COLLECT, expected=m.s.view.cash_box, value=m.s.view.cash_box)
        elif item == "status":
            m.update(screen=STATUS, page=0)
        else:
            m.exit()


def _pick_key(m: _M, key: str | None) -> None:
    if key is None:
        m.update(screen=MAIN)
        return
    slot = m.s.view.slots.get(key)
    if slot is None:
        return
    if m.s.view.vending is not None:
        m.say("svc_busy")
    elif m.s.action == "restock":
        m.update(screen=STOCK, slot=key, value=slot.capacity)
    elif m.s.action == "price":
        m.update(screen=PRICE, slot=key, value=slot.price)
    else:
        m.update(slot=key, testing=key)
        m.submit("test", ev.TestVend(m.s.actor, key))


def _stock_key(m: _M, key: str | None) -> None:
    slot = m.s.view.slots[m.s.slot]
    if key is None:
        m.update(screen=PICK)
    elif key == m.cfg.minus:
        m.update(value=max(m.s.value - 1, 0))
    elif key == m.cfg.plus:
        if m.s.value + 1 > slot.capacity:
            m.say("svc_stock_max", slot=slot.id, capacity=str(slot.capacity))
        else:
            m.update(value=m.s.value + 1)
    elif key == m.cfg.ok:
        reason = "restock" if m.s.value >= slot.stock else "adjust"
        m.submit("stock", ev.SetStock(m.s.actor, slot.id, m.s.value, reason))


def _step_of(m: _M, key: str, small: int) -> int:
    cfg = m.cfg
    return {cfg.minus: -small, cfg.plus: small}.get(key) or {
        cfg.big_minus: -BIG_STEP, cfg.big_plus: BIG_STEP}.get(key, 0)


def _price_key(m: _M, key: str | None) -> None:
    if key is None:
        m.update(screen=PICK)
    elif key == m.cfg.ok:
        m.submit("price", ev.SetPrice(m.s.actor, m.s.slot, m.s.value))
    elif step := _step_of(m, key, m.cfg.price_step):
        price = m.s.value + step
        if 0 < price <= m.cfg.max_price:
            m.update(value=price)
        else:
            m.say("svc_price_range", low=m.money(m.cfg.price_step if step < 0 else 1),
                  high=m.money(m.cfg.max_price))


def _testing_key(m: _M, key: str | None) -> None:
    if key is None:
        m.update(screen=PICK)


# --- sales, cash, status --------------------------------------------------------------------


def _sales_key(m: _M, key: str | None) -> None:
    pages = max(len(m.s.view.sales), 1)
    if key is None or key == m.cfg.ok:
        m.update(screen=MAIN)
    elif key == m.cfg.minus:
        m.update(page=(m.s.page - 1) % pages)
    elif key == m.cfg.plus:
        m.update(page=(m.s.page + 1) % pages)


def _collect_key(m: _M, key: str | None) -> None:
    if key is None:
        m.update(screen=MAIN)
    elif key == m.cfg.ok:
        m.submit("collect", ev.CollectCash(m.s.actor, m.s.value))
    elif step := _step_of(m, key, m.cfg.cash_step):
        m.update(value=max(m.s.value + step, 0))


def _status_pages(m: _M) -> list[tuple[str, dict[str, str]]]:
    v = m.s.view
    pages = [("svc_status_link", {"network_label": v.network, "broker_label": v.broker})]
    pages += [("svc_status_device", {"device": d}) for d in sorted(v.faults)]
    pages += [("svc_status_slot", {"slot": s.id, "fault_label": s.fault or "fault"})
              for s in v.slots.values() if s.fault is not None]
    if len(pages) == 1 and v.network != "down" and v.broker != "down":
        pages.append(("svc_status_ok", {}))
    return pages


def _status_key(m: _M, key: str | None) -> None:
    pages = _status_pages(m)
    page = min(m.s.page, len(pages) - 1)
    if key is None:
        m.update(screen=MAIN)
    elif key == m.cfg.minus:
        m.update(page=(page - 1) % len(pages))
    elif key == m.cfg.plus:
        m.update(page=(page + 1) % len(pages))
    elif key == m.cfg.ok and pages[page][0] == "svc_status_slot":
        slot = pages[page][1]["slot"]
        m.update(slot=slot)
        m.submit("clear", ev.ClearSlotFault(m.s.actor, slot))


_KEYS = {PIN: _pin_key, LOCKED: _locked_key, MAIN: _main_key, PICK: _pick_key,
         STOCK: _stock_key, PRICE: _price_key, TESTING: _testing_key, SALES: _sales_key,
         COLLECT: _collect_key, STATUS: _status_key}


# --- the machine's answers ----------------------------------------------------------------------


def _answer(m: _M, reply: Reply) -> None:
    what, s = m.s.pending, m.s
    m.update(pending="")
    if not what:
        return
    if not reply.ok:
        log.warning("service menu: %s refused: %s", what, reply.error)
        m.update(testing="")
        m.say("svc_refused", slot=s.slot if what != "collect" else "")
        return
    slot = s.view.slots.get(s.slot)
    if what == "stock" and slot is not None:
        m.update(screen=PICK)
        m.say("svc_stock_saved", slot=slot.id, target=str(s.value),
              capacity=str(slot.capacity))
    elif what == "price":
        m.update(screen=PICK)
        m.say("svc_price_saved", slot=s.slot, price=m.money(s.value))
    elif what == "collect":
        m.update(screen=MAIN)
        m.say("svc_collected", counted=m.money(s.value),
              difference=m.money(s.value - s.expected))
    elif what == "clear":
        m.update(page=0)
        m.say("svc_fault_cleared", slot=s.slot)
    elif what == "test" and s.testing:
        m.update(screen=TESTING)


def _test_done(m: _M, slot: str, outcome: str) -> None:
    if m.s.testing != slot:
        return
    m.update(testing="")
    if m.s.screen == TESTING:
        m.update(screen=PICK)
    if m.s.active:
        m.say("svc_test_done", slot=slot, outcome_label=outcome)


# --- the display ------------------------------------------------------------------------------


def screen_of(state: MenuState) -> tuple[str, dict[str, str]] | None:
    """What the display should show now (a catalogue key and its parameters)."""
    s, cfg = state, state.settings
    money = _Money(cfg)
    hints = {"minus": cfg.minus, "plus": cfg.plus, "ok": cfg.ok}
    if s.note is not None:
        return s.note[0], dict(s.note[1]) | hints
    match s.screen:
        case "off":
            return None
        case "pin":
            typed = "*" * len(s.entered)
            if cfg.digit_keys:
                return "svc_pin_digits", {"entered": typed + "_"}
            return "svc_pin", {"entered": typed + str(s.digit)} | hints
        case "locked":
            return "svc_locked", {"minutes": str(math.ceil(cfg.lock_s / 60))}
        case "main":
            return "svc_menu", {"item_label": ITEMS[s.item]} | hints
        case "pick":
            return "svc_pick_slot", {"item_label": s.action}
        case "testing":
            return "svc_test_running", {"slot": s.testing or s.slot}
        case "stock":
            slot = s.view.slots[s.slot]
            return "svc_stock", {"slot": slot.id, "stock": str(slot.stock),
                                 "target": str(s.value), "capacity": str(slot.capacity)} | hints
        case "price":
            slot = s.view.slots[s.slot]
            return "svc_price", {"slot": slot.id, "before": money(slot.price),
                                 "price": money(s.value)} | hints
        case "sales":
            if not s.view.sales:
                return "svc_sales_none", {}
            row = s.view.sales[min(s.page, len(s.view.sales) - 1)]
            return "svc_sales", {"maker": row.maker, "today": money(row.today),
                                 "since": money(row.since), "count": str(row.since_count),
                                 "today_count": str(row.today_count)}
        case "collect":
            return "svc_collect", {"expected": money(s.expected), "counted": money(s.value)}
        case "status":
            pages = _status_pages(_M(s))
            key, params = pages[min(s.page, len(pages) - 1)]
            return key, params | hints
    return None


class _Money:
    def __init__(self, cfg: MenuSettings) -> None:
        self.cfg = cfg

    def __call__(self, cents: int) -> str:
        return format_money(cents, self.cfg.currency, self.cfg.decimals)


def _render(m: _M) -> None:
    screen = screen_of(m.s)
    if screen is None:
        return
    key, params = screen
    shown = (key, tuple(sorted(params.items())))
    if shown != m.s.shown:
        m.update(shown=shown)
        m.commands.append(Show(key, params))
