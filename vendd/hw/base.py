"""The small interfaces every device driver implements.

A driver gets a `post` callable in `start()`: the only way it talks to the machine is by
putting events on the controller's queue (from its own thread or a library callback). Commands
arrive as plain method calls from the controller thread and must never block it: anything that
takes time (a motor turn, a payout) runs on the driver's own thread and ends with an event.
`stop()` returns every output to its safe state (motors off, acceptors inhibited) and is
idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from vendd.events import Event

Post = Callable[[Event], None]


@runtime_checkable
class Device(Protocol):
    name: str

    def start(self, post: Post) -> None: ...

    def stop(self) -> None: ...


@runtime_checkable
class CashAcceptor(Device, Protocol):
    """Coin acceptor or bill validator: posts CreditInserted / CoinRejected / DeviceFault."""

    def set_accepting(self, accepting: bool) -> None: ...


@runtime_checkable
class BuffersMoney(Device, Protocol):
    """A payment device that keeps events the host has not read yet (ccTalk's 5-event buffer)
    and numbers them. Before `start()` the daemon hands it the last (serial number, counter)
    the ledger journaled for it (None: never), so the events newer than that are credited
    at start and none twice."""

    def resume(self, mark: tuple[int, int] | None) -> None: ...


@runtime_checkable
class Changer(Device, Protocol):
    """Pays coins out; posts PayoutFinished with what actually came out."""

    def can_pay(self, amount: int) -> bool: ...

    def pay_out(self, amount: int) -> None: ...


@runtime_checkable
class CardReader(Device, Protocol):
    """Cashless reader: posts CardSessionBegun / CardVendApproved / CardVendDenied /
    CardSessionEnded."""

    def set_enabled(self, enabled: bool) -> None: ...

    def request_vend(self, price: int, slot: str) -> None: ...

    def vend_result(self, slot: str, success: bool) -> None: ...

    def complete_session(self) -> None: ...


@runtime_checkable
class Dispenser(Device, Protocol):
    """Turns one motor; posts VendFinished. Never two motors at once; `stop()` powers all off."""

    def vend(self, vend_id: int, slot: str) -> None: ...


@runtime_checkable
class Display(Device, Protocol):
    def show(self, lines: list[str]) -> None: ...
