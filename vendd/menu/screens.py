"""The service menu's screens: what the display shows on each. Pure, no I/O."""

from __future__ import annotations

import math

from vendd.menu.state import ITEMS, MenuState, View


def status_pages(view: View) -> list[tuple[str, dict[str, str]]]:
    """The status screen's pages: the links, then each device and slot fault (or all well)."""
    v = view
    pages = [("svc_status_link", {"network_label": v.network, "broker_label": v.broker})]
    pages += [("svc_status_device", {"device": d}) for d in sorted(v.faults)]
    pages += [("svc_status_slot", {"slot": s.id, "fault_label": s.fault or "fault"})
              for s in v.slots.values() if s.fault is not None]
    if len(pages) == 1 and v.network != "down" and v.broker != "down":
        pages.append(("svc_status_ok", {}))
    return pages


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
            pages = status_pages(s.view)
            key, params = pages[min(s.page, len(pages) - 1)]
            return key, params | hints
    return None
