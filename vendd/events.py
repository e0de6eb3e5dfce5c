"""What the world tells the machine. Device threads build these and put them on the queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class VendOutcome(StrEnum):
    DELIVERED = "delivered"
    NO_DROP = "no_drop"
    JAMMED = "jammed"
    STUCK_AT_HOME = "stuck_at_home"
    INTERRUPTED = "interrupted"  # the daemon stopped or died mid-vend


@dataclass(frozen=True)
class Event:
    """Base class; every event is a frozen value."""


@dataclass(frozen=True)
class Started(Event):
    """The controller finished start-up; the machine may open for sale."""


@dataclass(frozen=True)
class CreditInserted(Event):
    """Cash accepted by a device (coin or stacked bill): money in."""

    device: str
    amount: int
    label: str = ""
    route: str = "cashbox"  # cashbox | tubes | stacker
    # A device that buffers events (ccTalk) names the event: its serial number and counter.
    # The journaled pair is where the device's buffer is taken up again after a restart.
    serial: int | None = None
    counter: int | None = None


@dataclass(frozen=True)
class CoinCounter(Event):
    """A buffering acceptor's event counter, journaled where no credit carries it: a new
    baseline (first contact, another device, a reset) or events that gave no credit."""

    device: str
    serial: int
    counter: int
    reason: str  # baseline | other_device | reset | no_credit


@dataclass(frozen=True)
class CoinRejected(Event):
    """A coin the acceptor returned to the buyer: counted, never credited."""

    device: str
    reason: str


@dataclass(frozen=True)
class BillEscrowed(Event):
    """A bill waits in the validator's escrow: not credited until it is stacked. The machine
    answers with `EscrowDecision`."""

    device: str
    amount: int


@dataclass(frozen=True)
class ChangeAvailability(Event):
    """The changer's tubes can (or can no longer) make change for the cheapest product."""

    device: str
    can_make_change: bool


@dataclass(frozen=True)
class CardSessionBegun(Event):
    device: str
    funds: int  # what the reader reports as available; -1 when unknown


@dataclass(frozen=True)
class CardVendApproved(Event):
    device: str
    amount: int


@dataclass(frozen=True)
class CardVendDenied(Event):
    device: str


@dataclass(frozen=True)
class CardSessionEnded(Event):
    device: str


@dataclass(frozen=True)
class SelectionPressed(Event):
    slot: str


@dataclass(frozen=True)
class VendFinished(Event):
    vend_id: int
    slot: str
    outcome: VendOutcome
    turns: int = 1


@dataclass(frozen=True)
class PayoutFinished(Event):
    """A changer finished paying out: `paid` may be short of `requested` (jam, empty tube)."""

    device: str
    requested: int
    paid: int


@dataclass(frozen=True)
class CancelPressed(Event):
    """Coin-return button: the buyer wants the unspent credit back."""


@dataclass(frozen=True)
class TimerExpired(Event):
    """A timer the machine asked for ran out. `token` tells a stale timer from a live one."""

    name: str
    token: int


@dataclass(frozen=True)
class DeviceFault(Event):
    device: str
    code: str
    detail: str = ""
    blocking: bool = True  # False: journal it, keep selling (a fraud attempt, lost events)
    count: int | None = None  # how many (events lost, steps a counter went back)


@dataclass(frozen=True)
class DeviceRecovered(Event):
    device: str


@dataclass(frozen=True)
class ServiceKey(Event):
    on: bool


@dataclass(frozen=True)
class Stopping(Event):
    """The daemon is shutting down: take no more money, finish what is under way."""


# --- changes made by a seamstress (service menu) or a coordinator (MQTT request) ---------------


@dataclass(frozen=True)
class RequestOrigin:
    """Where a coordinator's signed MQTT request came from: journaled with the change it made,
    and with the `request` row that closes it (the memory of counters and request ids)."""

    action: str
    coordinator: str
    counter: int
    request_id: str


@dataclass(frozen=True)
class AdminEvent(Event):
    """A change asked for by a person; `actor` is who (maker id, `coordinator`, `config`).
    `request`: set when the change comes from a coordinator's signed request."""

    actor: str
    request: RequestOrigin | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class SetPrice(AdminEvent):
    slot: str
    price: int


@dataclass(frozen=True)
class SetStock(AdminEvent):
    slot: str
    stock: int
    reason: str = "restock"  # restock (products loaded) | adjust (count corrected)


@dataclass(frozen=True)
class SetSlotEnabled(AdminEvent):
    slot: str
    enabled: bool


@dataclass(frozen=True)
class ClearSlotFault(AdminEvent):
    slot: str


@dataclass(frozen=True)
class SetOutOfService(AdminEvent):
    out_of_service: bool
    reason: str = ""


@dataclass(frozen=True)
class CollectCash(AdminEvent):
    counted: int


@dataclass(frozen=True)
class TestVend(AdminEvent):
    slot: str
