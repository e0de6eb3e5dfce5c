"""The vend state machine: pure, no I/O. `handle(state, event)` returns the next state and the
commands: the `Fact`s (journaled first, in one transaction) and what the devices must do.

Credit is what the journal says it is: every change of `credit` here is paired with the fact
that makes the ledger agree (see ledger/projection.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

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


class _Out:
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


Handler = Callable[[_Out, Any], None]
_HANDLERS: dict[type, Handler] = {}


def on(event_type: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[event_type] = fn
        return fn

    return register


def handle(state: State, event: ev.Event) -> Step:
    out = _Out(state)
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


def _settle(out: _Out, mode_before: Mode) -> None:
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


def base_screen(out: _Out) -> Show:
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
        case Mode.CREDIT:
            return Show("credit", {"credit": out.money(s.credit)})
        case _ if s.exact_change:
            return Show("exact_change")
        case _:
            return Show("welcome")


# --- start-up ---------------------------------------------------------------------------------


@on(ev.Started)
def _started(out: _Out, event: ev.Started) -> None:
    out.update(mode=Mode.IDLE)
    if out.state.credit > 0:
        out.timer("unclaimed", out.state.settings.unclaimed_credit_s)


# --- money in -----------------------------------------------------------------------------------


@on(ev.CreditInserted)
def _credit(out: _Out, event: ev.CreditInserted) -> None:
    # Money that reached the cash box is always credited, whatever the mode: it is the buyer's.
    out.fact("credit", device=event.device, amount=event.amount, label=event.label,
             route=event.route)
    out.update(credit=out.state.credit + event.amount,
               cash_box=out.state.cash_box + (event.amount if event.route != "tubes" else 0))
    out.timer("unclaimed", out.state.settings.unclaimed_credit_s)


@on(ev.BillEscrowed)
def _bill_escrowed(out: _Out, event: ev.BillEscrowed) -> None:
    """Stack a bill only when its credit can be used now; else it goes back to the buyer.
    The credit comes with the stacked bill's CreditInserted, never before."""
    s = out.state
    total = s.credit + event.amount
    prices = [slot.price for slot in s.slots.values() if slot.sellable]
    usable = (s.accepting and event.device not in s.faults and total <= s.settings.max_credit
              and bool(prices))
    if usable and s.exact_change and total > max(prices):
        usable = False  # it would need change the tubes cannot give
    out.do(EscrowDecision(event.device, usable))
    if not usable:
        out.say("bill_returned")


@on(ev.ChangeAvailability)
def _change_availability(out: _Out, event: ev.ChangeAvailability) -> None:
    out.update(exact_change=not event.can_make_change)  # _settle shows the idle screen


@on(ev.CoinRejected)
def _rejected(out: _Out, event: ev.CoinRejected) -> None:
    pass  # counted by the driver; nothing for the buyer to read


# --- selection and vending --------------------------------------------------------------------


@on(ev.SelectionPressed)
def _selection(out: _Out, event: ev.SelectionPressed) -> None:
    s = out.state
    if s.mode in (Mode.VENDING, Mode.PAYING_OUT, Mode.SERVICE, Mode.STARTING):
        return  # the service menu gets the buttons in service mode; a vend is under way
    slot = s.slots.get(event.slot)
    if slot is None:
        out.say("unknown_slot", slot=event.slot)
    elif s.mode is Mode.OUT_OF_SERVICE:
        out.say("out_of_service")  # the credit stays; it is not lost
    elif not slot.enabled or slot.fault is not None:
        out.say("slot_unavailable", slot=slot.id)
    elif slot.stock <= 0:
        out.say("sold_out", slot=slot.id)
    elif s.credit >= slot.price:
        _start_vend(out, slot, "cash")
    elif s.card_device is not None and s.credit == 0:
        out.update(card_slot=slot.id)
        out.do(CardVendRequest(slot.price, slot.id))
        out.say("card_wait", price=out.money(slot.price))
    elif s.credit == 0:
        out.say("price", slot=slot.id, price=out.money(slot.price))
    else:
        out.say("insert_more", slot=slot.id, price=out.money(slot.price),
                credit=out.money(s.credit))


def _start_vend(out: _Out, slot: Slot, payment: str, actor: str = "") -> None:
    s = out.state
    vend = Vend(s.last_vend_id + 1, slot.id, slot.price if payment != "test" else 0, payment,
                actor)
    out.fact("vend_intent", vend=vend.vend_id, slot=slot.id, price=vend.price, payment=payment,
             product=slot.product, maker=slot.maker)
    held = vend.price if payment == "cash" else 0
    out.update(vend=vend, last_vend_id=vend.vend_id, credit=s.credit - held)
    out.do(CancelTimer("unclaimed"))
    out.do(StartVend(vend.vend_id, slot.id))


