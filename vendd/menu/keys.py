"""The service menu's moves: the key handling, one function per screen (a press moves the
menu's state and may submit an admin event, journal a fact of its own or say a short note),
and what the menu does with the machine's answer to what it submitted. Pure, no I/O."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from vendd import events as ev
from vendd.machine import Reply
from vendd.menu import pins
from vendd.menu.screens import sales_pages, status_pages
from vendd.menu.state import (
    CLOSE,
    COLLECT,
    CONFIRM,
    FIXED,
    ITEMS,
    LOCKED,
    MAIN,
    NO_PIN_ACTOR,
    PICK,
    PIN,
    PRICE,
    SALES,
    STATUS,
    STOCK,
    TESTING,
    Turn,
)

log = logging.getLogger("vendd.menu")

BIG_STEP = 100  # cents: one press of the big -/+ keys
DELIVERED = "delivered"  # the VendOutcome value of a turn that dropped its product


# --- signing in ---------------------------------------------------------------------------------


def start(m: Turn) -> None:
    """The first screen once the key is on (or again after she left with the key on)."""
    m.update(note=None, pending="", entered="", item=0, page=0, actor="")
    if m.s.locked:
        m.update(screen=LOCKED)
    elif m.cfg.pins:
        m.update(screen=PIN)
    else:
        m.update(screen=MAIN, actor=NO_PIN_ACTOR)


def _pin_key(m: Turn, key: str | None) -> None:
    """A selection button types its digit; the coin-return button is OK. Every entry that
    is not a PIN counts as a wrong try, however long it is."""
    if key is None:
        if m.s.entered:
            _pin_check(m)
        return
    if key not in m.cfg.keys:
        return
    digit = pins.digit_of_key(m.cfg.keys.index(key))
    if digit is None:
        return
    m.update(entered=m.s.entered + digit)
    if len(m.s.entered) >= pins.MAX_LEN:
        _pin_check(m)  # no PIN is longer: this entry is over


def _pin_check(m: Turn) -> None:
    maker = pins.who(m.cfg.pins, m.s.entered, len(m.cfg.keys))
    m.update(entered="")
    if maker is not None:
        log.info("service menu: %s signed in", maker)
        m.record("signed_in", by=maker)
        m.update(actor=maker, tries=0, lockouts=0, screen=MAIN, item=0)
        m.say("svc_hello", maker=m.cfg.name(maker), item_label=ITEMS[0])
        return
    tries = m.s.tries + 1
    log.warning("service menu: wrong PIN (%d of %d)", tries, m.cfg.pin_tries)
    m.record("pin_failed", tries=tries, of=m.cfg.pin_tries)
    m.update(tries=tries)
    if tries >= m.cfg.pin_tries:
        m.lock_out()
    else:
        m.say("svc_pin_wrong", left=str(m.cfg.pin_tries - tries))


def _locked_key(m: Turn, key: str | None) -> None:
    pass  # nothing until the lock-out ends


def _close_key(m: Turn, key: str | None) -> None:
    start(m)  # she came back before turning the key: begin again


# --- the main menu and the slot picker ----------------------------------------------------------


def back_to_main(m: Turn) -> None:
    """Back at the main menu, the cursor moves on to the next item, in the order of a visit
    (restock, prices, sales, cash, motors, status, leave)."""
    m.update(screen=MAIN, item=(m.s.item + 1) % len(ITEMS))


def _main_key(m: Turn, key: str | None) -> None:
    cfg = m.cfg
    if key is None:
        m.exit("exit")
    elif key == cfg.minus:
        m.update(item=(m.s.item - 1) % len(ITEMS))
    elif key == cfg.plus:
        m.update(item=(m.s.item + 1) % len(ITEMS))
    elif key == cfg.ok:
        item = ITEMS[m.s.item]
        if item in ("restock", "price", "test"):
            m.update(screen=PICK, action=item)
        elif item == "sales":
            m.update(screen=SALES, page=0)
        elif item == "collect":
            m.update(screen=COLLECT, expected=m.s.view.cash_box, value=0)
        elif item == "status":
            m.update(screen=STATUS, page=0)
        else:
            m.exit("exit")


def _pick_key(m: Turn, key: str | None) -> None:
    if key is None:
        back_to_main(m)
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


def _stock_key(m: Turn, key: str | None) -> None:
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


def _fixed_key(m: Turn, key: str | None) -> None:
    """After restocking a slot with a fault: is the fault fixed? OK yes, - or back no."""
    if key == m.cfg.ok:
        m.submit("clear", ev.ClearSlotFault(m.s.actor, m.s.slot))
    elif key is None or key == m.cfg.minus:
        m.update(screen=PICK)


def _step_of(m: Turn, key: str, small: int) -> int:
    cfg = m.cfg
    return {cfg.minus: -small, cfg.plus: small}.get(key) or {
        cfg.big_minus: -BIG_STEP, cfg.big_plus: BIG_STEP}.get(key, 0)


def _price_key(m: Turn, key: str | None) -> None:
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


def _testing_key(m: Turn, key: str | None) -> None:
    if key is None:
        m.update(screen=PICK)


# --- sales, cash, status --------------------------------------------------------------------


def _sales_key(m: Turn, key: str | None) -> None:
    pages = len(sales_pages(m.s))
    if key is None or key == m.cfg.ok:
        back_to_main(m)
    elif key == m.cfg.minus:
        m.update(page=(m.s.page - 1) % pages)
    elif key == m.cfg.plus:
        m.update(page=(m.s.page + 1) % pages)


def _collect_key(m: Turn, key: str | None) -> None:
    """The count starts blank: she types what she counted, then confirms it."""
    if key is None:
        back_to_main(m)
    elif key == m.cfg.ok:
        m.update(screen=CONFIRM)
    elif step := _step_of(m, key, m.cfg.cash_step):
        m.update(value=max(m.s.value + step, 0))


def _confirm_key(m: Turn, key: str | None) -> None:
    if key == m.cfg.ok:
        m.submit("collect", ev.CollectCash(m.s.actor, m.s.value))
    elif key is None:
        m.update(screen=COLLECT)  # count again


def _status_key(m: Turn, key: str | None) -> None:
    pages = status_pages(m.s.view)
    page = min(m.s.page, len(pages) - 1)
    if key is None:
        back_to_main(m)
    elif key == m.cfg.minus:
        m.update(page=(page - 1) % len(pages))
    elif key == m.cfg.plus:
        m.update(page=(page + 1) % len(pages))
    elif key == m.cfg.ok and pages[page][0] == "svc_status_slot":
        slot = pages[page][1]["slot"]
        m.update(slot=slot)
        m.submit("clear", ev.ClearSlotFault(m.s.actor, slot))


KeyHandler = Callable[[Turn, str | None], None]


def key_table(entries: Iterable[tuple[str, KeyHandler]]) -> dict[str, KeyHandler]:
    """The screen -> key handler table; a screen named twice is a programming error."""
    table: dict[str, KeyHandler] = {}
    for screen, handler in entries:
        if screen in table:
            raise ValueError(f"two key handlers for the {screen!r} screen")
        table[screen] = handler
    return table


KEYS = key_table([
    (PIN, _pin_key), (LOCKED, _locked_key), (CLOSE, _close_key), (MAIN, _main_key),
    (PICK, _pick_key), (STOCK, _stock_key), (FIXED, _fixed_key), (PRICE, _price_key),
    (TESTING, _testing_key), (SALES, _sales_key), (COLLECT, _collect_key),
    (CONFIRM, _confirm_key), (STATUS, _status_key)])


# --- the machine's answers ----------------------------------------------------------------------


def answered(m: Turn, reply: Reply) -> None:
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
        if slot.fault is not None:
            m.update(screen=FIXED)  # she is at the open slot: ask whether the fault is gone
            return
        m.update(screen=PICK)
        m.say("svc_stock_saved", slot=slot.id, target=str(s.value),
              capacity=str(slot.capacity))
    elif what == "price":
        m.update(screen=PICK)
        m.say("svc_price_saved", slot=s.slot, price=m.money(s.value))
    elif what == "collect":
        back_to_main(m)
        difference = s.value - s.expected
        key = ("svc_collected_exact" if difference == 0 else
               "svc_collected_short" if difference < 0 else "svc_collected_over")
        m.say(key, counted=m.money(s.value), amount=m.money(abs(difference)))
    elif what == "clear":
        if m.s.screen == FIXED:
            m.update(screen=PICK)
        m.update(page=0)
        m.say("svc_fault_cleared", slot=s.slot)
    elif what == "tested":
        m.say("svc_test_fixed", slot=s.slot)
    elif what == "test" and s.testing:
        m.update(screen=TESTING)


def test_done(m: Turn, slot: str, outcome: str) -> None:
    if m.s.testing != slot:
        return
    m.update(testing="")
    if m.s.screen == TESTING:
        m.update(screen=PICK)
    if not m.s.active:
        return
    faulted = m.s.view.slots.get(slot)
    if outcome == DELIVERED and faulted is not None and faulted.fault is not None:
        # The motor turned and the product fell: the fault she came to fix is gone.
        m.update(slot=slot)
        m.submit("tested", ev.ClearSlotFault(m.s.actor, slot))
    else:
        m.say("svc_test_done", slot=slot, outcome_label=outcome)
