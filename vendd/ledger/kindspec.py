"""How a fact kind's schema is declared and checked (`vendd.ledger.kinds` declares them).

A schema is a frozen dataclass registered with `@fact_kind(...)`: its annotations become one
cheap check per field (exact type, a Literal's values), run by `validate` on every append.
No I/O, nothing of vendd but the error tree, like `kinds`: the hub reads the same kinds."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, TypeVar, Union

from vendd.errors import LedgerError

Fields = Mapping[str, Any]


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


@dataclass(frozen=True)
class KindSpec:
    kind: str
    schema: type
    fields: Mapping[str, _FieldCheck]
    required: frozenset[str]
    money: MoneyRule | None  # None: the kind moves no money
    record_only: bool  # True: journaled and published, changes no state table


class FactSchema:
    """The base of every kind's dataclass; `fact_kind` sets `kind`."""

    kind: ClassVar[str]


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
    for name, value in fields.items():  # kept tight: this runs on every append
        check = checks.get(name)  # type(), not isinstance: True is not an amount of cents
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