@on(ev.VendFinished)
def _vend_finished(out: _Out, event: ev.VendFinished) -> None:
    vend = out.state.vend
    if vend is None or vend.vend_id != event.vend_id:
        return  # a stale report (already resolved at start-up): nothing to do
    slot = out.state.slots[vend.slot]
    delivered = event.outcome is ev.VendOutcome.DELIVERED
    out.update(vend=None)
    if vend.payment == "test":
        out.fact("test_vend", vend=vend.vend_id, slot=slot.id, outcome=event.outcome.value,
                 turns=event.turns, by=vend.actor)
        if delivered:
            out.set_slot(slot.id, stock=max(slot.stock - 1, 0))
        _keep_credit_timer(out)
        return
    if delivered:
        out.fact("sale", vend=vend.vend_id, slot=slot.id, product=slot.product,
                 maker=slot.maker, price=vend.price, payment=vend.payment, turns=event.turns)
        out.set_slot(slot.id, stock=slot.stock - 1)
        out.say("thanks")
    else:
        out.fact("vend_failed", vend=vend.vend_id, slot=slot.id, outcome=event.outcome.value,
                 price=vend.price, payment=vend.payment)
        out.set_slot(slot.id, fault=event.outcome.value)
        restored = vend.price if vend.payment == "cash" else 0
        out.update(credit=out.state.credit + restored)
        out.say("vend_failed", slot=slot.id)
    if vend.payment == "card":
        out.do(CardVendResult(slot.id, delivered))
        out.do(CardSessionComplete())
        _keep_credit_timer(out)
    elif out.state.credit > 0:
        _return_credit(out, reason="change", quiet=True)


def _keep_credit_timer(out: _Out) -> None:
    """Cash credit left on the machine always has an unclaimed timer running."""
    if out.state.credit > 0:
        out.timer("unclaimed", out.state.settings.unclaimed_credit_s)


def _return_credit(out: _Out, reason: str, quiet: bool = False) -> None:
    """Pay unspent credit back where a changer can; else keep it for the next purchase."""
    credit = out.state.credit
    if out.state.settings.has_changer and CHANGER not in out.state.faults:
        out.update(payout=credit)
        out.do(PayOut(credit))
        return
    out.timer("unclaimed", out.state.settings.unclaimed_credit_s)
    if not quiet:
        out.say("credit_kept", credit=out.money(credit))


@on(ev.PayoutFinished)
def _payout(out: _Out, event: ev.PayoutFinished) -> None:
    requested = out.state.payout
    if not requested:
        # Coins the machine did not ask for (a changer's own dispense): not the credit's.
        out.fact("device_fault", device=event.device, code="unexpected_payout",
                 detail=f"{event.paid} paid out unasked", blocking=False)
        return
    owed = max(requested - event.paid, 0)
    out.fact("payout", device=event.device, amount=requested, paid=event.paid, owed=owed)
    out.update(payout=0, credit=out.state.credit - requested)
    if owed:
        out.say("owed", amount=out.money(owed))


@on(ev.CancelPressed)
def _cancel(out: _Out, event: ev.CancelPressed) -> None:
    s = out.state
    if s.mode in (Mode.VENDING, Mode.PAYING_OUT, Mode.SERVICE):
        return
    if s.card_device is not None and s.credit == 0:
        out.do(CardSessionComplete())
        out.update(card_slot=None)
        return
    if s.credit > 0:
        _return_credit(out, reason="refund")


@on(ev.TimerExpired)
def _timer(out: _Out, event: ev.TimerExpired) -> None:
    s = out.state
    if event.name == "message" and event.token == s.timer_token:
        out.update(screen=("", ()), message_shown=False)  # _settle shows the base screen
    elif event.name == "message":
        return  # a newer message replaced it
    elif event.name == "unclaimed" and s.credit > 0 and s.mode in (Mode.IDLE, Mode.CREDIT):
        out.fact("unclaimed", amount=s.credit)
        out.update(credit=0)
        out.say("credit_expired")
    elif event.name == "unclaimed" and s.credit > 0:
        # The machine cannot sell right now (a fault, the service key, a vend): the buyer
        # could not have spent it, so the credit waits another full period.
        out.timer("unclaimed", s.settings.unclaimed_credit_s)


# --- cards --------------------------------------------------------------------------------------


@on(ev.CardSessionBegun)
def _card_begun(out: _Out, event: ev.CardSessionBegun) -> None:
    out.update(card_device=event.device)


@on(ev.CardVendApproved)
def _card_approved(out: _Out, event: ev.CardVendApproved) -> None:
    s = out.state
    slot = s.slots.get(s.card_slot or "")
    out.update(card_slot=None)
    if (slot is None or not slot.sellable or s.vend is not None
            or s.mode not in (Mode.IDLE, Mode.CREDIT)):
        out.do(CardVendResult(s.card_slot or "", False))  # approved too late: never charge
        return
    out.fact("card_approved", device=event.device, amount=event.amount, slot=slot.id)
    _start_vend(out, slot, "card")


