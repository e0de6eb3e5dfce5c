"""Every kind of journal fact: its fields with their types, and what it does to buyers' money.

One frozen dataclass per kind is the schema. `validate` checks a fact against it when it is
appended, so a wrong field is a one-line `LedgerError` naming the kind and the field instead of
a `KeyError` deep inside the projection. `money_effect` is the one place that says how a row
moves money; the projection, `verify`, the statements and the cash report all read it.

No I/O, nothing of vendd but the error tree (and `kindspec`, the machinery): the hub reads the
same kinds from its replica. A new kind is a dataclass decorated with `@fact_kind(...)`; its
projection goes in `projection.py` (or it is declared record-only here). The kinds of people
and of the daemon's own life (sign-ins, the service key, start and stop, checkpoints) are in
`kinds_life.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import vendd.ledger.kinds_life  # noqa: F401  (registers the kinds of people and the daemon's life)
from vendd.ledger.kindspec import (
    KINDS,
    NO_MONEY,
    FactLike,
    FactSchema,
    Fields,
    KindSpec,
    MoneyEffect,
    effect_of,
    fact_kind,
    money_effect,
    money_kinds,
    parse,
    validate,
)

__all__ = ["KINDS", "NO_MONEY", "FactLike", "FactSchema", "KindSpec", "MoneyEffect", "effect_of",
           "fact_kind", "money_effect", "money_kinds", "parse", "validate"]

Payment = Literal["cash", "card", "test"]
Route = Literal["cashbox", "tubes", "stacker"]


# --- the money rules ---------------------------------------------------------------------------


def _credit_money(f: Fields) -> MoneyEffect:
    amount = f["amount"]
    to_box = amount if f.get("route", "cashbox") != "tubes" else 0  # tube coins pay change
    return MoneyEffect(cash_in=amount, to_cash_box=to_box, credit=amount)


def _intent_money(f: Fields) -> MoneyEffect:
    # Cash is set aside from the credit while the motor turns; a card vend holds no cash.
    if f["payment"] != "cash":
        return NO_MONEY
    return MoneyEffect(credit=-f["price"], held=f["price"])


def _sale_money(f: Fields) -> MoneyEffect:
    if f["payment"] == "cash":
        return MoneyEffect(held=-f["price"], cash_sale=f["price"])
    return MoneyEffect(card_sale=f["price"]) if f["payment"] == "card" else NO_MONEY


def _failed_money(f: Fields) -> MoneyEffect:
    if f["payment"] != "cash":
        return NO_MONEY  # a card is never charged for a failed vend
    return MoneyEffect(held=-f["price"], credit=f["price"], refunded=f["price"])


def _payout_money(f: Fields) -> MoneyEffect:
    # The whole amount leaves the credit; what the changer could not pay is owed.
    owed = f.get("owed", 0)
    return MoneyEffect(credit=-f["amount"], paid_out=f["amount"] - owed, owed=owed)


def _unclaimed_money(f: Fields) -> MoneyEffect:
    return MoneyEffect(credit=-f["amount"], unclaimed=f["amount"])


# --- the schemas -------------------------------------------------------------------------------


@fact_kind("maker_added")
@dataclass(frozen=True)
class MakerAdded(FactSchema):
    maker: str
    name: str


@fact_kind("slot_configured")
@dataclass(frozen=True)
class SlotConfigured(FactSchema):
    slot: str
    product: str
    maker: str
    price: int
    capacity: int
    by: str = ""


@fact_kind("price_set")
@dataclass(frozen=True)
class PriceSet(FactSchema):
    slot: str
    price: int
    before: int
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("stock_set")
@dataclass(frozen=True)
class StockSet(FactSchema):
    slot: str
    before: int
    after: int
    reason: str = "restock"
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("slot_enabled")
@dataclass(frozen=True)
class SlotEnabled(FactSchema):
    slot: str
    enabled: bool
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("slot_fault")
@dataclass(frozen=True)
class SlotFault(FactSchema):
    slot: str
    fault: str


@fact_kind("slot_fault_cleared")
@dataclass(frozen=True)
class SlotFaultCleared(FactSchema):
    slot: str
    fault: str = ""
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("credit", money=_credit_money)
@dataclass(frozen=True)
class Credit(FactSchema):
    device: str
    amount: int
    label: str = ""
    route: Route = "cashbox"
    # A device that numbers its events (ccTalk): its serial number and the event's counter.
    # The last pair journaled is where the device's buffer is taken up after a restart.
    serial: int | None = None
    counter: int | None = None


@fact_kind("coin_counter", record_only=True)
@dataclass(frozen=True)
class CoinCounter(FactSchema):
    """A numbering device's counter where no credit carries it: a new baseline (first
    contact, another device, a reset) or events that gave no credit."""

    device: str
    serial: int
    counter: int
    reason: Literal["baseline", "other_device", "reset", "no_credit"]


@fact_kind("vend_intent", money=_intent_money)
@dataclass(frozen=True)
class VendIntent(FactSchema):
    vend: int
    slot: str
    price: int
    payment: Payment
    product: str = ""
    maker: str = ""


@fact_kind("sale", money=_sale_money)
@dataclass(frozen=True)
class Sale(FactSchema):
    vend: int
    slot: str
    product: str
    maker: str
    price: int
    payment: Payment
    turns: int = 1  # the turn in which it fell (at the drop) or the turns made
    # True: the drop sensor saw it fall while the motor turned (the vend stays open until
    # `vend_done`). False: no drop sensor, the finished turn was the evidence (vend closed).
    drop: bool = False


@fact_kind("vend_done")
@dataclass(frozen=True)
class VendDone(FactSchema):
    """The motor of a vend sold at its drop stopped: no money; not delivered faults the slot."""

    vend: int
    slot: str
    outcome: str
    turns: int = 1


@fact_kind("test_drop")
@dataclass(frozen=True)
class TestDrop(FactSchema):
    """A service test turn's product fell: one less in the spiral."""

    vend: int
    slot: str
    by: str = ""


