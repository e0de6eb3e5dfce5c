"""Every kind of journal fact: its fields with their types, and what it does to buyers' money.

One frozen dataclass per kind is the schema. `validate` checks a fact against it when it is
appended, so a wrong field is a one-line `LedgerError` naming the kind and the field instead of
a `KeyError` deep inside the projection. `money_effect` is the one place that says how a row
moves money; the projection, `verify`, the statements and the cash report all read it.

This module does no I/O and imports nothing of vendd but the error tree: the hub reads the same
kinds from its replica of the journal. A new kind is a new dataclass decorated with
`@fact_kind(...)`; its projection goes in `projection.py` (or it is declared record-only here)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, TypeVar, Union

from vendd.errors import LedgerError

Fields = Mapping[str, Any]
Payment = Literal["cash", "card", "test"]
Route = Literal["cashbox", "tubes", "stacker"]


class FactLike(Protocol):
    """A `Fact` about to be journaled, or a `JournalRow` read back: both have these two."""

    @property
    def kind(self) -> str: ...

    @property
    def fields(self) -> Fields: ...


class MoneyEffect(NamedTuple):
    """How one row moves buyers' cash, in cents. Every effect balances on its own:
    cash_in == cash_sale + paid_out + owed + unclaimed + credit + held, so the journal's sum
    proves `vendd verify`'s money invariant row by row. (A tuple: built on every append.)"""

    cash_in: int = 0  # coins and bills inserted
    to_cash_box: int = 0  # of cash_in, what fell into the cash box (not the changer's tubes)
    credit: int = 0  # change of the credit the buyer can spend
    held: int = 0  # change of the cash set aside while a vend is under way
    cash_sale: int = 0
    card_sale: int = 0  # charged by the card reader: never part of the cash above
    refunded: int = 0  # a failed cash vend's price, given back to the credit
    paid_out: int = 0  # change and refunds the changer actually paid
    owed: int = 0  # payouts that came out short: still owed to a buyer
    unclaimed: int = 0  # credit left on the machine and never asked back


NO_MONEY = MoneyEffect()
MoneyRule = Callable[[Fields], MoneyEffect]


@dataclass(frozen=True, slots=True)
class _FieldCheck:
    types: frozenset[type]
    values: frozenset[Any] | None  # a Literal's allowed values
    describe: str

    def accepts(self, value: Any) -> bool:
        # type() rather than isinstance: True is not an amount of cents.
        return type(value) in self.types and (self.values is None or value in self.values)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    schema: type
    fields: Mapping[str, _FieldCheck]
    required: frozenset[str]
    money: MoneyRule | None  # None: the kind moves no money
    record_only: bool  # True: journaled and published, changes no state table

    def money_effect(self, fields: Fields) -> MoneyEffect:
        return NO_MONEY if self.money is None else self.money(fields)


KINDS: dict[str, KindSpec] = {}
_Schema = TypeVar("_Schema", bound=type)


def fact_kind(kind: str, *, money: MoneyRule | None = None,
              record_only: bool = False) -> Callable[[_Schema], _Schema]:
    """Register a frozen dataclass as the schema of `kind` (a second one is an error)."""

    def register(cls: _Schema) -> _Schema:
        if kind in KINDS:
            raise ValueError(f"fact kind {kind!r} is defined twice")
        hints = typing.get_type_hints(cls)
        checks, required = {}, set()
        for f in dataclasses.fields(cls):
            checks[f.name] = _check_of(hints[f.name], f"{kind}.{f.name}")
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.add(f.name)
        cls.kind = kind  # type: ignore[attr-defined]
        KINDS[kind] = KindSpec(kind, cls, checks, frozenset(required), money, record_only)
        return cls

    return register


def _check_of(hint: Any, where: str) -> _FieldCheck:
    options = (typing.get_args(hint)
               if typing.get_origin(hint) in (Union, types.UnionType) else (hint,))
    kinds: set[type] = set()
    values: set[Any] | None = None
    names = []
    for option in options:
        if typing.get_origin(option) is Literal:
            allowed = typing.get_args(option)
            values = (values or set()) | set(allowed)
            kinds |= {type(v) for v in allowed}
            names.append(" or ".join(repr(v) for v in allowed))
        elif option is type(None):
            kinds.add(type(None))
            names.append("null")
        elif option in (int, str, bool, float):
            kinds.add(option)
            names.append({int: "an integer", str: "a string", bool: "true or false",
                          float: "a number"}[option])
        else:
            raise TypeError(f"{where}: unsupported field type {option!r}")
    return _FieldCheck(frozenset(kinds), frozenset(values) if values is not None else None,
                       " or ".join(names))


