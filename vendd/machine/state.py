"""The vend machine's data: its mode, slots, the vend under way and its settings. Pure values;
every change is made by a handler through `Out` (step.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DISPENSER = "dispenser"
BUTTONS = "buttons"  # with the buttons down a buyer could pay but neither choose nor cancel
CHANGER = "changer"  # the device name a changer driver reports its faults under


class Mode(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    CREDIT = "credit"
    VENDING = "vending"
    PAYING_OUT = "paying_out"
    OUT_OF_SERVICE = "out_of_service"
    SERVICE = "service"


@dataclass(frozen=True)
class Slot:
    id: str
    product: str
    maker: str
    price: int
    capacity: int
    stock: int
    enabled: bool = True
    fault: str | None = None
    count_me: bool = False  # a vend was cut short without a drop sensor: stock uncertain

    @property
    def sellable(self) -> bool:
        return self.enabled and self.fault is None and self.stock > 0


@dataclass(frozen=True)
class Vend:
    vend_id: int
    slot: str
    price: int
    payment: str  # cash | card | test
    actor: str = ""
    dropped: bool = False  # the drop sensor saw its product fall: sold, the motor still turns


@dataclass(frozen=True)
class Settings:
    max_credit: int = 2000
    message_s: float = 4.0
    unclaimed_credit_s: float = 300.0
    currency: str = "USD"
    decimals: int = 2
    has_changer: bool = False
    payment_devices: frozenset[str] = frozenset()


@dataclass(frozen=True)
class State:
    settings: Settings
    slots: dict[str, Slot]
    mode: Mode = Mode.STARTING
    credit: int = 0
    last_vend_id: int = 0
    vend: Vend | None = None
    faults: frozenset[str] = frozenset()
    out_of_service: str | None = None
    service_key: bool = False
    card_device: str | None = None  # a card session is open on this reader
    card_slot: str | None = None  # a card vend request is waiting for approval
    payout: int = 0  # credit being paid out right now
    accepting: bool = False
    screen: tuple[str, tuple[tuple[str, str], ...]] = ("", ())
    message_shown: bool = False  # a message is up until its timer runs out or the mode changes
    stopping: bool = False  # the daemon is shutting down: no more money in
    timer_token: int = 0
    cash_box: int = 0
    exact_change: bool = False  # the changer's tubes cannot make change for the cheapest product