@on(ev.CardVendDenied)
def _card_denied(out: _Out, event: ev.CardVendDenied) -> None:
    out.fact("card_denied", device=event.device, slot=out.state.card_slot or "")
    out.update(card_slot=None)
    out.say("card_denied")


@on(ev.CardSessionEnded)
def _card_ended(out: _Out, event: ev.CardSessionEnded) -> None:
    out.update(card_device=None, card_slot=None)


# --- devices --------------------------------------------------------------------------------


@on(ev.DeviceFault)
def _fault(out: _Out, event: ev.DeviceFault) -> None:
    already = event.device in out.state.faults
    if event.blocking and already:
        return  # still down: journaled once, not once per retry
    out.fact("device_fault", device=event.device, code=event.code, detail=event.detail,
             blocking=event.blocking)
    if event.blocking:
        out.update(faults=out.state.faults | {event.device})


@on(ev.DeviceRecovered)
def _recovered(out: _Out, event: ev.DeviceRecovered) -> None:
    if event.device in out.state.faults:
        out.fact("device_recovered", device=event.device)
        out.update(faults=out.state.faults - {event.device})


@on(ev.Stopping)
def _stopping(out: _Out, event: ev.Stopping) -> None:
    out.update(stopping=True)


@on(ev.ServiceKey)
def _service_key(out: _Out, event: ev.ServiceKey) -> None:
    if event.on != out.state.service_key:
        out.fact("service_key", on=event.on)
        out.update(service_key=event.on)


# --- changes by people: each is journaled with who made it and answered with a Reply ----------


def _refuse(out: _Out, error: str) -> None:
    out.do(Reply(False, error))


def _known_slot(out: _Out, slot_id: str) -> Slot | None:
    slot = out.state.slots.get(slot_id)
    if slot is None:
        _refuse(out, f"unknown slot {slot_id!r}")
    return slot


@on(ev.SetPrice)
def _set_price(out: _Out, event: ev.SetPrice) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if not 0 < event.price <= out.state.settings.max_credit:
        _refuse(out, f"price {event.price} out of range 1..{out.state.settings.max_credit}")
        return
    out.fact("price_set", slot=slot.id, price=event.price, before=slot.price, by=event.actor)
    out.set_slot(slot.id, price=event.price)
    out.do(Reply(True))


@on(ev.SetStock)
def _set_stock(out: _Out, event: ev.SetStock) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if not 0 <= event.stock <= slot.capacity:
        _refuse(out, f"stock {event.stock} out of range 0..{slot.capacity} for {slot.id}")
        return
    if out.state.vend is not None and out.state.vend.slot == slot.id:
        _refuse(out, f"{slot.id} is vending now")
        return
    out.fact("stock_set", slot=slot.id, before=slot.stock, after=event.stock,
             reason=event.reason, by=event.actor)
    out.set_slot(slot.id, stock=event.stock)
    out.do(Reply(True))


@on(ev.SetSlotEnabled)
def _set_enabled(out: _Out, event: ev.SetSlotEnabled) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if slot.enabled != event.enabled:
        out.fact("slot_enabled", slot=slot.id, enabled=event.enabled, by=event.actor)
        out.set_slot(slot.id, enabled=event.enabled)
    out.do(Reply(True))


@on(ev.ClearSlotFault)
def _clear_fault(out: _Out, event: ev.ClearSlotFault) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if slot.fault is not None:
        out.fact("slot_fault_cleared", slot=slot.id, fault=slot.fault, by=event.actor)
        out.set_slot(slot.id, fault=None)
    out.do(Reply(True))


@on(ev.SetOutOfService)
def _out_of_service(out: _Out, event: ev.SetOutOfService) -> None:
    if bool(out.state.out_of_service) != event.out_of_service:
        reason = (event.reason or "service") if event.out_of_service else None
        out.fact("service_mode", out_of_service=event.out_of_service, reason=reason or "",
                 by=event.actor)
        out.update(out_of_service=reason)
    out.do(Reply(True))


@on(ev.CollectCash)
def _collect(out: _Out, event: ev.CollectCash) -> None:
    if event.counted < 0:
        _refuse(out, "counted amount cannot be negative")
        return
    expected = out.state.cash_box
    out.fact("cash_collected", expected=expected, counted=event.counted,
             difference=event.counted - expected, by=event.actor)
    out.update(cash_box=0)
    out.do(Reply(True))


@on(ev.TestVend)
def _test_vend(out: _Out, event: ev.TestVend) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if out.state.mode is not Mode.SERVICE or out.state.vend is not None:
        _refuse(out, "a test turn needs the service key and no vend under way")
        return
    _start_vend(out, slot, "test", event.actor)
    out.do(Reply(True))
