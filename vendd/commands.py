"""What the machine asks for. `Fact`s are journaled first, in one transaction; then the
controller runs the device commands in order. This ordering is how "the ledger is written
before a motor moves and before anything is published" holds by construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Command:
    """Base class of everything the machine returns."""


@dataclass(frozen=True)
class Fact(Command):
    """One journal row: `kind` plus JSON-able `fields`."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SetAccepting(Command):
    """Enable (True) or inhibit (False) every cash acceptor."""

    accepting: bool


@dataclass(frozen=True)
class StartVend(Command):
    vend_id: int
    slot: str


@dataclass(frozen=True)
class PayOut(Command):
    """Give `amount` back in coins (change or coin return) through the changer."""

    amount: int


@dataclass(frozen=True)
class EscrowDecision(Command):
    """Stack (True: the credit can be used) or return the bill in `device`'s escrow."""

    device: str
    stack: bool


@dataclass(frozen=True)
class Show(Command):
    """Put a catalogue message on the display. `params` are already formatted strings."""

    key: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StartTimer(Command):
    name: str
    seconds: float
    token: int


@dataclass(frozen=True)
class CancelTimer(Command):
    name: str


@dataclass(frozen=True)
class CardVendRequest(Command):
    price: int
    slot: str


@dataclass(frozen=True)
class CardVendResult(Command):
    """Tell the reader the vend succeeded (charge) or failed (no charge)."""

    slot: str
    success: bool


@dataclass(frozen=True)
class CardSessionComplete(Command):
    """End the card session (after a vend, a cancel or a timeout)."""