def validate(kind: str, fields: Fields) -> None:
    """Raise LedgerError unless `fields` match the schema of `kind` exactly."""
    spec = KINDS.get(kind)
    if spec is None:
        raise LedgerError(f"fact {kind!r}: unknown kind (no schema in vendd.ledger.kinds)")
    checks = spec.fields
    for name, value in fields.items():  # inlined `accepts`: this runs on every append
        check = checks.get(name)
        if (check is None or type(value) not in check.types
                or (check.values is not None and value not in check.values)):
            _refuse(kind, checks, name, value)
    if not spec.required <= fields.keys():
        missing = sorted(spec.required - fields.keys())
        raise LedgerError(f"fact {kind!r}: missing field {', '.join(map(repr, missing))}")


def _refuse(kind: str, checks: Mapping[str, _FieldCheck], name: str, value: Any) -> None:
    check = checks.get(name)
    if check is None:
        raise LedgerError(f"fact {kind!r}: unknown field {name!r} (known: {', '.join(checks)})")
    raise LedgerError(f"fact {kind!r}: field {name!r} must be {check.describe}, not {value!r}")


def parse(kind: str, fields: Fields) -> Any:
    """The row as its schema's typed value (validated first)."""
    validate(kind, fields)
    return KINDS[kind].schema(**fields)


def money_effect(row: FactLike) -> MoneyEffect:
    """How a fact or journal row moves buyers' money (NO_MONEY for most kinds)."""
    return effect_of(row.kind, row.fields)


def effect_of(kind: str, fields: Fields) -> MoneyEffect:
    spec = KINDS.get(kind)
    if spec is None or spec.money is None:
        return NO_MONEY
    return spec.money(fields)


def money_kinds() -> frozenset[str]:
    return frozenset(k for k, spec in KINDS.items() if spec.money is not None)


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


class FactSchema:
    kind: ClassVar[str]


# Catalogue and configuration.


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


# Money and vends.


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
    turns: int = 1


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


# Devices and the machine's life.


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


@fact_kind("service_key", record_only=True)
@dataclass(frozen=True)
class ServiceKey(FactSchema):
    on: bool


# The service menu's own facts: who signed in and out, wrong PINs and lock-outs (never a PIN).
# The menu reads the last three back at start-up, so a lock-out outlives a restart.
@fact_kind("signed_in", record_only=True)
@dataclass(frozen=True)
class SignedIn(FactSchema):
    by: str


@fact_kind("signed_out", record_only=True)
@dataclass(frozen=True)
class SignedOut(FactSchema):
    by: str
    reason: Literal["exit", "timeout", "key_off"]


@fact_kind("pin_failed", record_only=True)
@dataclass(frozen=True)
class PinFailed(FactSchema):
    tries: int  # wrong entries counted towards the next lock-out
    of: int  # the configured tries


@fact_kind("pin_locked", record_only=True)
@dataclass(frozen=True)
class PinLocked(FactSchema):
    seconds: int  # how long this lock-out lasts
    lockouts: int  # lock-outs in a row since the last sign-in


@fact_kind("service_mode")
@dataclass(frozen=True)
class ServiceMode(FactSchema):
    out_of_service: bool
    reason: str = ""
    by: str = ""
    coordinator: str = ""  # a coordinator's signed request: who signed it ...
    request_id: str = ""  # ... and which request (its `request` row closes it)


@fact_kind("request", record_only=True)
@dataclass(frozen=True)
class RequestClosed(FactSchema):
    """A coordinator's signed request that reached the machine, and its answer: its counter
    and id are used for good (see vendd/telemetry/memory.py)."""

    action: str
    coordinator: str
    counter: int
    request_id: str
    ok: bool
    error: str = ""


@fact_kind("started")
@dataclass(frozen=True)
class Started(FactSchema):
    version: str


@fact_kind("stopped", record_only=True)
@dataclass(frozen=True)
class Stopped(FactSchema):
    reason: str = ""


@fact_kind("note", record_only=True)
@dataclass(frozen=True)
class Note(FactSchema):
    text: str


@fact_kind("dex_reset", record_only=True)
@dataclass(frozen=True)
class DexReset(FactSchema):
    through: int
    file: str
    by: str = ""


@fact_kind("maker_paid", record_only=True)
@dataclass(frozen=True)
class MakerPaid(FactSchema):
    """Money handed to a maker for her share (`vendd pay`): not buyers' money, so no effect
    here; the statements by maker read it as `paid`."""

    maker: str
    amount: int
    by: str
    note: str = ""
