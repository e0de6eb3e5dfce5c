"""The vend state machine's handlers for buyers and devices: money in, selections, vends,
payouts, timers, cards, faults. Pure; listed in HANDLERS at the bottom."""

from __future__ import annotations

from vendd import events as ev
from vendd.commands import (
    CancelTimer,
    CardSessionComplete,
    CardVendRequest,
    CardVendResult,
    EscrowDecision,
    PayOut,
    StartVend,
)
from vendd.machine.state import CHANGER, Mode, Slot, Vend
from vendd.machine.step import Handler, Out

# --- start-up ---------------------------------------------------------------------------------


def _started(out: Out, event: ev.Started) -> None:
    out.update(mode=Mode.IDLE)
    if out.state.credit > 0:
        out.timer("unclaimed", out.state.settings.unclaimed_credit_s)


# --- money in -----------------------------------------------------------------------------------


def _credit(out: Out, event: ev.CreditInserted) -> None:
    # Money that reached the cash box is always credited, whatever the mode: it is the buyer's.
    mark = {} if event.counter is None else {"serial": event.serial, "counter": event.counter}
    out.fact("credit", device=event.device, amount=event.amount, label=event.label,
             route=event.route, **mark)
    out.update(credit=out.state.credit + event.amount,
               cash_box=out.state.cash_box + (event.amount if event.route != "tubes" else 0))
    out.timer("unclaimed", out.state.settings.unclaimed_credit_s)


def _coin_counter(out: Out, event: ev.CoinCounter) -> None:
    out.fact("coin_counter", device=event.device, serial=event.serial, counter=event.counter,
             reason=event.reason)


def _bill_escrowed(out: Out, event: ev.BillEscrowed) -> None:
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


def _change_availability(out: Out, event: ev.ChangeAvailability) -> None:
    out.update(exact_change=not event.can_make_change)  # _settle shows the idle screen


def _rejected(out: Out, event: ev.CoinRejected) -> None:
    pass  # counted by the driver; nothing for the buyer to read


# --- selection and vending --------------------------------------------------------------------


def _selection(out: Out, event: ev.SelectionPressed) -> None:
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
        start_vend(out, slot, "cash")
    elif s.card_device is not None and s.credit == 0:
        out.update(card_slot=slot.id)
        out.do(CardVendRequest(slot.price, slot.id))
        out.say("card_wait", price=out.money(slot.price))
    elif s.credit == 0:
        out.say("price", slot=slot.id, price=out.money(slot.price))
    else:
        out.say("insert_more", slot=slot.id, price=out.money(slot.price),
                credit=out.money(s.credit))


def start_vend(out: Out, slot: Slot, payment: str, actor: str = "") -> None:
    s = out.state
    vend = Vend(s.last_vend_id + 1, slot.id, slot.price if payment != "test" else 0, payment,
                actor)
    out.fact("vend_intent", vend=vend.vend_id, slot=slot.id, price=vend.price, payment=payment,
             product=slot.product, maker=slot.maker)
    held = vend.price if payment == "cash" else 0
    out.update(vend=vend, last_vend_id=vend.vend_id, credit=s.credit - held)
    out.do(CancelTimer("unclaimed"))
    out.do(StartVend(vend.vend_id, slot.id))


def _vend_finished(out: Out, event: ev.VendFinished) -> None:
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


def _keep_credit_timer(out: Out) -> None:
    """Cash credit left on the machine always has an unclaimed timer running."""
    if out.state.credit > 0:
        out.timer("unclaimed", out.state.settings.unclaimed_credit_s)


def _return_credit(out: Out, reason: str, quiet: bool = False) -> None:
    """Pay unspent credit back where a changer can; else keep it for the next purchase."""
    credit = out.state.credit
    if out.state.settings.has_changer and CHANGER not in out.state.faults:
        out.update(payout=credit)
        out.do(PayOut(credit))
        return
    out.timer("unclaimed", out.state.settings.unclaimed_credit_s)
    if not quiet:
        out.say("credit_kept", credit=out.money(credit))


def _payout(out: Out, event: ev.PayoutFinished) -> None:
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


def _cancel(out: Out, event: ev.CancelPressed) -> None:
    s = out.state
    if s.mode in (Mode.VENDING, Mode.PAYING_OUT, Mode.SERVICE):
        return
    if s.card_device is not None and s.credit == 0:
        out.do(CardSessionComplete())
        out.update(card_slot=None)
        return
    if s.credit > 0:
        _return_credit(out, reason="refund")


def _timer(out: Out, event: ev.TimerExpired) -> None:
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


def _card_begun(out: Out, event: ev.CardSessionBegun) -> None:
    out.update(card_device=event.device)


def _card_approved(out: Out, event: ev.CardVendApproved) -> None:
    s = out.state
    slot = s.slots.get(s.card_slot or "")
    out.update(card_slot=None)
    if (slot is None or not slot.sellable or s.vend is not None
            or s.mode not in (Mode.IDLE, Mode.CREDIT)):
        out.do(CardVendResult(s.card_slot or "", False))  # approved too late: never charge
        return
    out.fact("card_approved", device=event.device, amount=event.amount, slot=slot.id)
    start_vend(out, slot, "card")


def _card_denied(out: Out, event: ev.CardVendDenied) -> None:
    out.fact("card_denied", device=event.device, slot=out.state.card_slot or "")
    out.update(card_slot=None)
    out.say("card_denied")


def _card_ended(out: Out, event: ev.CardSessionEnded) -> None:
    out.update(card_device=None, card_slot=None)


# --- devices --------------------------------------------------------------------------------


def _fault(out: Out, event: ev.DeviceFault) -> None:
    already = event.device in out.state.faults
    if event.blocking and already:
        return  # still down: journaled once, not once per retry
    count = {} if event.count is None else {"count": event.count}
    out.fact("device_fault", device=event.device, code=event.code, detail=event.detail,
             blocking=event.blocking, **count)
    if event.blocking:
        out.update(faults=out.state.faults | {event.device})


def _recovered(out: Out, event: ev.DeviceRecovered) -> None:
    if event.device in out.state.faults:
        out.fact("device_recovered", device=event.device)
        out.update(faults=out.state.faults - {event.device})


def _stopping(out: Out, event: ev.Stopping) -> None:
    out.update(stopping=True)


def _service_key(out: Out, event: ev.ServiceKey) -> None:
    if event.on != out.state.service_key:
        out.fact("service_key", on=event.on)
        out.update(service_key=event.on)


HANDLERS: dict[type, Handler] = {
    ev.Started: _started,
    ev.CreditInserted: _credit,
    ev.CoinCounter: _coin_counter,
    ev.BillEscrowed: _bill_escrowed,
    ev.ChangeAvailability: _change_availability,
    ev.CoinRejected: _rejected,
    ev.SelectionPressed: _selection,
    ev.VendFinished: _vend_finished,
    ev.PayoutFinished: _payout,
    ev.CancelPressed: _cancel,
    ev.TimerExpired: _timer,
    ev.CardSessionBegun: _card_begun,
    ev.CardVendApproved: _card_approved,
    ev.CardVendDenied: _card_denied,
    ev.CardSessionEnded: _card_ended,
    ev.DeviceFault: _fault,
    ev.DeviceRecovered: _recovered,
    ev.Stopping: _stopping,
    ev.ServiceKey: _service_key,
}