@fact_kind("extra_drop")
@dataclass(frozen=True)
class ExtraDrop(FactSchema):
    """A product fell that no open vend accounts for: one less in the spiral."""

    vend: int
    slot: str


@fact_kind("count_needed")
@dataclass(frozen=True)
class CountNeeded(FactSchema):
    """A vend cut short with no drop sensor (credit given back): the next `stock_set`, reason
    "count", settles the slot's stock."""

    slot: str
    vend: int


@fact_kind("vend_failed", money=_failed_money)
@dataclass(frozen=True)
class VendFailed(FactSchema):
    vend: int
    slot: str
    outcome: str
    price: int
    payment: Payment


@fact_kind("test_vend")
@dataclass(frozen=True)
class VendTest(FactSchema):
    vend: int
    slot: str
    outcome: str
    turns: int = 1
    by: str = ""


@fact_kind("payout", money=_payout_money)
@dataclass(frozen=True)
class Payout(FactSchema):
    device: str
    amount: int
    paid: int
    owed: int = 0


@fact_kind("unclaimed", money=_unclaimed_money)
@dataclass(frozen=True)
class Unclaimed(FactSchema):
    amount: int


@fact_kind("card_approved", record_only=True)
@dataclass(frozen=True)
class CardApproved(FactSchema):
    device: str
    amount: int
    slot: str


@fact_kind("card_denied", record_only=True)
@dataclass(frozen=True)
class CardDenied(FactSchema):
    device: str
    slot: str = ""


@fact_kind("cash_collected")
@dataclass(frozen=True)
class CashCollected(FactSchema):
    expected: int
    counted: int
    difference: int
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("device_fault")
@dataclass(frozen=True)
class DeviceFault(FactSchema):
    device: str
    code: str
    detail: str = ""
    blocking: bool = True  # False: journaled, the machine keeps selling
    count: int | None = None  # how many (events lost, steps a counter went back)


@fact_kind("device_recovered")
@dataclass(frozen=True)
class DeviceRecovered(FactSchema):
    device: str
