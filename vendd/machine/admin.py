"""The vend state machine's handlers for changes made by people (a seamstress at the service
menu, a coordinator over MQTT): each is journaled with who made it and answered with a Reply."""

from __future__ import annotations

from vendd import events as ev
from vendd.machine.sales import start_vend
from vendd.machine.state import Mode, Slot
from vendd.machine.step import Handler, Out, Reply

# --- changes by people: each is journaled with who made it and answered with a Reply ----------


def who(event: ev.AdminEvent) -> dict[str, str]:
    """The journal fields that say who made a change: `by`, and for a coordinator's signed
    request also which coordinator and which request."""
    if event.request is None:
        return {"by": event.actor}
    return {"by": event.actor, "coordinator": event.request.coordinator,
            "request_id": event.request.request_id}


def close_request(out: Out, event: ev.AdminEvent) -> None:
    """Journal the answer to a signed request in the same step as the change it made (or
    did not make): the `request` row is what makes its counter and id used for good."""
    origin = event.request
    if origin is None:
        return
    reply = next((c for c in out.commands if isinstance(c, Reply)), Reply(True))
    out.fact("request", action=origin.action, coordinator=origin.coordinator,
             counter=origin.counter, request_id=origin.request_id, ok=reply.ok,
             **({} if reply.ok else {"error": reply.error}))


def _refuse(out: Out, error: str) -> None:
    out.do(Reply(False, error))


def _known_slot(out: Out, slot_id: str) -> Slot | None:
    slot = out.state.slots.get(slot_id)
    if slot is None:
        _refuse(out, f"unknown slot {slot_id!r}")
    return slot


def _set_price(out: Out, event: ev.SetPrice) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if not 0 < event.price <= out.state.settings.max_credit:
        _refuse(out, f"price {event.price} out of range 1..{out.state.settings.max_credit}")
        return
    out.fact("price_set", slot=slot.id, price=event.price, before=slot.price, **who(event))
    out.set_slot(slot.id, price=event.price)
    out.do(Reply(True))


def _set_stock(out: Out, event: ev.SetStock) -> None:
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
             reason=event.reason, **who(event))
    out.set_slot(slot.id, stock=event.stock)
    out.do(Reply(True))


def _set_enabled(out: Out, event: ev.SetSlotEnabled) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if slot.enabled != event.enabled:
        out.fact("slot_enabled", slot=slot.id, enabled=event.enabled, **who(event))
        out.set_slot(slot.id, enabled=event.enabled)
    out.do(Reply(True))


def _clear_fault(out: Out, event: ev.ClearSlotFault) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if slot.fault is not None:
        out.fact("slot_fault_cleared", slot=slot.id, fault=slot.fault, **who(event))
        out.set_slot(slot.id, fault=None)
    out.do(Reply(True))


def _out_of_service(out: Out, event: ev.SetOutOfService) -> None:
    if bool(out.state.out_of_service) != event.out_of_service:
        reason = (event.reason or "service") if event.out_of_service else None
        out.fact("service_mode", out_of_service=event.out_of_service, reason=reason or "",
                 **who(event))
        out.update(out_of_service=reason)
    out.do(Reply(True))


def _collect(out: Out, event: ev.CollectCash) -> None:
    if event.counted < 0:
        _refuse(out, "counted amount cannot be negative")
        return
    expected = out.state.cash_box
    out.fact("cash_collected", expected=expected, counted=event.counted,
             difference=event.counted - expected, **who(event))
    out.update(cash_box=0)
    out.do(Reply(True))


def _test_vend(out: Out, event: ev.TestVend) -> None:
    slot = _known_slot(out, event.slot)
    if slot is None:
        return
    if out.state.mode is not Mode.SERVICE or out.state.vend is not None:
        _refuse(out, "a test turn needs the service key and no vend under way")
        return
    start_vend(out, slot, "test", event.actor)
    out.do(Reply(True))


HANDLERS: dict[type, Handler] = {
    ev.SetPrice: _set_price,
    ev.SetStock: _set_stock,
    ev.SetSlotEnabled: _set_enabled,
    ev.ClearSlotFault: _clear_fault,
    ev.SetOutOfService: _out_of_service,
    ev.CollectCash: _collect,
    ev.TestVend: _test_vend,
}
