"""The service menu's screens: what the display shows on each. Pure, no I/O.

Every text is a catalogue key (`vendd/messages.py`) with its parameters, already formatted;
the catalogue's test renders each one at 16x2 and 20x4 with the longest values they take."""

from __future__ import annotations

import math

from vendd.menu.state import ITEMS, NO_PIN_ACTOR, MenuState, View

Page = tuple[str, dict[str, str]]


def status_pages(view: View) -> list[Page]:
    """The status screen's pages: what she can fix first (each slot fault, then each device
    fault), then the links; "all good" only when there is nothing to say."""
    v = view
    pages: list[Page] = [("svc_status_slot", {"slot": s.id, "fault_label": s.fault or "fault"})
                         for s in v.slots.values() if s.fault is not None]
    pages += [("svc_status_device", {"device_label": d}) for d in sorted(v.faults)]
    pages.append(("svc_status_link", {"network_label": f"net_{v.network}",
                                      "broker_label": f"feed_{v.broker}"}))
    if len(pages) == 1 and v.network != "down" and v.broker != "down":
        pages.insert(0, ("svc_status_ok", {}))
    return pages


def sales_pages(state: MenuState) -> list[Page]:
    """Her own sales today and this month, then her share of the month; with no PINs (no one
    signed in by name) the whole machine's sales."""
    s, money = state, state.settings.money
    mine = [row for row in s.view.sales if row.maker == s.actor]
    if s.actor == NO_PIN_ACTOR or not s.actor:
        today = sum(r.today for r in s.view.sales)
        month = sum(r.month for r in s.view.sales)
        return [("svc_sales_all", {"today": money(today), "month": money(month)})]
    row = mine[0] if mine else None
    today, month, share = (row.today, row.month, row.share) if row else (0, 0, 0)
    return [("svc_sales", {"today": money(today), "month": money(month)}),
            ("svc_share", {"share": money(share)})]


def screen_of(state: MenuState) -> tuple[str, dict[str, str]] | None:
    """What the display should show now (a catalogue key and its parameters)."""
    s, cfg = state, state.settings
    money = cfg.money
    hints = {"minus": cfg.minus, "plus": cfg.plus, "ok": cfg.ok}
    if s.note is not None:
        return s.note[0], dict(s.note[1]) | hints
    match s.screen:
        case "off":
            return None
        case "pin":
            return "svc_pin", {"entered": "*" * len(s.entered)}
        case "locked":
            return "svc_locked", {"minutes": str(math.ceil(s.locked_for / 60))}
        case "close":
            return "svc_close", {}
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
        case "fixed":
            slot = s.view.slots[s.slot]
            return "svc_fixed", {"slot": slot.id} | hints
        case "price":
            return "svc_price", {"slot": s.slot, "price": money(s.value)} | hints
        case "sales":
            pages = sales_pages(s)
            key, params = pages[min(s.page, len(pages) - 1)]
            return key, params | hints
        case "collect":
            return "svc_collect", {"counted": money(s.value)} | hints
        case "confirm":
            return "svc_confirm", {"counted": money(s.value),
                                   "expected": money(s.expected)} | hints
        case "status":
            pages = status_pages(s.view)
            key, params = pages[min(s.page, len(pages) - 1)]
            return key, params | hints
    return None
