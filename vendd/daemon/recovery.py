"""Start-up: what the journal says must be journaled before the machine opens. The config
file's changes since the last start, and the vend the daemon died in (the drop is the sale)."""

from __future__ import annotations

import logging

from vendd.commands import Fact
from vendd.config import Config
from vendd.ledger import Ledger
from vendd.ledger.ledger import OpenVend

log = logging.getLogger(__name__)


def resolve_open_vend(v: OpenVend, has_drop_sensor: bool) -> list[Fact]:
    """A vend the daemon died in. Its product fell (a journaled drop): a sale, the motor only
    stopped short. No drop journaled: the buyer's credit back. Without a drop sensor nothing
    tells whether it fell, so the buyer is favoured and the slot waits for a count."""
    where = f"vend {v.vend} on {v.slot}"
    if v.dropped and v.payment == "test":
        # A service test turn whose product fell (`test_drop` counted it): the turn ends.
        log.warning("test %s was interrupted after its product fell", where)
        return [
            Fact("test_vend", {"vend": v.vend, "slot": v.slot, "outcome": "interrupted",
                               "turns": 0}),
            Fact("device_fault", {"device": "dispenser", "code": "vend_interrupted",
                                  "detail": f"test {where}, after the drop", "blocking": False}),
        ]
    if v.dropped:
        log.warning("%s was interrupted after its product fell: a sale", where)
        return [
            Fact("vend_done", {"vend": v.vend, "slot": v.slot, "outcome": "interrupted",
                               "turns": 0}),
            Fact("device_fault", {"device": "dispenser", "code": "vend_interrupted",
                                  "detail": f"{where}, after the drop", "blocking": False}),
        ]
    log.warning("%s was interrupted before any drop: resolved in the buyer's favour", where)
    facts = [
        Fact("vend_failed", {"vend": v.vend, "slot": v.slot, "outcome": "interrupted",
                             "price": v.price, "payment": v.payment}),
        Fact("device_fault", {"device": "dispenser", "code": "vend_interrupted",
                              "detail": where, "blocking": False}),
    ]
    if not has_drop_sensor:
        facts.append(Fact("count_needed", {"slot": v.slot, "vend": v.vend}))
    return facts


def config_facts(config: Config, ledger: Ledger) -> list[Fact]:
    """Journal what the config file changed since the last start (new makers, new or
    re-stocked slots, products, capacities, prices written in the file)."""
    facts = []
    makers = ledger.makers()
    for maker in config.makers:
        if makers.get(maker.id) != maker.name:
            facts.append(Fact("maker_added", {"maker": maker.id, "name": maker.name}))
    known = {s.id: s for s in ledger.slots()}
    for slot in config.slots:
        old = known.get(slot.id)
        if old is None or (old.product, old.maker, old.capacity, old.config_price) != (
            slot.product, slot.maker, slot.capacity, slot.price
        ):
            facts.append(Fact("slot_configured", {
                "slot": slot.id, "product": slot.product, "maker": slot.maker,
                "price": slot.price, "capacity": slot.capacity, "by": "config",
            }))
            if old is not None and old.stock > slot.capacity:
                facts.append(Fact("stock_set", {"slot": slot.id, "before": old.stock,
                                                "after": slot.capacity, "reason": "config",
                                                "by": "config"}))
    return facts
